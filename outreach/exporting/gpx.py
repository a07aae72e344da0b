"""One team-day route as GPX 1.1, for the navigation app on a team's phone."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from ..models import HotspotKind, PlannedRoute, StopStatus
from .rows import KIND_LABELS, as_utc, hhmm, office_zone, ordered_stops

GPX_NS = "http://www.topografix.com/GPX/1/1"
# Characters XML 1.0 forbids even when escaped; a name pasted from a spreadsheet may hold them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    return _XML_ILLEGAL.sub("", str(value))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{GPX_NS}}}{tag}", attrs)
    if text is not None:
        el.text = _text(text)
    return el


def _point_name(position: int, stop: Any) -> str:
    hotspot = stop.hotspot
    kind = getattr(hotspot.kind, "value", hotspot.kind)
    if kind == HotspotKind.HOME.value:
        # A home visit's name may be a resident's: show the area, not the person.
        return f"{position}. {KIND_LABELS[kind]} {hotspot.kelurahan_name}".strip()
    return f"{position}. {hotspot.name}"


def route_gpx(route: PlannedRoute) -> bytes:
    """Return the route as GPX 1.1: one waypoint per visit and a route in visit order.

    The route starts and ends at the team's office. Cancelled visits and sites without
    coordinates are left out. Names are escaped by the XML writer and stripped of characters
    XML cannot carry.
    """
    ET.register_namespace("", GPX_NS)
    tz = office_zone(route)
    team = route.team.name if route.team else ""
    title = f"{team} {route.day.isoformat()}".strip()
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "Jemput Bola"})
    metadata = _sub(root, "metadata")
    _sub(metadata, "name", title)
    if route.start_at is not None:
        _sub(metadata, "time", as_utc(route.start_at).strftime("%Y-%m-%dT%H:%M:%SZ"))

    visits = [
        s
        for s in ordered_stops(route)
        if getattr(s.status, "value", s.status) != StopStatus.CANCELLED.value
        and s.hotspot.lat is not None
        and s.hotspot.lon is not None
    ]
    points = []
    for number, stop in enumerate(visits, start=1):
        hotspot = stop.hotspot
        attrs = {"lat": f"{hotspot.lat:.6f}", "lon": f"{hotspot.lon:.6f}"}
        name = _point_name(number, stop)
        desc = f"{hhmm(stop.start_at, tz)}–{hhmm(stop.end_at, tz)}"
        points.append((attrs, name, desc))
        wpt = _sub(root, "wpt", **attrs)
        _sub(wpt, "time", as_utc(stop.start_at).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _sub(wpt, "name", name)
        _sub(wpt, "desc", desc)
        _sub(wpt, "type", KIND_LABELS.get(getattr(stop.hotspot.kind, "value", ""), ""))

    rte = _sub(root, "rte")
    _sub(rte, "name", title)
    office = getattr(route.team, "office", None)
    depot = None
    if office is not None and office.lat is not None and office.lon is not None:
        depot = ({"lat": f"{office.lat:.6f}", "lon": f"{office.lon:.6f}"}, office.name)
    if depot:
        _sub(_sub(rte, "rtept", **depot[0]), "name", depot[1])
    for attrs, name, desc in points:
        rtept = _sub(rte, "rtept", **attrs)
        _sub(rtept, "name", name)
        _sub(rtept, "desc", desc)
    if depot:
        _sub(_sub(rte, "rtept", **depot[0]), "name", depot[1])

    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
