"""Why a site (or the rest of a split site) is left out of a plan.

Each reason is established by a check against the problem and the plan, in this order:

``LOCK_CONFLICT``
    The site is locked to a team-day where it cannot be served as locked.
``NO_TEAM_OFFERS_SERVICE``
    No team working in the horizon offers a requested service (or no single team
    offers all of them).
``NO_PRINTER``
    KTP printing is requested but no team offering it carries a printer.
``HOURS_NEVER_MEET_SHIFT``
    On no working day of a capable team does an opening window overlap its shift.
``UNREACHABLE_WITHIN_SHIFT``
    Even as the only stop of a day, no capable team can get there, serve the visit
    inside an opening window (around breaks) and get back before its shift ends.
``CARDS_EXHAUSTED``
    The visit needs blank cards and the office's stock (after what the plan uses) or
    every capable team's daily load cannot cover it.
``SEARCH_STOPPED``
    The visit alone would fit a capable team-day that the plan leaves empty: the search
    stopped (time limit or cancellation) before placing it. Run the plan longer.
``IDLE_TIME_UNUSED``
    The visit alone would fit, and a team-day where it fits has idle time (waiting at a
    site, before leaving or after coming back) inside the site's open hours long enough
    for the visit, or for a part worth a visit (:data:`gapfill.MIN_PART_SERVICE_S`); the
    gap-filling step could still not put it there (the drive there and on does not fit
    the gap, or blank cards ran short), nor did the search find another arrangement.
``OUTRANKED``
    The visit alone would fit, but every team-day where it fits is in use, has no such
    idle time, and could not take it even with every visit of a lower priority removed
    (:func:`repair.ejection`, the priority repair's own check): the capacity went to
    residents of the same or a higher priority.
``NOT_PLACED``
    The visit alone would fit and every team-day where it fits is in use, but one of them
    could take it in place of lower-priority visits. The priority repair tried that and
    kept the plan: the residents it would cost (named, with the team-day costing the
    fewest) weigh more by priority and number. Locking it to that day puts it first.

Messages are plain English with named parameters; the web layer translates by code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from outreach.planning.domain import (
    CARD_SERVICES,
    PRINTER_SERVICES,
    Break,
    Problem,
    Service,
    Site,
    Vehicle,
)
from outreach.planning.gapfill import MIN_PART_SERVICE_S, _Day, room_on
from outreach.planning.repair import ejection
from outreach.planning.result import Route, Unserved

LOCK_CONFLICT = "LOCK_CONFLICT"
NO_TEAM_OFFERS_SERVICE = "NO_TEAM_OFFERS_SERVICE"
NO_PRINTER = "NO_PRINTER"
HOURS_NEVER_MEET_SHIFT = "HOURS_NEVER_MEET_SHIFT"
UNREACHABLE_WITHIN_SHIFT = "UNREACHABLE_WITHIN_SHIFT"
CARDS_EXHAUSTED = "CARDS_EXHAUSTED"
SEARCH_STOPPED = "SEARCH_STOPPED"
OUTRANKED = "OUTRANKED"
NOT_PLACED = "NOT_PLACED"
IDLE_TIME_UNUSED = "IDLE_TIME_UNUSED"

REASONS: Mapping[str, str] = MappingProxyType(
    {
        LOCK_CONFLICT: "It is locked to team {team} on {date}, where it cannot be served.",
        NO_TEAM_OFFERS_SERVICE: "No team offers {services}.",
        NO_PRINTER: "KTP printing is requested but no team offering it has a printer.",
        HOURS_NEVER_MEET_SHIFT: "Its opening hours never overlap a working shift of a team "
        "that offers its services.",
        UNREACHABLE_WITHIN_SHIFT: "No team can reach it, serve {persons} persons within its "
        "opening hours and return before the end of the shift.",
        CARDS_EXHAUSTED: "Not enough blank cards left for {cards} KTP prints.",
        SEARCH_STOPPED: "The search stopped before placing it, although a team-day is still "
        "free; plan again with more time.",
        OUTRANKED: "It would fit on its own, but the teams' time on the days that could take "
        "it went to sites of the same or higher priority.",
        NOT_PLACED: "{team} could serve it on {date} only in place of {persons} residents of "
        "lower priority, who count for more by priority and number. Lock it to that day to "
        "put it first.",
        IDLE_TIME_UNUSED: "{team} has idle time on {date} while it is open, long enough to "
        "serve it, but the drive there and on to the next stop does not fit that time and the "
        "search found no other arrangement. Plan again with more time, or lock it to that day.",
    }
)
"""Reason code -> English message template."""


Matrices = Mapping[str, tuple[np.ndarray, np.ndarray]]


def place_matrices(problem: Problem) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Travel matrices over :meth:`Problem.places` for every profile in use."""
    places = problem.places()
    profiles = sorted({t.profile for t in problem.teams})
    return {p: problem.travel.matrices(places, p) for p in profiles}


