"""Reading a search's solution into a :class:`~outreach.planning.result.Result`.

:func:`_to_result` turns the assignment into routes (stop times, flexible breaks taken,
departures as late as the first stop allows), then, with ``params.gap_fill``, fills the
teams' idle time with left-out visits (:mod:`outreach.planning.gapfill`) and swaps in
higher-priority visits (:mod:`outreach.planning.repair`), and finally gives every unserved
remainder its reason (:func:`outreach.planning.explain.explain_unserved`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from outreach.planning import gapfill, repair
from outreach.planning.domain import Problem, Service, Site
from outreach.planning.explain import explain_unserved
from outreach.planning.model import _Model
from outreach.planning.result import BreakTaken, Result, Route, Stop


def _to_result(
    problem: Problem,
    model: _Model | None,
    solution: Any,
    status: str,
    t0: float,
    history: tuple[tuple[float, int, float], ...],
    fill: bool = True,
    weights: Sequence[int] | None = None,
) -> Result:
    """The plan of ``solution`` as a :class:`Result`; ``model`` is ``None`` when there
    was nothing to search (no team-days), ``solution`` when the search found no plan.

    ``fill=False`` skips gap filling and priority repair (the search's own plan).
    ``weights``, the weight of one resident at priority 1..5 for the reasons, is needed
    only without a model (``solve`` passes ``DEFAULT_WEIGHTS``); with one, its
    ``params.priority_weights`` apply.
    """
    routes: list[Route] = []
    search_routes: tuple[Route, ...] | None = None
    served: dict[str, dict[Service, int]] = {s.id: {} for s in problem.sites}
    served_groups: set[tuple[int, int]] = set()
    objective = 0
    if model is not None and solution is not None:
        objective = solution.ObjectiveValue()
        routing, manager, td = model.routing, model.manager, model.time_dim
        tick = model.params.time_tick_s
        for v in model.vehicles:
            i = routing.Start(v.index)
            nxt = solution.Value(routing.NextVar(i))
            if routing.IsEnd(nxt):
                continue
            prof = v.team.profile
            d, t = model.dist[prof], model.dur[prof]
            off = problem.day_offset(v.date)
            taken = []  # flexible breaks: they pause travel too
            for name, seconds, iv in model.breaks.get(v.index, []):
                if solution.PerformedValue(iv):
                    s0 = off + solution.StartValue(iv) * tick
                    taken.append(BreakTaken(name, s0, s0 + seconds))
            taken.sort(key=lambda b: b.start)
            fixed = [
                BreakTaken(b.name, off + b.start, off + b.end, fixed=True)
                for b in v.shift.breaks
                if b.is_fixed
            ]
            prev_node = manager.IndexToNode(i)
            prev_end = off + solution.Value(td.CumulVar(i)) * tick
            depart = prev_end
            stops: list[Stop] = []
            metres = travel = 0
            i = nxt
            while True:
                node = manager.IndexToNode(i)
                leg_m, leg_s = int(d[prev_node, node]), int(t[prev_node, node])
                metres += leg_m
                travel += leg_s
                if routing.IsEnd(i):
                    arrive = _arrival(prev_end, leg_s, taken)
                    break
                visit = model.visits[node - model.depot_nodes]
                start = off + solution.Value(td.CumulVar(i)) * tick
                arrival = min(start, _arrival(prev_end, leg_s, taken))
                if not stops:
                    # leave as late as possible: the team need not wait at the site
                    depart = max(depart, _latest_departure(start, leg_s, taken, depart))
                    arrival = min(start, _arrival(depart, leg_s, taken))
                site = problem.sites[visit.site_index]
                stops.append(
                    Stop(
                        site_id=site.id,
                        visit=visit.chunk,
                        arrival=arrival,
                        start=start,
                        end=start + visit.service_s[v.team.kits],
                        persons=dict(visit.persons),
                        cards=visit.cards,
                        distance_m=leg_m,
                        travel_s=leg_s,
                    )
                )
                served_groups.add((visit.site_index, visit.chunk))
                for s, n in visit.persons.items():
                    served[site.id][s] = served[site.id].get(s, 0) + n
                prev_end = start + visit.service_s[v.team.kits]
                prev_node = node
                i = solution.Value(routing.NextVar(i))
            routes.append(
                Route(
                    team_id=v.team.id,
                    date=v.date,
                    depart=depart,
                    arrive=arrive,
                    stops=tuple(stops),
                    breaks=tuple(sorted(taken + fixed, key=lambda b: b.start)),
                    distance_m=metres,
                    travel_s=travel,
                )
            )
    open_chunks: dict[int, dict[int, Mapping[Service, int]]] = {}
    if model is not None:
        for v in model.visits:
            if (v.site_index, v.chunk) not in served_groups:
                open_chunks.setdefault(v.site_index, {})[v.chunk] = v.persons
    if model is not None and fill and model.params.gap_fill and open_chunks:
        split = {v.site_index for v in model.visits if v.chunk > 0}
        candidates = [
            gapfill.Candidate(si, chunk, persons, si in split)
            for si, chunks in open_chunks.items()
            for chunk, persons in chunks.items()
        ]
        search_routes = tuple(routes)
        routes, left = gapfill.fill(problem, routes, candidates, model.full)
        if model.params.priority_repair:
            routes, left = repair.repair(
                problem, routes, left, model.full, model.params.priority_weights
            )
        open_chunks = {}
        for c in left:
            open_chunks.setdefault(c.site_index, {})[c.chunk] = c.persons
        served = {s.id: {} for s in problem.sites}
        for r in routes:
            for stop in r.stops:
                for s, n in stop.persons.items():
                    served[stop.site_id][s] = served[stop.site_id].get(s, 0) + n
    remaining: list[tuple[Site, dict[Service, int], list[Mapping[Service, int]]]] = []
    for si, site in enumerate(problem.sites):
        left = {s: n - served[site.id].get(s, 0) for s, n in site.demand.items()}
        left = {s: n for s, n in left.items() if n > 0}
        if left:
            remaining.append((site, left, list(open_chunks.get(si, {}).values())))
    unserved = explain_unserved(
        problem,
        tuple(routes),
        remaining,
        None if model is None else model.full,
        split=frozenset()
        if model is None
        else frozenset(problem.sites[v.site_index].id for v in model.visits if v.chunk > 0),
        weights=weights if model is None else model.params.priority_weights,
    )
    required_missing = tuple(s.id for s, _, _ in remaining if s.required)
    capacity = {t.id: 0 for t in problem.teams}
    for v in problem.vehicles:
        capacity[v.team.id] += v.shift.working_seconds
    return Result(
        status=status,
        routes=tuple(routes),
        unserved=tuple(unserved),
        horizon_start=problem.horizon[0],
        utc_offset_minutes=problem.utc_offset_minutes,
        objective=int(objective),
        runtime_s=time.monotonic() - t0,
        requested={s.id: dict(s.demand) for s in problem.sites},
        priorities={s.id: s.priority for s in problem.sites},
        team_capacity_s=capacity,
        required_missing=required_missing,
        progress=history,
        search_routes=search_routes,
    )


def _arrival(leave: int, travel: int, breaks: Sequence[BreakTaken]) -> int:
    """Arrival after leaving at ``leave`` and driving ``travel`` s, pausing for breaks."""
    t = leave
    left = travel
    for b in breaks:
        if b.end <= t:
            continue
        if t + left <= b.start:
            break
        left -= max(0, b.start - t)
        t = b.end
    return t + left


def _latest_departure(start: int, travel: int, breaks: Sequence[BreakTaken], earliest: int) -> int:
    """Latest departure reaching the first stop by ``start`` (not before ``earliest``)."""
    lo, hi = earliest, start
    if _arrival(lo, travel, breaks) > start:
        return earliest
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _arrival(mid, travel, breaks) <= start:
            lo = mid
        else:
            hi = mid - 1
    return lo
