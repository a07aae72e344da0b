"""The review page at a glance (issue 10): the solver's sentence, numbers in the reader's
locale, translated break names, split sites shown as one visit, the legend beside the map, the
publish confirmation, and the import preview's number columns."""

from __future__ import annotations

import html as htmllib
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from outreach.coordinator.plan_review import solver_sentence, split_visits
from outreach.extensions import db
from outreach.importing.messages import render
from outreach.labels import break_label
from outreach.models import Plan, PlanStatus, Role
from tests.factories import (
    login,
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_solved_plan,
    make_stop,
    make_team,
    make_unserved,
    make_user,
)

FAR = {"lat": 3.9, "lon": 99.2}  # an unplanned site far from the planned ones


@pytest.fixture
def plan(app):
    p = make_solved_plan(6, teams=2, days=2)
    team_ids = sorted({r.team_id for r in p.routes})
    hotspot_ids = sorted({s.hotspot_id for r in p.routes for s in r.stops})
    p.params = {"time_limit_s": 20, "team_ids": team_ids, "hotspot_ids": hotspot_ids}
    p.kpis = {"runtime_s": 19.7}
    make_unserved(p)
    db.session.commit()
    return p


@pytest.fixture
def coord_client(client, plan):
    login(client, make_user(Role.COORDINATOR, office_id=plan.office_id))
    db.session.commit()
    return client


@pytest.fixture
def split_plan(app):
    """Two teams at one school at the same minute (a split site), plus a normal visit."""
    office = make_office()
    plan = make_plan(office, params={"time_limit_s": 20})
    a, b = make_team(office, name="Tim Alfa"), make_team(office, name="Tim Beta")
    school = make_hotspot(office, name="SMA Besar", demand={"ktp_record": 400})
    ra, rb = make_route(plan, a), make_route(plan, b)
    start = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    make_stop(ra, school, start_at=start, persons={"ktp_record": 200})
    make_stop(rb, school, start_at=start + timedelta(seconds=20), persons={"ktp_record": 200})
    make_stop(rb, make_hotspot(office, name="SMA Kecil"))
    db.session.commit()
    return plan


