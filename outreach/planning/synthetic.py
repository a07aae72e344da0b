"""Seeded synthetic instances shaped like a Medan outreach campaign.

Used by tests, benchmarks and demos: the same arguments always give the same problem.
Sites are drawn inside Kota Medan's extent with hotspot kinds, opening hours and
demand in plausible ranges (see PRODUCT.md "Domain facts"); teams start at the
Dukcapil office.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from outreach.planning.domain import (
    OFFICE_WEEK,
    Location,
    Problem,
    Service,
    Site,
    Team,
    TimeWindow,
    build_shifts,
    date_range,
)

MEDAN_OFFICE = Location(3.5952, 98.6722)
"""Approximate location of Disdukcapil Kota Medan."""
MEDAN_BOUNDS = ((3.48, 3.75), (98.59, 98.74))
"""(lat range, lon range) of Kota Medan."""


@dataclass(frozen=True)
class _Kind:
    name: str
    weight: float
    priority: tuple[int, int]
    persons: tuple[int, int]
    days: tuple[int, ...]
    hours: tuple[tuple[str, str], ...]
    mix: tuple[tuple[Service, float], ...]
    setup_s: int


_KINDS: tuple[_Kind, ...] = (
    _Kind("school", 0.35, (2, 4), (30, 350), (0, 1, 2, 3, 4, 5), (("07:30", "13:00"),),
          ((Service.KTP_RECORD, 1.0),), 900),
    _Kind("kelurahan", 0.25, (3, 5), (10, 80), (0, 1, 2, 3, 4), (("08:00", "16:00"),),
          ((Service.KTP_RECORD, 0.6), (Service.BIRTH_CERT, 0.2), (Service.KIA, 0.2)), 600),
    _Kind("market", 0.1, (4, 5), (10, 60), (0, 1, 2, 3, 4, 5, 6),
          (("09:00", "12:00"), ("15:00", "17:00")),
          ((Service.KTP_RECORD, 0.8), (Service.KIA, 0.2)), 600),
    _Kind("hospital", 0.08, (2, 3), (5, 40), (0, 1, 2, 3, 4), (("08:00", "14:00"),),
          ((Service.KTP_RECORD, 0.5), (Service.BIRTH_CERT, 0.5)), 600),
    _Kind("prison", 0.04, (1, 1), (30, 200), (0, 1, 2, 3), (("09:00", "12:00"), ("13:30", "15:00")),
          ((Service.KTP_RECORD, 0.7), (Service.KTP_PRINT, 0.3)), 1200),
    _Kind("nursing_home", 0.06, (1, 2), (5, 40), (0, 1, 2, 3, 4, 5), (("09:00", "15:00"),),
          ((Service.KTP_RECORD, 0.6), (Service.KTP_PRINT, 0.4)), 600),
    _Kind("house", 0.12, (1, 2), (1, 3), (0, 1, 2, 3, 4, 5), (("08:00", "16:00"),),
          ((Service.KTP_RECORD, 0.5), (Service.KTP_PRINT, 0.5)), 300),
)  # fmt: skip


def _split(total: int, mix: tuple[tuple[Service, float], ...], rnd: random.Random) -> dict:
    demand: dict[Service, int] = {}
    left = total
    for k, (service, share) in enumerate(mix):
        n = left if k == len(mix) - 1 else min(left, round(total * share))
        if n:
            demand[service] = n
        left -= n
    if not demand:
        demand[mix[0][0]] = max(1, total)
    return demand


def _draw_site(rnd: random.Random, i: int, prefix: str, place: Any) -> Site:
    """Site ``i`` of a seeded instance: a kind, its residents, hours and priority; ``place()``
    draws its location (after the hours, before the demand: the seeded order)."""
    kind = rnd.choices(_KINDS, [k.weight for k in _KINDS])[0]
    total = rnd.randint(*kind.persons)
    windows = {wd: tuple(TimeWindow.hm(a, b) for a, b in kind.hours) for wd in kind.days}
    location = place()
    return Site(
        id=f"{prefix}{kind.name}-{i:04d}",
        name=f"{kind.name.replace('_', ' ').title()} {i}",
        location=location,
        demand=_split(total, kind.mix, rnd),
        priority=rnd.randint(*kind.priority),
        windows=windows,
        setup_s=kind.setup_s,
    )


def _team(n: int, team_id: str, name: str, start: Location, shifts: Any) -> Team:
    """The ``n``-th team of an instance: kits 1-3, every other one with a printer and 150
    cards per day, one in four on a motorbike."""
    printer = n % 2 == 0
    services = {Service.KTP_RECORD, Service.BIRTH_CERT, Service.KIA}
    if printer:
        services.add(Service.KTP_PRINT)
    return Team(
        id=team_id,
        name=name,
        start=start,
        profile="motorbike" if n % 4 == 3 else "car",
        kits=1 + n % 3,
        services=frozenset(services),
        printer=printer,
        cards_per_day=150 if printer else 0,
        shifts=shifts,
    )


def medan_problem(
    n_sites: int = 500,
    n_teams: int = 8,
    working_days: int = 10,
    *,
    seed: int = 0,
    first_day: date = date(2026, 6, 1),
    card_stock: int | None = 1500,
) -> Problem:
    """A seeded Medan-like problem.

    Parameters
    ----------
    n_sites
        Number of hotspots (schools, kelurahan offices, markets, hospitals, prisons,
        nursing homes, home visits).
    n_teams
        Teams; kits 1-3, every other team with a printer and 150 cards per day, one in
        four on a motorbike.
    working_days
        Working days in the horizon (Mon-Fri office weeks, national holidays off).
    seed
        Random seed; the same arguments give the same problem.
    first_day
        First calendar day of the horizon.
    card_stock
        The office's blank-card stock.
    """
    rnd = random.Random(seed)
    day = first_day
    while True:
        horizon = date_range(first_day, day)
        shifts = build_shifts(horizon, OFFICE_WEEK)
        if len(shifts) >= working_days:
            break
        day += timedelta(days=1)
    (lat0, lat1), (lon0, lon1) = MEDAN_BOUNDS
    sites = []
    for i in range(n_sites):
        sites.append(
            _draw_site(
                rnd,
                i,
                "",
                lambda: Location(
                    round(rnd.uniform(lat0, lat1), 6), round(rnd.uniform(lon0, lon1), 6)
                ),
            )
        )
    teams = [
        _team(t, f"team-{t + 1}", f"Tim {t + 1}", MEDAN_OFFICE, shifts) for t in range(n_teams)
    ]
    return Problem(sites=tuple(sites), teams=tuple(teams), horizon=horizon, card_stock=card_stock)


PROVINCE_BOUNDS = ((1.0, 4.2), (97.6, 100.2))
"""(lat range, lon range) roughly covering North Sumatra's mainland."""


