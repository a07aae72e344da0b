"""Maps: every label escaped (HTML and JS template literals), CSP nonces, vendored assets, tiles."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import urlsplit

import folium
import pytest
from markupsafe import Markup

from outreach import maps
from outreach.extensions import db
from tests.factories import form_login, make_hotspot, make_office

HOSTILE = "<img src=x onerror=alert(1)> ${globalThis.pwn=1} ` </script><b>\\1"


class PageParser(HTMLParser):
    """Collect script tags (attributes and inline bodies) and stylesheet links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.links: list[dict] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = {"attrs": attrs, "body": ""}
            self.scripts.append(self._in_script)
        elif tag == "link":
            self.links.append(attrs)

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
    """map_text leaves no <, >, quotes, backtick, $ or backslash: nothing HTML or JS can act on."""
    out = maps.map_text(payload)
    for char in "<>\"'`$\\":
        assert char not in out


def test_map_text_round_trips_through_html():
    """The escaped text shows the original characters once a browser decodes the entities."""
    import html

    assert html.unescape(maps.map_text(HOSTILE)) == HOSTILE
    assert maps.map_text(None) == ""
    assert maps.map_text(42) == "42"


def test_popup_html_escapes_every_part():
    """Title, labels and values of a popup are escaped; the result is Markup."""
    out = maps.popup_html(HOSTILE, [(HOSTILE, HOSTILE)])
    assert isinstance(out, Markup)
    assert "<img" not in out and "`" not in out and "${" not in out


def test_markup_popup_with_template_syntax_is_refused(app):
    """A hand-made Markup popup that could break a template literal raises."""
    m = maps.base_map()
    with pytest.raises(maps.UnsafeMapContent):
        maps.add_marker(m, 3.58, 98.67, tooltip="x", popup=Markup("<b>`${x}`</b>"))


# --- hostile names rendered on the dashboard -------------------------------------------------


JINJA_NAME = "SMA {{ 'JINJA' ~ 'RAN' }} {% if true %}IFRAN{% endif %}"


def test_jinja_in_a_hotspot_name_does_not_run_on_the_server(coordinator_client, app):
    """Braces in a name stay text: branca re-renders map macros as Jinja templates."""
    office = make_office()
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
    """map_text leaves no brace that Jinja could read as a tag."""
    out = maps.map_text("{{ x }} {% y %}")
    assert "{" not in out and "}" not in out
    assert out.count("&#123;") == 3


def test_hostile_hotspot_name_is_inert_on_the_dashboard_map(coordinator_client, app):
    """A hotspot named like an XSS payload appears only escaped in the dashboard's HTML."""
    office = make_office()
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
    """Popup and tooltip made by add_marker (Folium's template literals) carry no live syntax."""
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
    """Evaluating the map's template literals in Node sets no global and yields the escaped text."""
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
    """Legend labels and cluster layer names (shown as HTML by Leaflet) are escaped."""
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


def test_every_script_on_the_dashboard_carries_the_responses_nonce(coordinator_client, app):
    """Every <script> (inline and vendored) has nonce= equal to the CSP header's nonce."""
    office = make_office()
    make_hotspot(office)
    db.session.commit()
    resp = coordinator_client.get("/coord/")
    nonce = _csp_nonce(resp)
    scripts = parse(resp.get_data(as_text=True)).scripts
    assert len(scripts) >= 3
    for script in scripts:
        assert script["attrs"].get("nonce") == nonce
    second = coordinator_client.get("/coord/")
    assert _csp_nonce(second) != nonce


def test_all_map_assets_come_from_our_static_folder(coordinator_client, app):
    """No script or stylesheet from a foreign host; each vendored asset is served."""
    office = make_office()
    make_hotspot(office)
    db.session.commit()
    page = parse(coordinator_client.get("/coord/").get_data(as_text=True))
    urls = [s["attrs"]["src"] for s in page.scripts if "src" in s["attrs"]]
    urls += [link["href"] for link in page.links if link.get("rel") == "stylesheet"]
    assert any("leaflet.js" in u for u in urls)
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        assert url.startswith("/static/")
        resp = coordinator_client.get(url)
        resp.close()  # static files are streamed from an open file
        assert resp.status_code == 200, url


def test_render_map_refuses_a_cdn_asset(app):
    """An element that still points at a CDN makes render_map raise instead of loading it."""
    from folium.plugins import Fullscreen

    with app.test_request_context("/"):
        m = maps.base_map()
        Fullscreen().add_to(m)
        with pytest.raises(maps.UnsafeMapContent):
            maps.render_map(m)


def test_vendored_assets_are_documented():
    """static/vendor/README.md names every vendored file the map uses."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "static" / "vendor" / "README.md").read_text()
    for _name, path in (*maps.LEAFLET_JS, *maps.LEAFLET_CSS, *maps.CLUSTER_JS, *maps.CLUSTER_CSS):
        assert (root / "static" / path).is_file(), path
        assert path.removeprefix("vendor/") in readme


# --- tiles -----------------------------------------------------------------------------------


def test_tile_layer_uses_configured_url_and_referrer_policy(app):
    """The tile URL comes from MAP_TILE_URL and the layer sends strict-origin-when-cross-origin."""
    app.config["MAP_TILE_URL"] = "https://tiles.example.test/{z}/{x}/{y}.png"
    with app.test_request_context("/"):
        html = str(maps.render_map(maps.base_map()))
    assert '"https://tiles.example.test/{z}/{x}/{y}.png"' in html
    assert '"referrerPolicy": "strict-origin-when-cross-origin"' in html


def test_tiles_disabled_gives_a_plain_background(coordinator_client, app):
    """MAP_TILES_ENABLED=False draws no tile layer; the map box gets the plain class."""
    app.config["MAP_TILES_ENABLED"] = False
    make_hotspot(make_office())
    db.session.commit()
    html = coordinator_client.get("/coord/").get_data(as_text=True)
    assert "L.tileLayer" not in html
    assert "jb-map--plain" in html


def test_referrer_policy_header_lets_tiles_load(client):
    """The page's Referrer-Policy is not no-referrer (OSM tiles need a Referer)."""
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
    """Folium accepts inf; our helpers raise ValueError instead."""
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
