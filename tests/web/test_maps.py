"""Maps: every label escaped (HTML and JS template literals), CSP nonces, vendored assets, tiles
(SECURITY rows 21, 28, 29, 30, 31)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import folium
import markupsafe
import pytest
from markupsafe import Markup

from outreach import maps
from outreach.extensions import db
from outreach.models import Office, Role
from tests.factories import (
    form_login,
    login,
    make_hotspot,
    make_office,
    make_plan,
    make_solved_plan,
    make_user,
)
from tests.field.conftest import make_crew, publish, today_wib

HOSTILE = "<img src=x onerror=alert(1)> ${globalThis.pwn=1} ` </script><b>\\1"


class PageParser(HTMLParser):
    """Collect script tags (attributes and inline bodies), links and images."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.links: list[dict] = []
        self.images: list[dict] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = {"attrs": attrs, "body": ""}
            self.scripts.append(self._in_script)
        elif tag == "link":
            self.links.append(attrs)
        elif tag == "img":
            self.images.append(attrs)

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script["body"] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def template_literals(js: str) -> list[str]:
    """Return the bodies of JavaScript template literals (backtick strings) in ``js``."""
    return re.findall(r"`((?:[^`\\]|\\.)*)`", js, re.S)


@pytest.fixture
def coordinator_client(client, coordinator):
    form_login(client, coordinator)
    return client


# --- the escaping helper ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [HOSTILE, "`", "${alert(1)}", "</script>", "\\`", "a & b \"c\" 'd'", "$", "\\u0060"],
)
def test_map_text_neutralises_html_and_template_literal_syntax(payload):
    """map_text leaves no <, >, quotes, backtick, $ or backslash: nothing HTML or JS can act on
    (SECURITY row 28)."""
    out = maps.map_text(payload)
    for char in "<>\"'`$\\":
        assert char not in out


def test_map_text_round_trips_through_html():
    """The escaped text shows the original characters once a browser decodes the entities
    (SECURITY row 28)."""
    import html

    assert html.unescape(maps.map_text(HOSTILE)) == HOSTILE
    assert maps.map_text(None) == ""
    assert maps.map_text(42) == "42"


@pytest.mark.parametrize(
    "value",
    ["", "SMA Negeri 1 Medan (demo)", "57", 57, 4.5, "Pasar Baru, Medan Kota", "Ünïcode ✓",
     HOSTILE, "a&b", "<", ">", '"', "'", "\\", "`", "$", "{", "}", "{{ 7*7 }}",
     Markup("<b>bold</b>")],
)  # fmt: skip
def test_map_text_without_special_characters_is_returned_as_is(value):
    """The shortcut for text with nothing to replace gives exactly what escaping it in full
    gives (markupsafe's five characters, then the template-literal ones), Markup included."""
    expected = str(markupsafe.escape(str(value)))
    for char, ref in {
        "\\": "&#92;",
        "`": "&#96;",
        "$": "&#36;",
        "{": "&#123;",
        "}": "&#125;",
    }.items():
        expected = expected.replace(char, ref)
    assert maps.map_text(value) == expected


def test_popup_html_escapes_every_part():
    """Title, labels and values of a popup are escaped; the result is Markup (SECURITY row 28)."""
    out = maps.popup_html(HOSTILE, [(HOSTILE, HOSTILE)])
    assert isinstance(out, Markup)
    assert "<img" not in out and "`" not in out and "${" not in out


def test_markup_popup_with_template_syntax_is_refused(app):
    """A hand-made Markup popup that could break a template literal raises (SECURITY row 28)."""
    m = maps.base_map()
    with pytest.raises(maps.UnsafeMapContent):
        maps.add_marker(m, 3.58, 98.67, tooltip="x", popup=Markup("<b>`${x}`</b>"))


# --- hostile names rendered on the dashboard -------------------------------------------------


JINJA_NAME = "SMA {{ 'JINJA' ~ 'RAN' }} {% if true %}IFRAN{% endif %}"