def get(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


# -- the solver's status ------------------------------------------------------------------------


def test_solver_sentence_says_a_longer_run_may_serve_more(app):
    """A search that used its time limit with residents left out says so, in English."""
    with app.test_request_context("/?lang=en"):
        text = solver_sentence("ROUTING_SUCCESS", 20, 19.8, unserved_persons=40)
        assert text == "Best plan found in 20 s; a longer run may serve more."
        assert "longer run may shorten" in solver_sentence("ROUTING_SUCCESS", 20, 19.8, 0)
        assert "before the time limit of 20 s" in solver_sentence("ROUTING_SUCCESS", 20, 3.2, 40)


@pytest.mark.parametrize(
    "code",
    [
        "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED",
        "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NO",  # cut to the 40-character column
        "ROUTING_OPTIMAL",
        "GREEDY_FALLBACK",
        "CANCELLED",
        "NO_VEHICLES",
        "ROUTING_FAIL_TIMEOUT",
        "ROUTING_INFEASIBLE",
        "SOMETHING_NEW",
    ],
)
def test_solver_sentence_is_never_the_raw_code(app, code):
    """Every status, a cut one or an unknown one too, reads as a sentence without the enum."""
    for lang in ("en", "id"):
        with app.test_request_context(f"/?lang={lang}"):
            text = solver_sentence(code, 20, 12.0, 10)
            assert text and code not in text and "ROUTING" not in text and "_" not in text


def test_partial_success_means_the_time_limit_was_reached(app):
    """The cut partial-success code still reads as 'stopped on the time limit'."""
    with app.test_request_context("/?lang=en"):
        text = solver_sentence("ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NO", 20, 5.0, 40)
    assert text == "Best plan found in 5 s; a longer run may serve more."


def test_review_shows_the_solver_sentence_not_the_enum(coord_client, plan):
    """The review page's header has the sentence; the raw code is only a data attribute."""
    html = get(coord_client, f"/coord/plans/{plan.id}?lang=en")
    sentence = re.search(r'id="solver-status"[^>]*>([^<]+)<', html).group(1)
    assert sentence == "Best plan found in 20 s; a longer run may serve more."
    assert ">ROUTING_SUCCESS<" not in html


# -- numbers in the reader's locale ---------------------------------------------------------------


def test_review_numbers_follow_the_language(coord_client, plan):
    """18,921 residents and 600.8 km in English; 18.921 and 600,8 in Indonesian."""
    route = plan.routes[0]
    route.stops[0].persons = {"ktp_record": 18921 - 200}
    for r in plan.routes:
        r.distance_m = 150_200
    db.session.commit()
    en = get(coord_client, f"/coord/plans/{plan.id}?lang=en")
    assert 'id="kpi-served">18,921<' in en and 'id="kpi-km">600.8<' in en
    assert "18,721" in en  # the stop's row
    ind = get(coord_client, f"/coord/plans/{plan.id}?lang=id")
    assert 'id="kpi-served">18.921<' in ind and 'id="kpi-km">600,8<' in ind
    assert "150,2 km" in ind  # the team-day's line
    # the map popups too (they travel as JSON)
    pins = json.loads(re.search(r'id="plan-pins"[^>]*>(.*?)</script>', ind, re.S).group(1))
    popups = " ".join(p["p"] for rows in pins.values() for p in rows)
    assert "18.721" in popups


def test_day_sheet_numbers_and_break_names_follow_the_language(coord_client, plan):
    """The day sheet: km with the language's decimal mark, break names translated."""
    route = plan.routes[0]
    route.distance_m = 12_345
    db.session.commit()
    url = f"/coord/plans/{plan.id}/routes/{route.id}/sheet"
    en = get(coord_client, url + "?lang=en")
    assert "12.3 km" in en and "Break 12:00–13:00" in en and "Istirahat" not in en
    ind = get(coord_client, url + "?lang=id")
    assert "12,3 km" in ind and "Istirahat 12:00–13:00" in ind


def test_break_labels_translate_known_default_names(app):
    """Known default break names are translated; a name the office typed stays as typed."""
    with app.test_request_context("/?lang=en"):
        assert break_label("Istirahat") == "Break"
        assert break_label("Sholat Jum'at") == "Friday prayer"
        assert break_label("Rapat mingguan") == "Rapat mingguan"
        assert break_label("") == "Break"


def test_review_timeline_break_is_translated(coord_client, plan):
    """'Istirahat' does not stay Indonesian on the English review page."""
    en = get(coord_client, f"/coord/plans/{plan.id}?lang=en")
    assert "Istirahat" not in en
    assert re.search(r'class="tl-bar tl-break"[^>]*>Break<', en)


def test_import_messages_write_numbers_in_the_language():
    """Import preview messages: 3,5952 and 1.048.576 in Indonesian, 3.5952 in English."""
    params = {"lat": "3.5952", "lon": "150.5"}
    ind = render("coord_outside_indonesia", params, "id", localise=True)
    assert "(3,5952, 150,5)" in ind
    assert "(3.5952, 150.5)" in render("coord_outside_indonesia", params, "en", localise=True)
    size = render("file_too_large", {"size": 1048576, "limit": 1000000}, "id", localise=True)
    assert "1.048.576 byte" in size and "1.000.000 byte" in size
    near = render("outside_area", {"distance_km": 18.9, "radius_km": 15}, "id", localise=True)
    assert "18,9 km" in near
    # what the user typed stays as typed
    assert '"3.5.9"' in render("not_decimal", {"value": "3.5.9"}, "id", localise=True)


# -- split sites -----------------------------------------------------------------------------------


def test_split_visits_pair_teams_at_the_same_site_and_minute(split_plan):
    """Two teams at one school at the same minute are one visit; another visit is not."""
    splits = split_visits(list(split_plan.routes))
    assert len(splits) == 2
    names = sorted(p.route.team.name for partners in splits.values() for p in partners)
    assert names == ["Tim Alfa", "Tim Beta"]


def test_split_visit_not_paired_at_another_time(app):
    """The same site at different starts (or by the same team) is not a split visit."""
    office = make_office()
    plan = make_plan(office)
    school = make_hotspot(office)
    ra, rb = make_route(plan, make_team(office)), make_route(plan, make_team(office))
    start = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    make_stop(ra, school, start_at=start)
    make_stop(rb, school, start_at=start + timedelta(hours=2))
    db.session.commit()
    assert split_visits(list(plan.routes)) == {}


def test_split_visit_in_schedule_map_and_day_sheet(client, split_plan):
    """The schedule, the map popups and the day sheet show one visit with both teams and why."""
    login(client, make_user(Role.COORDINATOR, office_id=split_plan.office_id))
    db.session.commit()
    html = get(client, f"/coord/plans/{split_plan.id}?lang=en")
    notes = [htmllib.unescape(n) for n in re.findall(r'<p class="split-note">([^<]+)</p>', html)]
    assert notes == [
        "One visit with Tim Alfa + Tim Beta: demand beyond one team's day",
        "One visit with Tim Beta + Tim Alfa: demand beyond one team's day",
    ]
    assert html.count('class=" split"') == 2  # the two rows; the other visit is plain
    pins = json.loads(re.search(r'id="plan-pins"[^>]*>(.*?)</script>', html, re.S).group(1))
    school = [p for rows in pins.values() for p in rows if "SMA Besar" in p["t"]]
    assert len(school) == 2
    for pin in school:
        assert "Tim Alfa + Tim Beta" in pin["t"] or "Tim Beta + Tim Alfa" in pin["t"]
        assert "Demand beyond one team&#39;s day" in pin["p"]
    route = next(r for r in split_plan.routes if r.team.name == "Tim Beta")
    sheet = get(client, f"/coord/plans/{split_plan.id}/routes/{route.id}/sheet?lang=en")
    assert "One visit with Tim Beta + Tim Alfa: demand beyond one team's day" in htmllib.unescape(
        sheet
    )
    assert sheet.count('class="split-note"') == 1


# -- legend and framing ---------------------------------------------------------------------------


def test_legend_lists_every_team_day_by_day_beside_the_map(coord_client, plan):
    """The legend is a collapsible block outside the map, one entry per team-day, by day."""
    html = get(coord_client, f"/coord/plans/{plan.id}?lang=en")
    legend = re.search(
        r'<details class="plan-legend jb-legend" id="plan-legend" open>(.*?)</details>', html, re.S
    )
    assert legend, "legend missing"
    body = legend.group(1)
    assert len(re.findall(r"<h3>", body)) == 2  # two days
    assert body.count('<li><a href="#r') == len(plan.routes) == 4
    map_box = html[html.index('id="plan-map"') : html.index('id="plan-legend"')]
    assert "L.control(" not in map_box  # no legend control drawn over the map


def test_map_is_framed_to_the_planned_stops(coord_client, plan):
    """An unplanned site far away does not widen the map's opening frame."""
    make_hotspot(plan.routes[0].team.office, name="Jauh", **FAR)
    db.session.commit()
    html = get(coord_client, f"/coord/plans/{plan.id}")
    frame = re.search(
        r"fitBounds\(\s*\[\[([-\d.]+),\s*([-\d.]+)\],\s*\[([-\d.]+),\s*([-\d.]+)\]\]", html
    )
    assert frame, "no fitBounds"
    south, west, north, east = map(float, frame.groups())
    lats = [s.hotspot.lat for r in plan.routes for s in r.stops]
    lons = [s.hotspot.lon for r in plan.routes for s in r.stops]
    assert (south, west, north, east) == (min(lats), min(lons), max(lats), max(lons))
    assert north < FAR["lat"] and east < FAR["lon"]


# -- every visit reads the rows as they are now ----------------------------------------------------


def page_pins(html: str) -> dict:
    """The pins the page carries as JSON (``<script type="application/json" id="plan-pins">``)."""
    blob = re.search(r'<script type="application/json" id="plan-pins"[^>]*>(.*?)</script>', html)
    assert blob, "no pins"
    return json.loads(blob.group(1))


def test_review_follows_every_edit_of_sites_teams_and_demand(coord_client, plan):
    """The unserved table, the unplanned pins, the "add" options and the KPIs (read as columns,
    not ORM rows) and the team-day labels show each edit on the next visit, escaped."""
    url = f"/coord/plans/{plan.id}?lang=en"
    unserved = plan.unserved[0]
    site, team = unserved.hotspot, plan.routes[0].team
    visited = plan.routes[0].stops[0].hotspot
    spare = make_hotspot(team.office, name="Posyandu Mawar", demand={"ktp_record": 7}, **FAR)
    db.session.commit()
    html = get(coord_client, url)
    assert "of 280 requested" in html  # 6 visited sites and the unserved one, 40 each
    tips = {row["t"] for row in page_pins(html)["unplanned"]}
    assert f"{site.name} – remaining 40" in tips and "Posyandu Mawar – remaining 7" in tips
    assert f'<option value="{spare.id}">Posyandu Mawar' in html

    site.name, site.priority = "Panti <Baru> & Co", 1
    site.demands[0].remaining = 25
    unserved.persons = 33
    visited.demands[0].remaining = 10  # an outcome lowered what the visited site still needs
    spare.status = "archived"
    team.name = "Tim <Kenari>"
    db.session.commit()
    html = get(coord_client, url)
    assert "of 235 requested" in html  # the live demand: 280 - 30 - 15
    table = html[html.index('<section id="unserved"') :]
    table = table[: table.index("</section>")]
    assert "Panti &lt;Baru&gt; &amp; Co <small>" in table
    assert re.search(r"</p></td><td>1</td><td class=\"num\">33</td>", table)
    tips = {row["t"] for row in page_pins(html)["unplanned"]}
    assert tips == {"Panti &lt;Baru&gt; &amp; Co – remaining 25"}
    assert "Posyandu Mawar" not in html and "Panti <Baru>" not in html
    assert "Tim &lt;Kenari&gt; · " in html and "Tim <Kenari>" not in html

    # the demand the plan was solved for wins over the live demand, site by site
    plan.params = {**plan.params, "demand": {str(site.id): {"ktp_record": 99}}}
    db.session.commit()
    assert "of 309 requested" in get(coord_client, url)


# -- publishing asks for confirmation --------------------------------------------------------------


def test_publish_confirmation_lists_what_changes(client, tiny):
    """First: the count of visits; after a drop: the cancelled visit with team and day, and the
    number of public visits affected; nothing is published by looking."""
    plan, user = tiny
    login(client, user)
    url = f"/coord/plans/{plan.id}/publish"
    first = get(client, url + "?lang=en")
    stops = sum(len(r.stops) for r in plan.routes)
    assert f"First publication: {stops} visits are announced" in first
    assert 'id="publish-confirm"' in first
    assert db.session.get(Plan, plan.id).published_version == 0
    resp = client.post(url, data={"expected_version": plan.version_id})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/coord/plans/{plan.id}?published=1#publish")

    plan = db.session.get(Plan, plan.id)
    route = next(r for r in plan.routes if r.stops)
    stop = route.stops[0]
    name, team = stop.hotspot.name, route.team.name
    client.post(
        f"/coord/plans/{plan.id}/stops/{stop.id}/drop", data={"expected_version": plan.version_id}
    )
    again = get(client, url + "?lang=en")
    cancelled = re.search(r'<ul class="change-cancelled">(.*?)</ul>', again, re.S).group(1)
    assert name in cancelled and team in cancelled and "Dec 2026" in cancelled
    assert re.search(r"Public visits affected[^<]*: 1<", htmllib.unescape(again))
    assert f"Teams affected: {team}" in again
    assert "Yes, publish version 2" in again
    assert db.session.get(Plan, plan.id).published_version == 1


def test_after_publishing_the_confirmation_is_in_the_publish_section(client, tiny):
    """The redirect lands on #publish, where the confirmation is (not a flash at the top)."""
    plan, user = tiny
    login(client, user)
    client.post(f"/coord/plans/{plan.id}/publish", data={"expected_version": plan.version_id})
    html = get(client, f"/coord/plans/{plan.id}?published=1&lang=en")
    section = html[html.index('<section id="publish"') :]
    assert 'id="publish-done"' in section
    assert "Plan published as version 1." in section
    # a stale ?published= (an older version) shows nothing
    assert 'id="publish-done"' not in get(client, f"/coord/plans/{plan.id}?published=7")


def test_review_publish_button_leads_to_the_confirmation(coord_client, plan):
    """Without JavaScript the publish button is a link to the confirmation page."""
    html = get(coord_client, f"/coord/plans/{plan.id}")
    assert f'id="publish-submit" href="/coord/plans/{plan.id}/publish"' in html


def test_unpublishable_plan_has_no_confirmation(coord_client, plan):
    """A plan that is still solving cannot be confirmed for publishing."""
    plan.status = PlanStatus.SOLVING
    db.session.commit()
    resp = coord_client.get(f"/coord/plans/{plan.id}/publish")
    assert resp.status_code == 302


# -- import preview: numbers in columns --------------------------------------------------------


@pytest.fixture
def import_client(client, app, tmp_path):
    app.config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "uploads")
    office = make_office()
    login(client, make_user(Role.COORDINATOR, office_id=office.id))
    db.session.commit()
    return client


def test_import_preview_has_service_columns_and_local_numbers(import_client):
    """Service counts are numbers in their own columns; coordinates and counts in Indonesian."""
    data = (
        b"kode;nama;jenis;lintang;bujur;ktp_el;akta_lahir;prioritas\r\n"
        b"A-1;SMA Negeri 5 Medan;SMA;3,5801;98,6789;1200;15;2\r\n"
        b"A-2;RS Jauh;rumah sakit;3,59;150,5;10;0;1\r\n"
    )
    resp = import_client.post(
        "/coord/imports",
        data={"file": (io.BytesIO(data), "titik.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    html = get(import_client, resp.headers["Location"])
    assert 'class="table-scroll"' in html
    rows = html[html.index('id="rows"') :]
    assert '<td class="num" data-service="ktp_record">1.200</td>' in rows
    assert '<td class="num" data-service="birth_cert">15</td>' in rows
    assert "3,58010" in rows and "98,67890" in rows
    assert 'class="badge">' not in rows  # no pills for the counts
    assert "(3,59, 150,5)" in html  # the error message writes the coordinates in Indonesian
