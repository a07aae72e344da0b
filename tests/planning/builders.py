"""Plain builders for tiny planning instances, with sensible defaults.

Coordinates are around Medan's centre; the default travel model is great circle × 1.4
at 20 km/h, so 0.01° (≈1.1 km) takes about 4.6 minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from outreach.planning import (
    Break,
    Location,
    Lock,
    Problem,
    Service,
    Shift,
    Site,
    Team,
    TimeWindow,
    hm,
)

MONDAY = date(2026, 6, 1)
"""A Monday without a national holiday."""
FRIDAY = date(2026, 6, 5)
OFFICE = Location(3.5952, 98.6722)


def at(dlat: float = 0.0, dlon: float = 0.0) -> Location:
    """A location offset from the office by degrees."""
    return Location(OFFICE.lat + dlat, OFFICE.lon + dlon)


def shift(
    day: date = MONDAY, start: str = "08:00", end: str = "16:00", breaks: Iterable[Break] = ()
) -> Shift:
    return Shift(day, hm(start), hm(end), tuple(breaks))


def team(
    id: str = "T1",
    *,
    days: Iterable[date] = (MONDAY,),
    start: str = "08:00",
    end: str = "16:00",
    kits: int = 1,
    services: Iterable[Service | str] = (Service.KTP_RECORD, Service.BIRTH_CERT, Service.KIA),
    printer: bool = False,
    cards_per_day: int = 0,
    profile: str = "car",
    location: Location = OFFICE,
    shifts: Iterable[Shift] | None = None,
) -> Team:
    if shifts is None:
        shifts = [shift(d, start, end) for d in days]
    return Team(
        id=id,
        name=f"Team {id}",
        start=location,
        profile=profile,
        kits=kits,
        services=frozenset(Service(s) for s in services),
        printer=printer,
        cards_per_day=cards_per_day,
        shifts=tuple(shifts),
    )


def site(
    id: str = "S1",
    *,
    location: Location | None = None,
    demand: Mapping[Service | str, int] | None = None,
    priority: int = 3,
    windows: Mapping[int, Iterable[TimeWindow]] | None = None,
    setup_s: int = 600,
    lock: Lock | None = None,
    required: bool = False,
) -> Site:
    return Site(
        id=id,
        name=f"Site {id}",
        location=location or at(0.01, 0.01),
        demand=demand if demand is not None else {Service.KTP_RECORD: 10},
        priority=priority,
        windows=windows,
        setup_s=setup_s,
        lock=lock,
        required=required,
    )


def problem(
    sites: Iterable[Site],
    teams: Iterable[Team],
    *,
    horizon: Iterable[date] | None = None,
    card_stock: int | None = None,
    **kwargs: object,
) -> Problem:
    teams = tuple(teams)
    if horizon is None:
        horizon = sorted({s.date for t in teams for s in t.shifts} or {MONDAY})
    return Problem(
        sites=tuple(sites), teams=teams, horizon=tuple(horizon), card_stock=card_stock, **kwargs
    )