def test_jinja_in_a_hotspot_name_does_not_run_on_the_server(coordinator_client, coordinator):
    """Braces in a name stay text: branca re-renders map macros as Jinja templates
    (SECURITY row 28)."""
    office = db.session.get(Office, coordinator.office_id)  # the dashboard's office
    make_hotspot(office, name=JINJA_NAME, kelurahan_name="{{ 7 * 7 }}")
    db.session.commit()
    resp = coordinator_client.get("/coord/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "JINJARAN" not in html
    # IFRAN shows only as part of the escaped name, right after the escaped "%}".
    for m in re.finditer("IFRAN", html):
        assert html[m.start() - 5 : m.start()] == "#125;"
    assert "49" not in re.findall(r"Kel[^<]{0,40}", html)


def test_map_text_turns_braces_into_character_references():
    """map_text leaves no brace that Jinja could read as a tag (SECURITY row 28)."""
    out = maps.map_text("{{ x }} {% y %}")
    assert "{" not in out and "}" not in out
    assert out.count("&#123;") == 3


def test_hostile_hotspot_name_is_inert_on_the_dashboard_map(coordinator_client, coordinator):
    """A hotspot named like an XSS payload appears only escaped in the dashboard's HTML
    (SECURITY row 28)."""
    office = db.session.get(Office, coordinator.office_id)  # the dashboard's office
    make_hotspot(office, name=HOSTILE, kelurahan_name="Kel `x` ${y}")
    db.session.commit()
    html = coordinator_client.get("/coord/").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "${globalThis" not in html
    page = parse(html)
    inline = [s["body"] for s in page.scripts if "src" not in s["attrs"]]
    assert inline, "the map script is inline"
    for body in inline:
        assert "</script" not in body.lower()
        assert "<img" not in body
        for literal in template_literals(body):
            assert "${" not in literal
    # The escaped name is there (as JSON inside the marker data): the pin is labelled.
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html


def test_hostile_text_in_folium_template_literals_is_inert(app):
    """Popup and tooltip made by add_marker (Folium's template literals) carry no live syntax
    (SECURITY row 28)."""
    with app.test_request_context("/"):
        m = maps.base_map(tiles_enabled=False)
        maps.add_marker(m, 3.58, 98.67, tooltip=HOSTILE, popup=HOSTILE)
        maps.add_marker(
            m, 3.59, 98.68, tooltip="t", popup=maps.popup_html(HOSTILE, [("k", HOSTILE)])
        )
        html = str(maps.render_map(m))
    literals = [lit for s in parse(html).scripts for lit in template_literals(s["body"])]
    assert len(literals) >= 4, "two tooltips and two popups use template literals"
    for literal in literals:
        assert "${" not in literal
        assert "<img" not in literal
        assert "</script" not in literal.lower()
        assert "\\" not in literal  # no escape sequences that could end the literal


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_template_literals_evaluate_to_plain_text_in_node(app):
    """Evaluating the map's template literals in Node sets no global and yields the escaped text
    (SECURITY row 28)."""
    with app.test_request_context("/"):
        m = maps.base_map(tiles_enabled=False)
        maps.add_marker(m, 3.58, 98.67, tooltip=HOSTILE, popup=HOSTILE)
        html = str(maps.render_map(m))
    literals = [lit for s in parse(html).scripts for lit in template_literals(s["body"])]
    program = (
        "globalThis.pwn = undefined;\nconst out = ["
        + ",".join(f"`{lit}`" for lit in literals)
        + "];\nconsole.log(JSON.stringify({pwn: globalThis.pwn === undefined ? null : 1, out}));"
    )
    result = subprocess.run(
        ["node", "-e", program], capture_output=True, text=True, timeout=30, check=True
    )
    data = json.loads(result.stdout)
    assert data["pwn"] is None
    assert any("&lt;img src=x onerror=alert(1)&gt;" in text for text in data["out"])


def test_hostile_legend_and_layer_names_are_escaped(app):
    """Legend labels and cluster layer names (shown as HTML by Leaflet) are escaped
    (SECURITY row 28)."""
    with app.test_request_context("/"):
        m = maps.base_map()
        maps.add_legend(m, HOSTILE, [("#123456", HOSTILE)])
        layer = maps.cluster(m, HOSTILE)
        maps.add_markers(layer, [maps.MapMarker(3.58, 98.67, tooltip=HOSTILE, label=HOSTILE)])
        html = str(maps.render_map(m))
    assert "<img" not in html and "${globalThis" not in html and "<b>" not in html
    with pytest.raises(ValueError):
        maps.add_legend(m, "t", [("red;background:url(x)", "bad colour")])


# --- CSP and assets --------------------------------------------------------------------------


def _csp_nonce(resp) -> str:
    match = re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"])
    assert match, "CSP has a nonce"
    return match.group(1)


@pytest.fixture
def map_world(app):
    """An office with everything that draws a map: a site (dashboard, pin map), a solved plan
    (review map), a published route today (field route map) and the public map."""
    office = make_office(slug="kota-peta")
    hotspot = make_hotspot(office, name="SMA Peta 1")
    plan = make_solved_plan(4, teams=1, days=1, office=office)
    today = today_wib()
    field_plan = make_plan(
        office, start_date=today - timedelta(days=1), end_date=today + timedelta(days=3)
    )
    crew = make_crew(office, field_plan)
    publish(field_plan)
    coordinator = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    return SimpleNamespace(
        office=office, hotspot=hotspot, plan=plan, field_user=crew.user, coordinator=coordinator
    )


# Every page that draws a map: (who looks, path). The public stop page only links to the public
# map ("See on a map") and draws none itself.
MAP_PAGES = {
    "public-map": (None, lambda w: f"/o/{w.office.slug}/map"),
    "field-route": ("field_user", lambda w: "/field/"),
    "dashboard": ("coordinator", lambda w: "/coord/"),
    "plan-review": ("coordinator", lambda w: f"/coord/plans/{w.plan.id}"),
    "hotspot-pin-map-new": ("coordinator", lambda w: "/coord/hotspots/new"),
    "hotspot-pin-map-move": ("coordinator", lambda w: f"/coord/hotspots/{w.hotspot.id}/location"),
}


def get_map_page(client, world, page: str):
    """GET one of MAP_PAGES as its viewer; the response must be a page with a map on it."""
    who, path = MAP_PAGES[page]
    if who is not None:
        login(client, getattr(world, who))
    resp = client.get(path(world))
    assert resp.status_code == 200, (page, resp.status_code)
    assert 'class="jb-map' in resp.get_data(as_text=True), f"{page} draws no map"
    return resp


def executable_scripts(html: str) -> list[dict]:
    """The page's <script> elements a browser runs. A ``type="application/json"`` element is a
    data block (read by our scripts with JSON.parse, never executed), so CSP does not apply to
    it; any other type must carry the nonce."""
    scripts = parse(html).scripts
    data = [s for s in scripts if s["attrs"].get("type") == "application/json"]
    for block in data:
        assert "src" not in block["attrs"]
        json.loads(block["body"])  # really data
    return [s for s in scripts if s not in data]


@pytest.mark.parametrize("page", list(MAP_PAGES))
def test_every_script_on_map_pages_carries_the_responses_nonce(client, map_world, page):
    """On every page with a map, every <script> (inline and vendored) has nonce= equal to the
    CSP header's nonce, and two requests get two different nonces (SECURITY row 29)."""
    resp = get_map_page(client, map_world, page)
    nonce = _csp_nonce(resp)
    scripts = executable_scripts(resp.get_data(as_text=True))
    assert len(scripts) >= 2
    for script in scripts:
        assert script["attrs"].get("nonce") == nonce, script["attrs"]
    assert " onclick=" not in resp.get_data(as_text=True)  # no inline handlers CSP would block
    second = get_map_page(client, map_world, page)
    assert _csp_nonce(second) != nonce
    assert all(
        s["attrs"].get("nonce") == _csp_nonce(second) for s in executable_scripts(second.text)
    )


def _allowed_hosts(resp) -> set[str]:
    """Hosts of absolute sources the CSP allows besides our own origin (e.g. the tile server)."""
    csp = resp.headers["Content-Security-Policy"]
    return {urlsplit(src).netloc for src in re.findall(r"https?://[^\s;]+", csp)}


@pytest.mark.parametrize("page", list(MAP_PAGES))
def test_all_map_page_assets_come_from_our_origin(client, map_world, page):
    """Every <script src>, <link href> and <img src> on a map page is on our origin (scripts and
    stylesheets vendored under /static/ and served), nothing from a CDN (SECURITY rows 29, 30)."""
    resp = get_map_page(client, map_world, page)
    page_html = parse(resp.get_data(as_text=True))
    assets = [s["attrs"]["src"] for s in page_html.scripts if "src" in s["attrs"]]
    assets += [link["href"] for link in page_html.links if link.get("rel") == "stylesheet"]
    assert any("leaflet.js" in u for u in assets), "Leaflet comes from our static folder"
    for url in assets:
        parts = urlsplit(url)
        assert parts.netloc in ("", "localhost") and parts.scheme in ("", "http"), url
        assert parts.path.startswith("/static/"), url
        served = client.get(url)
        served.close()  # static files are streamed from an open file
        assert served.status_code == 200, url
    others = [link.get("href", "") for link in page_html.links]
    others += [img.get("src", "") for img in page_html.images]
    allowed = {"", "localhost"} | _allowed_hosts(resp)
    for url in others:
        if not url.startswith("data:"):
            assert urlsplit(url).netloc in allowed, url


def test_render_map_refuses_a_cdn_asset(app):
    """An element that still points at a CDN makes render_map raise instead of loading it
    (SECURITY row 30)."""
    from folium.plugins import Fullscreen

    with app.test_request_context("/"):
        m = maps.base_map()
        Fullscreen().add_to(m)
        with pytest.raises(maps.UnsafeMapContent):
            maps.render_map(m)


def test_vendored_assets_are_documented():
    """static/vendor/README.md names every vendored file the map uses (SECURITY row 30)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "static" / "vendor" / "README.md").read_text()
    for _name, path in (*maps.LEAFLET_JS, *maps.LEAFLET_CSS, *maps.CLUSTER_JS, *maps.CLUSTER_CSS):
        assert (root / "static" / path).is_file(), path
        assert path.removeprefix("vendor/") in readme


# --- tiles -----------------------------------------------------------------------------------


def test_tile_layer_uses_configured_url_and_referrer_policy(app):
    """The tile URL comes from MAP_TILE_URL and the layer sends strict-origin-when-cross-origin
    (SECURITY row 31)."""
    app.config["MAP_TILE_URL"] = "https://tiles.example.test/{z}/{x}/{y}.png"
    with app.test_request_context("/"):
        html = str(maps.render_map(maps.base_map()))
    assert '"https://tiles.example.test/{z}/{x}/{y}.png"' in html
    assert '"referrerPolicy": "strict-origin-when-cross-origin"' in html


def test_tiles_disabled_gives_a_plain_background(coordinator_client, coordinator, app):
    """MAP_TILES_ENABLED=False draws no tile layer; the map box gets the plain class
    (SECURITY row 31)."""
    app.config["MAP_TILES_ENABLED"] = False
    make_hotspot(db.session.get(Office, coordinator.office_id))
    db.session.commit()
    html = coordinator_client.get("/coord/").get_data(as_text=True)
    assert "L.tileLayer" not in html
    assert "jb-map--plain" in html


def test_referrer_policy_header_lets_tiles_load(client):
    """The page's Referrer-Policy is not no-referrer: OSM tiles need a Referer
    (SECURITY row 31)."""
    assert client.get("/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


# --- map content -----------------------------------------------------------------------------


def test_hotspot_popup_shows_kind_kelurahan_and_remaining(app):
    """A pin's popup lists kind, kelurahan and remaining of requested per service."""
    office = make_office()
    hs = make_hotspot(office, name="SMA Negeri 7 Medan", demand={"ktp_record": 120, "kia": 4})
    hs.demands[0].remaining = 100
    db.session.flush()
    with app.test_request_context("/?lang=en"):
        html = str(maps.render_map(maps.hotspot_map([hs], office)))
    assert "SMA Negeri 7 Medan" in html
    assert "School" in html and "Pasar Baru (12.71.01.1001)" in html
    assert "100 of 120 remaining" in html or "4 of 4 remaining" in html
    assert "Dukcapil office" in html  # the office pin's legend entry


@pytest.mark.parametrize(
    ("query", "expected"),
    [("/", "sisa 1.250 dari 4.000"), ("/?lang=en", "1,250 of 4,000 remaining")],
)
def test_hotspot_popup_counts_follow_the_readers_locale(app, query, expected):
    """Issue 10: 4.000 in Indonesian, 4,000 in English, in the pins' popups too."""
    office = make_office()
    hs = make_hotspot(office, name="Lapas Kelas I Medan", demand={"ktp_record": 4000})
    hs.demands[0].remaining = 1250
    db.session.flush()
    with app.test_request_context(query):
        html = str(maps.render_map(maps.hotspot_map([hs], office)))
    assert expected in html


def test_many_hotspots_are_clustered_few_are_not(app):
    """Above the threshold pins go into a marker cluster; below it straight onto the map."""
    office = make_office()
    spots = [make_hotspot(office) for _ in range(5)]
    with app.test_request_context("/"):
        few = str(maps.render_map(maps.hotspot_map(spots, office, cluster_above=10)))
        many = str(maps.render_map(maps.hotspot_map(spots, office, cluster_above=3)))
    assert "markerClusterGroup" not in few
    assert "markerClusterGroup" in many


def test_sites_without_coordinates_are_left_off(app):
    """A site that still needs a pin does not reach the map (and does not break it)."""
    office = make_office()
    pinned = make_hotspot(office, name="Punya Titik")
    unpinned = make_hotspot(office, name="Tanpa Titik", lat=None, lon=None)
    with app.test_request_context("/"):
        html = str(maps.render_map(maps.hotspot_map([pinned, unpinned], office)))
    assert "Punya Titik" in html and "Tanpa Titik" not in html


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 91.0])
def test_non_finite_or_out_of_range_coordinates_are_rejected(app, bad):
    """Folium accepts inf; our helpers raise ValueError instead (SECURITY row 21)."""
    m = maps.base_map()
    with pytest.raises(ValueError):
        maps.add_marker(m, bad, 98.6, tooltip="x")
    with pytest.raises(ValueError):
        maps.add_markers(m, [maps.MapMarker(bad, 98.6, tooltip="x")])


