"""GPX 1.1 routes: visit order, depot at both ends, escaping, no resident names."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from outreach.exporting import route_gpx

NS = {"g": "http://www.topografix.com/GPX/1/1"}


def parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def test_gpx_is_version_1_1(plan_setup):
    """The document is GPX 1.1 in its namespace, with an XML declaration."""
    data = route_gpx(plan_setup["route_a1"])
    assert data.startswith(b"<?xml")
    root = parse(data)
    assert root.tag == "{http://www.topografix.com/GPX/1/1}gpx"
    assert root.get("version") == "1.1"


def test_gpx_waypoints_and_route_in_visit_order(plan_setup):
    """Waypoints follow visit order; the route runs office → visits → office."""
    route = plan_setup["route_a1"]
    root = parse(route_gpx(route))
    wpts = root.findall("g:wpt", NS)
    assert len(wpts) == len(route.stops)
    names = [w.find("g:name", NS).text for w in wpts]
    assert [n.split(". ", 1)[0] for n in names] == [str(i) for i in range(1, len(wpts) + 1)]
    rtepts = root.findall("g:rte/g:rtept", NS)
    assert len(rtepts) == len(wpts) + 2
    office = plan_setup["office"]
    assert rtepts[0].get("lat") == f"{office.lat:.6f}" == rtepts[-1].get("lat")
    stops = sorted(route.stops, key=lambda s: s.position)
    assert [p.get("lat") for p in rtepts[1:-1]] == [f"{s.hotspot.lat:.6f}" for s in stops]


def test_gpx_escapes_names(plan_setup):
    """Markup in a name is escaped text, and control characters are dropped."""
    data = route_gpx(plan_setup["route_b1"])
    assert b"<script>" not in data and b"&lt;script&gt;" in data
    assert b"\x07" not in data
    names = [w.find("g:name", NS).text for w in parse(data).findall("g:wpt", NS)]
    assert names == ["1. <script>alert(1)</script> & bell"]  # the cancelled visit is left out


def test_gpx_formula_like_names_survive(plan_setup):
    """Hostile spreadsheet names arrive verbatim (GPX is not a spreadsheet)."""
    names = [
        w.find("g:name", NS).text
        for w in parse(route_gpx(plan_setup["route_a1"])).findall("g:wpt", NS)
    ]
    assert names[0] == '1. =HYPERLINK("http://x","y")'


def test_gpx_home_visit_hides_the_name(plan_setup):
    """A home visit is named by its area, not by the resident."""
    data = route_gpx(plan_setup["route_a2"])
    assert b"Siti" not in data and b"Mawar" not in data
    assert b"Kunjungan rumah Sei Rengas" in data