def explain_unserved(
    problem: Problem,
    routes: Sequence[Route],
    remaining: Sequence[tuple[Site, Mapping[Service, int], Sequence[Mapping[Service, int]]]],
    matrices: Matrices | None = None,
    split: frozenset[str] | set[str] = frozenset(),
    weights: Sequence[int] = (16, 8, 4, 2, 1),
) -> list[Unserved]:
    """Give every unserved remainder a reason code and message.

    Parameters
    ----------
    problem
        The problem that was solved.
    routes
        The plan's routes (to find free team-days and used cards).
    remaining
        Per site: the persons not served and the unserved visits (chunks) the solver
        had for them (empty if it had none; the whole remainder is then one visit).
    matrices
        Travel matrices per profile over ``problem.places()`` (computed if omitted).
    split
        Ids of the sites the planner split into several visits: for them a part worth a
        visit counts as fitting idle time (the gap-filling step may insert parts of them).
    weights
        Weight of one resident at priority 1..5 (``SolveParams.priority_weights``): what the
        priority repair weighs when it decides whether a visit takes the place of lower
        priority ones.
    """
    if not remaining:
        return []
    if matrices is None:
        matrices = place_matrices(problem)
    row = {p.key: i for i, p in enumerate(problem.places())}
    used_days = {(r.team_id, r.date) for r in routes if r.stops}
    cards_used = sum(r.cards for r in routes)
    by_day = {(r.team_id, r.date): r for r in routes}
    vehicles = problem.vehicles
    out: list[Unserved] = []
    for site, persons, chunks in remaining:
        partial = dict(persons) != dict(site.demand)
        smallest = min(chunks, key=lambda c: sum(c.values())) if chunks else persons
        code, params = _reason(
            problem,
            site,
            dict(persons),
            dict(smallest),
            vehicles,
            matrices,
            row,
            used_days,
            cards_used,
            weights,
            by_day,
            site.id in split,
        )
        out.append(
            Unserved(
                site_id=site.id,
                persons=dict(persons),
                reason=code,
                message=REASONS[code].format(**params),
                partial=partial,
                params={k: str(v) for k, v in params.items()},
            )
        )
    return out