def test_render_map_twice_gives_the_same_map(app):
    """Rendering again (e.g. another response) repeats nothing; only the nonce differs."""
    with app.test_request_context("/"):
        m = maps.base_map()
        maps.add_marker(m, 3.58, 98.67, tooltip="x")
        first = str(maps.render_map(m, nonce="a" * 22))
        second = str(maps.render_map(m, nonce="b" * 22))
    assert first.replace("a" * 22, "b" * 22) == second
    assert first.count("setIcon") == 1


def test_render_map_rejects_a_bad_height(app):
    """The height goes into a style attribute, so only plain CSS lengths are accepted."""
    with app.test_request_context("/"):
        with pytest.raises(ValueError):
            maps.render_map(maps.base_map(), height="1px;background:url(x)")


def test_numbered_stop_pins_show_their_number(app):
    """A numbered pin (plan stops) shows its label inside the pin."""
    with app.test_request_context("/"):
        m = maps.base_map()
        group = folium.FeatureGroup(name=maps.map_text("Tim 1 · Senin")).add_to(m)
        maps.add_markers(group, [maps.MapMarker(3.58, 98.67, tooltip="Stop", label=7)])
        html = str(maps.render_map(m))
    assert "jb-pin--dot" in html and "\\u003e7\\u003c/span" in html


