"""A team's visits as an iCalendar file (RFC 5545) for the team's phone calendars.

Calendars sync to third-party clouds, so events carry no personal data: a home visit shows as
"Kunjungan rumah" with its kelurahan and kecamatan only, never a name, street address, notes
or exact coordinates.
"""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from icalendar import Calendar, Event, Timezone, vGeo

from ..models import HotspotKind, PlannedRoute, StopStatus, Team
from .rows import KIND_LABELS, SERVICE_LABELS, as_utc, local, office_zone, ordered_stops

PRODID = "-//Jemput Bola//Rencana jemput bola//ID"
UID_DOMAIN = "jemput-bola"


@lru_cache(maxsize=32)
def _vtimezone(tzid: str) -> Timezone | None:
    # icalendar derives a VTIMEZONE by probing the zone's offsets from 1970 to 2038 (about
    # 46,000 utcoffset calls, ~10 ms): the same result every time for a tzid, so once per process.
    try:
        return Timezone.from_tzid(tzid)
    except ValueError:
        return None


def add_timezones(cal: Calendar) -> None:
    """``cal.add_missing_timezones()`` with each zone's VTIMEZONE computed once per process.

    Same components in the same place: every missing tzid's VTIMEZONE (a copy of the cached
    one) is inserted after the calendar's existing timezones; unknown zones are skipped.
    """
    missing = cal.get_missing_tzids()
    if not missing:
        return
    position = len(cal.timezones)
    for tzid in missing:
        timezone = _vtimezone(tzid)
        if timezone is None:
            continue
        cal.subcomponents.insert(position, copy.deepcopy(timezone))
        position += 1


def _is_home(hotspot: Any) -> bool:
    return getattr(hotspot.kind, "value", hotspot.kind) == HotspotKind.HOME.value


def _area(hotspot: Any) -> str:
    parts = []
    if hotspot.kelurahan_name:
        parts.append(f"Kel. {hotspot.kelurahan_name}")
    if hotspot.kecamatan_name:
        parts.append(f"Kec. {hotspot.kecamatan_name}")
    return ", ".join(parts)


def _summary(hotspot: Any) -> str:
    if _is_home(hotspot):
        return f"{KIND_LABELS[HotspotKind.HOME.value]} – {_area(hotspot)}".rstrip(" –")
    return f"Jemput bola: {hotspot.name}"


def _location(hotspot: Any) -> str:
    if _is_home(hotspot):
        return _area(hotspot)
    return ", ".join(p for p in (hotspot.name, hotspot.address, _area(hotspot)) if p)


def _description(stop: Any) -> str:
    persons = stop.persons or {}
    lines = [
        f"{label}: {int(persons[code])} orang"
        for code, label in SERVICE_LABELS.items()
        if int(persons.get(code, 0)) > 0
    ]
    if stop.cards:
        lines.append(f"Blangko: {stop.cards}")
    return "\n".join(lines)


def _stamp(routes: list[PlannedRoute]) -> datetime:
    # DTSTAMP from the plan, not the clock: the same plan exports to the same bytes.
    plan = routes[0].plan if routes else None
    moment = getattr(plan, "published_at", None) or getattr(plan, "updated_at", None)
    return as_utc(moment) if moment is not None else datetime(2000, 1, 1, tzinfo=UTC)


def team_ical(team: Team, routes: list[PlannedRoute]) -> bytes:
    """Return one VEVENT per visit of ``team`` in ``routes``, in the office's time zone.

    UIDs are stable across exports and re-plans: they name the plan, the team, the hotspot and
    the how-many-th visit of that hotspot, so a calendar updates a moved visit instead of adding
    a second one. Cancelled visits stay in the file with ``STATUS:CANCELLED`` so that
    subscribed calendars drop them.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Jemput Bola – {team.name}")
    office = getattr(team, "office", None)
    if office is not None and office.timezone:
        cal.add("x-wr-timezone", office.timezone)

    stamp = _stamp(routes)
    seen: Counter[tuple[int, int]] = Counter()
    mine = sorted((r for r in routes if r.team_id == team.id), key=lambda r: (r.day, r.id or 0))
    for route in mine:
        tz = office_zone(route)
        for stop in ordered_stops(route):
            hotspot = stop.hotspot
            seen[(route.plan_id, stop.hotspot_id)] += 1
            nth = seen[(route.plan_id, stop.hotspot_id)]
            event = Event()
            event.add(
                "uid", f"plan{route.plan_id}-team{team.id}-site{stop.hotspot_id}-{nth}@{UID_DOMAIN}"
            )
            event.add("dtstamp", stamp)
            event.add("dtstart", local(stop.start_at, tz))
            event.add("dtend", local(stop.end_at, tz))
            event.add("summary", _summary(hotspot))
            event.add("location", _location(hotspot))
            description = _description(stop)
            if description:
                event.add("description", description)
            if not _is_home(hotspot) and hotspot.lat is not None and hotspot.lon is not None:
                event.add("geo", vGeo((hotspot.lat, hotspot.lon)))
            cancelled = getattr(stop.status, "value", stop.status) == StopStatus.CANCELLED.value
            event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
            event.add("transp", "OPAQUE")
            cal.add_component(event)
    add_timezones(cal)
    return cal.to_ical()