def _reason(
    problem: Problem,
    site: Site,
    persons: dict[Service, int],
    visit: dict[Service, int],
    vehicles: Sequence[Vehicle],
    matrices: Matrices,
    row: Mapping[tuple[str, str], int],
    used_days: set[tuple[str, object]],
    cards_used: int,
    weights: Sequence[int],
    by_day: Mapping[tuple[str, object], Route] | None = None,
    split: bool = False,
) -> tuple[str, dict[str, object]]:
    cards = sum(n for s, n in persons.items() if s in CARD_SERVICES)
    teams = problem.teams
    if site.lock is not None:
        lk = site.lock
        return LOCK_CONFLICT, {"team": lk.team_id, "date": lk.date.isoformat()}
    missing = [s for s in persons if not any(s in t.services for t in teams)]
    if missing:
        return NO_TEAM_OFFERS_SERVICE, {"services": ", ".join(s.value for s in missing)}
    if any(s in PRINTER_SERVICES for s in persons) and not any(
        t.printer and Service.KTP_PRINT in t.services for t in teams
    ):
        return NO_PRINTER, {}
    if not any(t.can_serve(site) for t in teams):
        return NO_TEAM_OFFERS_SERVICE, {
            "services": " + ".join(s.value for s in persons) + " together"
        }
    # a capable team without a working day in the horizon never meets the site either
    capable = [v for v in vehicles if v.team.can_serve(site)]
    if not any(_overlaps(site, v) for v in capable):
        return HOURS_NEVER_MEET_SHIFT, {}
    visit_cards = sum(n for s, n in visit.items() if s in CARD_SERVICES)
    reachable = [v for v in capable if fits_alone(problem, site, visit, v, matrices, row)]
    if not reachable:
        return UNREACHABLE_WITHIN_SHIFT, {"persons": sum(visit.values())}
    if (
        visit_cards
        and problem.card_stock is not None
        and problem.card_stock - cards_used < visit_cards
    ):
        return CARDS_EXHAUSTED, {"cards": cards}
    fitting = [v for v in reachable if v.team.cards_per_day >= visit_cards]
    if not fitting:
        return CARDS_EXHAUSTED, {"cards": cards}
    if any((v.team.id, v.date) not in used_days for v in fitting):
        return SEARCH_STOPPED, {}
    # "time went to equal or higher priority" only holds when no fitting day has idle
    # time, inside the site's hours, long enough for the visit or a part worth a visit
    for v in fitting:
        need = problem.visit_seconds(site, visit, v.team.kits)
        if split:
            need = min(need, site.setup_s + max(site.setup_s, MIN_PART_SERVICE_S))
        if room_on(problem, v, (by_day or {}).get((v.team.id, v.date)), site, need):
            return IDLE_TIME_UNUSED, {"team": v.team.id, "date": v.date.isoformat()}
    # "outranked" only when no fitting day could take it even without every visit of a
    # lower priority: the same check the priority repair runs (repair.ejection)
    left = None if problem.card_stock is None else problem.card_stock - cards_used
    best = None
    for v in fitting:
        day = _Day(problem, v, (by_day or {}).get((v.team.id, v.date)), matrices, row)
        # the whole remainder, as the repair tried it (a split site: any part of it)
        trial = ejection(problem, day, site, persons, split, weights, left)
        if trial is not None and (best is None or trial.lost < best[0]):
            best = (trial.lost, v)
    if best is not None:
        return NOT_PLACED, {
            "team": best[1].team.id,
            "date": best[1].date.isoformat(),
            "persons": best[0],
        }
    return OUTRANKED, {}


def _overlaps(site: Site, v: Vehicle) -> bool:
    shift = v.shift
    return any(min(w.end, shift.end) > max(w.start, shift.start) for w in site.windows_on(v.date))


def fits_alone(
    problem: Problem,
    site: Site,
    persons: Mapping[Service, int],
    v: Vehicle,
    matrices: Matrices,
    row: Mapping[tuple[str, str], int],
) -> bool:
    """Whether a route start -> site -> end serving ``persons`` fits ``v``'s shift.

    Fixed breaks pause travel and may not overlap the visit; flexible breaks must find
    room before or after the visit. ``matrices`` are over ``problem.places()``.
    """
    dist, dur = matrices[v.team.profile]
    del dist
    a, b, c = row[("start", v.team.id)], row[("site", site.id)], row[("end", v.team.id)]
    out_s, back_s = int(dur[a, b]), int(dur[b, c])
    svc = problem.visit_seconds(site, persons, v.team.kits)
    shift = v.shift
    fixed = [br for br in shift.breaks if br.is_fixed]
    for w in site.windows_on(v.date):
        # the team may drive during fixed breaks; the visit may not overlap them
        start = max(shift.start + out_s, w.start)
        start = _after_breaks(start, svc, fixed)
        end = start + svc
        if end > min(w.end, shift.end):
            continue
        if end + back_s > shift.end:
            continue
        if all(_flexible_fits(br, start, end) for br in shift.breaks if not br.is_fixed):
            return True
    return False


def _after_breaks(start: int, svc: int, breaks: Sequence[Break]) -> int:
    moved = True
    while moved:
        moved = False
        for br in breaks:
            if br.start < start + svc and start < br.end:
                start = br.end
                moved = True
    return start


def _flexible_fits(br: Break, start: int, end: int) -> bool:
    assert br.duration is not None
    before = min(br.end, start) - br.start
    after = br.end - max(br.start, end)
    return max(before, after) >= br.duration