def test_tile_url_and_attribution_from_config_reach_every_kind_of_map(app_config, request):
    """MAP_TILE_URL and MAP_TILE_ATTRIBUTION go into the Folium map JS (with the referrer
    policy) and into the pin map's data attributes; the CSP allows that tile host
    (SECURITY row 31)."""
    app_config["MAP_TILE_URL"] = "https://tiles.example.go.id/{z}/{x}/{y}.png"
    app_config["MAP_TILE_ATTRIBUTION"] = "Peta ZZATTRZZ Diskominfo Medan"
    world = request.getfixturevalue("map_world")
    client = request.getfixturevalue("client")
    dashboard = get_map_page(client, world, "dashboard")
    html = dashboard.get_data(as_text=True)
    assert '"https://tiles.example.go.id/{z}/{x}/{y}.png"' in html
    assert '"attribution": "Peta ZZATTRZZ Diskominfo Medan"' in html
    assert '"referrerPolicy": "strict-origin-when-cross-origin"' in html
    assert "https://tiles.example.go.id" in dashboard.headers["Content-Security-Policy"]
    pin_page = get_map_page(client, world, "hotspot-pin-map-move").get_data(as_text=True)
    assert 'data-tile-url="https://tiles.example.go.id/{z}/{x}/{y}.png"' in pin_page
    assert 'data-attribution="Peta ZZATTRZZ Diskominfo Medan"' in pin_page