def province_problem(
    n_sites: int = 5000,
    n_teams: int = 60,
    working_days: int = 20,
    *,
    n_offices: int = 12,
    seed: int = 0,
    first_day: date = date(2026, 6, 1),
    spread_km: float = 15.0,
    cards_per_office: int | None = 1500,
) -> Problem:
    """A seeded province: ``n_offices`` kabupaten/kota offices spread over North Sumatra,
    each with its own teams (starting at its office) and sites around it.

    Sites are drawn like :func:`medan_problem`'s (same kinds, hours and demand) at a normal
    distance of ``spread_km`` around their office; offices get sites in random proportions
    (a city office has more than a rural one) and teams in proportion to their sites, at
    least two each. Ids carry the office: ``o03-school-0042``, ``o03-team-2``; see
    :func:`office_of`. The card stock is ``cards_per_office`` per office.
    """
    rnd = random.Random(seed)
    day = first_day
    while True:
        horizon = date_range(first_day, day)
        shifts = build_shifts(horizon, OFFICE_WEEK)
        if len(shifts) >= working_days:
            break
        day += timedelta(days=1)
    (lat0, lat1), (lon0, lon1) = PROVINCE_BOUNDS
    offices = [
        Location(round(rnd.uniform(lat0, lat1), 5), round(rnd.uniform(lon0, lon1), 5))
        for _ in range(n_offices)
    ]
    shares = [rnd.uniform(0.5, 2.0) for _ in offices]
    total_share = sum(shares)
    counts = [int(n_sites * s / total_share) for s in shares]
    for k in range(n_sites - sum(counts)):
        counts[k % n_offices] += 1
    spare = n_teams - 2 * n_offices
    if spare < 0:
        raise ValueError("province_problem: at least two teams per office")
    team_counts = [2 + int(spare * c / n_sites) for c in counts]
    for k in range(n_teams - sum(team_counts)):
        team_counts[k % n_offices] += 1
    deg = spread_km / 111.32
    sites: list[Site] = []
    teams: list[Team] = []
    for o, (office, count) in enumerate(zip(offices, counts, strict=True)):
        for _ in range(count):

            def near(office: Location = office) -> Location:
                lat = min(max(office.lat + rnd.gauss(0, deg), lat0 - 0.5), lat1 + 0.5)
                lon = min(max(office.lon + rnd.gauss(0, deg), lon0 - 0.5), lon1 + 0.5)
                return Location(round(lat, 6), round(lon, 6))

            sites.append(_draw_site(rnd, len(sites), f"o{o:02d}-", near))
        for t in range(team_counts[o]):
            teams.append(
                _team(len(teams), f"o{o:02d}-team-{t + 1}", f"Tim {o + 1}.{t + 1}", office, shifts)
            )
    stock = None if cards_per_office is None else cards_per_office * n_offices
    return Problem(sites=tuple(sites), teams=tuple(teams), horizon=horizon, card_stock=stock)


def office_of(problem: Problem) -> dict[str, str]:
    """Office key of every site and team of a :func:`province_problem` (the id's prefix)."""
    out = {s.id: s.id.split("-", 1)[0] for s in problem.sites}
    out.update({t.id: t.id.split("-", 1)[0] for t in problem.teams})
    return out
