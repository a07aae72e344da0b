"""Independent verification of a plan against its problem.

:func:`check` recomputes everything from the :class:`~outreach.planning.domain.Problem`
alone — its own travel matrices from the problem's travel model, service times from
the per-person rates and kits — and never trusts what the solver reports. It imports
nothing from the solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from outreach.planning.domain import CARD_SERVICES, Break, Problem, Service, Team
from outreach.planning.result import Result, Route, Stop


@dataclass(frozen=True)
class Violation:
    """One broken rule: a machine code and a sentence naming the route, stop or site.

    The optional fields say the same in structured form, for callers that word their own
    sentence: ``team_id`` and ``date`` of the route, ``site_id`` and ``visit`` of the stop
    or site. A field is ``None`` when the rule concerns no such thing (e.g. the plan-wide
    card stock, or a site-level demand rule has no route).
    """

    code: str
    message: str
    team_id: str | None = None
    date: date | None = None
    site_id: str | None = None
    visit: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _on_route(code: str, message: str, route: Route) -> Violation:
    """A violation of one route (team-day)."""
    return Violation(code, message, team_id=route.team_id, date=route.date)


def _on_stop(code: str, message: str, route: Route, stop: Stop) -> Violation:
    """A violation of one stop of a route."""
    return Violation(
        code,
        message,
        team_id=route.team_id,
        date=route.date,
        site_id=stop.site_id,
        visit=stop.visit,
    )


def check(problem: Problem, result: Result) -> list[Violation]:
    """Verify ``result`` against ``problem``; an empty list means the plan is valid.

    Checked: routes belong to a team's working date in the horizon (one route each);
    each visit of a site appears once and the persons served per site and service never
    exceed its demand; served + unserved equals the demand; skills (services offered,
    printer); each visit lies inside one opening window of its site on that date, inside
    the shift, clear of breaks; arrivals respect recomputed travel (breaks pause
    travel); visit durations equal setup + persons × rate ÷ kits; each shift break is
    taken once inside its allowed range; blank cards per stop, per team-day and against
    the office stock; locks (team, date, relative order); reported distances and travel
    times equal recomputed ones.
    """
    v: list[Violation] = []
    places = problem.places()
    row = {p.key: i for i, p in enumerate(places)}
    profiles = sorted({t.profile for t in problem.teams})
    matrices = {p: problem.travel.matrices(places, p) for p in profiles}
    sites = {s.id: s for s in problem.sites}
    teams = {t.id: t for t in problem.teams}
    horizon = set(problem.horizon)
    seen_routes: set[tuple[str, date]] = set()
    seen_visits: set[tuple[str, int]] = set()
    served: dict[str, dict[Service, int]] = {s.id: {} for s in problem.sites}
    cards_total = 0

    for route in result.routes:
        where = f"route {route.team_id} {route.date}"
        team = teams.get(route.team_id)
        if team is None:
            v.append(_on_route("UNKNOWN_TEAM", f"{where}: no such team", route))
            continue
        shift = team.shift_on(route.date)
        if shift is None or route.date not in horizon:
            v.append(_on_route("NOT_WORKING", f"{where}: the team does not work that date", route))
            continue
        if (team.id, route.date) in seen_routes:
            v.append(_on_route("DUPLICATE_ROUTE", f"{where}: two routes for one team-day", route))
        seen_routes.add((team.id, route.date))
        off = problem.day_offset(route.date)
        dist, dur = matrices[team.profile]
        breaks = _check_breaks(v, where, route, shift.breaks, off)
        # flexible breaks pause travel; during fixed ones (prayer) the team may drive
        pausing = [(a, b) for a, b, fixed in breaks if not fixed]

        if route.depart < off + shift.start:
            v.append(_on_route("SHIFT", f"{where}: departs before the shift starts", route))
        prev_row = row[("start", team.id)]
        prev_end = route.depart
        metres = 0
        travel = 0
        locked_positions: list[tuple[int, str]] = []
        route_cards = 0
        for k, stop in enumerate(route.stops):
            at = f"{where} stop {k} ({stop.site_id} visit {stop.visit})"
            site = sites.get(stop.site_id)
            if site is None:
                v.append(_on_stop("UNKNOWN_SITE", f"{at}: no such site", route, stop))
                continue
            if (site.id, stop.visit) in seen_visits:
                v.append(_on_stop("DUPLICATE_VISIT", f"{at}: visit planned twice", route, stop))
            seen_visits.add((site.id, stop.visit))
            here = row[("site", site.id)]
            leg_m, leg_s = int(dist[prev_row, here]), int(dur[prev_row, here])
            metres += leg_m
            travel += leg_s
            if stop.distance_m != leg_m or stop.travel_s != leg_s:
                v.append(
                    _on_stop(
                        "DISTANCE",
                        f"{at}: leg reported {stop.distance_m} m/{stop.travel_s} s, "
                        f"recomputed {leg_m} m/{leg_s} s",
                        route,
                        stop,
                    )
                )
            earliest = _arrive(prev_end, leg_s, pausing)
            if stop.arrival < earliest or stop.start < earliest:
                v.append(
                    _on_stop(
                        "TRAVEL",
                        f"{at}: arrives at {stop.arrival}/starts {stop.start}, "
                        f"but cannot arrive before {earliest}",
                        route,
                        stop,
                    )
                )
            if stop.start < stop.arrival:
                v.append(_on_stop("TRAVEL", f"{at}: starts before arriving", route, stop))
            persons = {s: n for s, n in stop.persons.items() if n}
            if any(n < 0 for n in stop.persons.values()) or not persons:
                v.append(_on_stop("PERSONS", f"{at}: persons must be positive", route, stop))
            for s, n in persons.items():
                if not team.offers(s):
                    v.append(
                        _on_stop("SKILL", f"{at}: team {team.id} cannot do {s.value}", route, stop)
                    )
                served[site.id][s] = served[site.id].get(s, 0) + n
            expected = site.setup_s + _service_seconds(problem, persons, team)
            if stop.end - stop.start != expected:
                v.append(
                    _on_stop(
                        "DURATION",
                        f"{at}: lasts {stop.end - stop.start} s, expected {expected} s",
                        route,
                        stop,
                    )
                )
            if not any(
                off + w.start <= stop.start and stop.end <= off + w.end
                for w in site.windows_on(route.date)
            ):
                v.append(_on_stop("WINDOW", f"{at}: not inside an opening window", route, stop))
            if stop.start < off + shift.start or stop.end > off + shift.end:
                v.append(_on_stop("SHIFT", f"{at}: outside the shift", route, stop))
            for b in breaks:
                if b[0] < stop.end and stop.start < b[1]:
                    v.append(_on_stop("BREAK", f"{at}: overlaps a break", route, stop))
            cards = sum(n for s, n in persons.items() if s in CARD_SERVICES)
            if stop.cards != cards:
                v.append(
                    _on_stop(
                        "CARDS", f"{at}: reports {stop.cards} cards, needs {cards}", route, stop
                    )
                )
            route_cards += cards
            if site.lock is not None:
                lk = site.lock
                if lk.team_id != team.id or lk.date != route.date:
                    v.append(
                        _on_stop("LOCK", f"{at}: locked to {lk.team_id} on {lk.date}", route, stop)
                    )
                else:
                    locked_positions.append((lk.position, site.id))
            prev_row, prev_end = here, stop.end
        back = row[("end", team.id)]
        leg_m, leg_s = int(dist[prev_row, back]), int(dur[prev_row, back])
        metres += leg_m
        travel += leg_s
        if route.arrive < _arrive(prev_end, leg_s, pausing):
            v.append(_on_route("TRAVEL", f"{where}: returns earlier than travel allows", route))
        if route.arrive > off + shift.end:
            v.append(_on_route("SHIFT", f"{where}: returns after the shift ends", route))
        if route.distance_m != metres or route.travel_s != travel:
            v.append(
                _on_route(
                    "DISTANCE",
                    f"{where}: reported {route.distance_m} m/{route.travel_s} s, "
                    f"recomputed {metres} m/{travel} s",
                    route,
                )
            )
        if locked_positions != sorted(locked_positions):
            v.append(_on_route("LOCK", f"{where}: locked sites out of their order", route))
        if route_cards > team.cards_per_day:
            v.append(
                _on_route(
                    "CARDS",
                    f"{where}: {route_cards} blank cards, team carries {team.cards_per_day}",
                    route,
                )
            )
        cards_total += route_cards

    if problem.card_stock is not None and cards_total > problem.card_stock:
        v.append(
            Violation("CARD_STOCK", f"plan uses {cards_total} cards, stock is {problem.card_stock}")
        )
    unserved: dict[str, dict[Service, int]] = {s.id: {} for s in problem.sites}
    for u in result.unserved:
        if u.site_id not in unserved:
            v.append(
                Violation("UNKNOWN_SITE", f"unserved {u.site_id}: no such site", site_id=u.site_id)
            )
            continue
        for s, n in u.persons.items():
            unserved[u.site_id][s] = unserved[u.site_id].get(s, 0) + n
    for site in problem.sites:
        for s in set(site.demand) | set(served[site.id]):
            want = site.demand.get(s, 0)
            got = served[site.id].get(s, 0)
            if got > want:
                v.append(
                    Violation(
                        "OVER_DEMAND",
                        f"site {site.id}: {got} {s.value} planned, only {want} waiting",
                        site_id=site.id,
                    )
                )
            elif got + unserved[site.id].get(s, 0) != want:
                v.append(
                    Violation(
                        "ACCOUNTING",
                        f"site {site.id}: served {got} + unserved "
                        f"{unserved[site.id].get(s, 0)} {s.value} != demand {want}",
                        site_id=site.id,
                    )
                )
    total_m = sum(r.distance_m for r in result.routes)
    if result.distance_m != total_m:
        v.append(Violation("DISTANCE", "total distance differs from the sum of routes"))
    return v


def _service_seconds(problem: Problem, persons: dict[Service, int], team: Team) -> int:
    work = sum(problem.seconds_per_person[s] * n for s, n in persons.items())
    return -(-work // team.kits)


def _check_breaks(
    v: list[Violation], where: str, route: Route, shift_breaks: Sequence[Break], off: int
) -> list[tuple[int, int, bool]]:
    """Each shift break taken once, with its duration, inside its range; no overlaps.

    Returns ``(start, end, fixed)`` per taken break, ``fixed`` as the problem says.
    """
    taken = sorted((b.start, b.end, b.name) for b in route.breaks)
    wanted = sorted(shift_breaks, key=lambda b: b.start)
    if len(taken) != len(wanted):
        v.append(
            _on_route(
                "BREAK", f"{where}: {len(taken)} breaks taken, shift has {len(wanted)}", route
            )
        )
        return [(a, b, False) for a, b, _ in taken]
    out = []
    for (start, end, name), b in zip(taken, wanted, strict=True):
        if end - start != b.duration or start < off + b.start or end > off + b.end:
            v.append(
                _on_route("BREAK", f"{where}: break {name!r} at a wrong time or length", route)
            )
        out.append((start, end, b.is_fixed))
    for a, b in zip(taken, taken[1:], strict=False):
        if b[0] < a[1]:
            v.append(_on_route("BREAK", f"{where}: breaks overlap", route))
    return out


def _arrive(leave: int, travel: int, breaks: Sequence[tuple[int, int]]) -> int:
    """Earliest arrival when leaving at ``leave``; no travel happens during a break."""
    t, left = leave, travel
    for b_start, b_end in breaks:
        if b_end <= t:
            continue
        if t + left <= b_start:
            break
        left -= max(0, b_start - t)
        t = b_end
    return t + left


__all__ = ["Violation", "check"]