def test_pin_map_gets_no_tile_url_when_tiles_are_off(app_config, request):
    """MAP_TILES_ENABLED=False: the pin map is told no tile URL, so it loads no tiles
    (SECURITY row 31)."""
    app_config["MAP_TILES_ENABLED"] = False
    world = request.getfixturevalue("map_world")
    client = request.getfixturevalue("client")
    pin_page = get_map_page(client, world, "hotspot-pin-map-new").get_data(as_text=True)
    assert 'data-tile-url=""' in pin_page
    assert "tile.openstreetmap.org" not in pin_page


def test_render_map_cached_builds_each_distinct_map_once(app):
    """A map fully described by its key is built and rendered once per app; later responses
    get the same map with their own nonce. Another key (the data changed) or another language
    builds it again."""
    built = []

    def build():
        built.append(1)
        m = maps.base_map()
        maps.add_markers(m, [maps.MapMarker(3.58, 98.67, tooltip=HOSTILE)])
        return m

    with app.test_request_context("/"):
        plain = str(maps.render_map(build(), nonce="c" * 22))
        first = str(maps.render_map_cached(("k", 1), build, nonce="a" * 22))
        again = str(maps.render_map_cached(("k", 1), build, nonce="b" * 22))
        assert len(built) == 2
        maps.render_map_cached(("k", 2), build, nonce="b" * 22)
        assert len(built) == 3
    with app.test_request_context("/?lang=en"):
        from flask_babel import refresh

        refresh()  # the fixture's app context (and its cached locale) outlives the request
        maps.render_map_cached(("k", 1), build, nonce="b" * 22)
        assert len(built) == 4
    assert first.replace("a" * 22, "b" * 22) == again
    # the same fragment render_map gives (element ids are random per build)
    ids = re.compile(r"[0-9a-f]{32}")
    assert ids.sub("ID", first.replace("a" * 22, "c" * 22)) == ids.sub("ID", plain)
    assert HOSTILE not in first  # escaped like any map text
