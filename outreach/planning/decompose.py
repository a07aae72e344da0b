"""Large plans by decomposition: partition, solve the parts apart, stitch, repair the seams.

A province (thousands of sites, dozens of teams, weeks) is too large for one search to do
well in minutes, and one search uses one core. This module cuts the problem into parts
that are solved independently (in parallel processes here, or as RQ jobs by
:mod:`outreach.jobs.parts`), then puts the plans back together:

1. **Partition** (:func:`outreach.planning.partition.partition`). Sites of different
   offices (``office_of``) never share a part. Within an office the sites — whole kecamatan
   when ``group_of`` gives them, so a kecamatan is served by one set of teams — are
   clustered into *territories* by a seeded k-means on their coordinates, and teams are
   dealt to territories by capacity (kit-seconds of their shifts), nearest start first, so
   every territory gets the share of the office's teams its work asks for; teams with a
   service not every team has (a printer for KTP printing) are dealt first, by the
   weighted work of the sites that need them, so that no territory lacks them while they
   last, and a site no team of its territory can serve goes to the nearest territory that
   can. Sites are then moved across territory borders (cheapest detour first, never to a
   territory that cannot serve them) until no territory carries much more work per unit of
   capacity than its neighbours. Only when an office has too few
   teams to give every part two of them is the horizon cut as well, into blocks of whole
   weeks; each site then goes to one block (locked sites to their lock's block), most
   urgent first into the block with the most room. A part aims at
   ``partition.TARGET_SITES`` sites, a size one search plans well in well under a minute
   (the Medan 500-site benchmark).
2. **Solve** each part as its own :class:`Problem`
   (:func:`outreach.planning.partition.subproblem`): its sites, its teams, its dates, a
   share of the blank-card stock in proportion to its card demand, and travel sliced from
   the whole problem's matrices (so a part never asks a routing server).
3. **Stitch** (:func:`stitch`): routes of all parts on one clock (a week block's times move
   by its offset), then the **seam repair**: per territory, over the whole horizon, its
   days take what is left out — its own remainders (a week block's leftovers into another
   week's idle time) and those of nearby sites of its office's other territories (no farther than
   :data:`BORDER_FACTOR` times their own territory's centre) — by gap filling and the
   priority repair (:mod:`outreach.planning.gapfill`, :mod:`outreach.planning.repair`).
   Visit numbers are made unique per site, every left-out remainder is explained against the
   whole problem, and the stitched plan goes through the independent checker: a plan that
   fails it is never returned as feasible (status ``STITCH_INVALID``).

:func:`solve_decomposed` runs the whole pipeline with local processes (``workers`` at a
time): per-part progress, cancellation of every part, and a part whose process dies is run
again exactly once.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from outreach.planning.domain import (
    DAY_SECONDS,
    Problem,
    Service,
    Site,
)
from outreach.planning.partition import (
    TARGET_SITES,
    PartSpec,
    partition,
    place_matrices,
    plane_xy,
    subproblem,
)
from outreach.planning.repair import _renumber
from outreach.planning.result import FEASIBLE_STATUSES, BreakTaken, Result, Route, Stop

BORDER_FACTOR = 1.5
"""A left-out site is offered to another territory in the seam repair when it lies at most
this many times as far from that territory's centre as from its own."""
STITCH_S_PER_SITE = 0.01
"""Seconds of the budget kept back per site for stitching, the seam repair, the reasons and
the check: 49 s for 5,000 sites on the province benchmark (seed 0), 0.0098 s per site."""
MAX_ATTEMPTS = 2
"""A part is run at most twice: a part whose process (or worker) died is retried once."""

ProgressFn = Callable[[int, dict[str, Any]], None]


def _moved_route(r: Route, shift: int) -> Route:
    if not shift:
        return r
    return dataclasses.replace(
        r,
        depart=r.depart + shift,
        arrive=r.arrive + shift,
        stops=tuple(
            dataclasses.replace(
                s, arrival=s.arrival + shift, start=s.start + shift, end=s.end + shift
            )
            for s in r.stops
        ),
        breaks=tuple(
            dataclasses.replace(b, start=b.start + shift, end=b.end + shift) for b in r.breaks
        ),
    )


def routes_to_json(routes: Sequence[Route]) -> list[dict[str, Any]]:
    """Routes as plain JSON (seconds on the part's clock), to store or send a part's plan."""
    return [
        {
            "team_id": r.team_id,
            "date": r.date.isoformat(),
            "depart": r.depart,
            "arrive": r.arrive,
            "distance_m": r.distance_m,
            "travel_s": r.travel_s,
            "breaks": [[b.name, b.start, b.end, b.fixed] for b in r.breaks],
            "stops": [
                [
                    s.site_id,
                    s.visit,
                    s.arrival,
                    s.start,
                    s.end,
                    {k.value: v for k, v in s.persons.items()},
                    s.cards,
                    s.distance_m,
                    s.travel_s,
                ]
                for s in r.stops
            ],
        }
        for r in routes
    ]


def routes_from_json(raw: Sequence[Mapping[str, Any]]) -> list[Route]:
    """The inverse of :func:`routes_to_json`."""
    out = []
    for r in raw:
        out.append(
            Route(
                team_id=str(r["team_id"]),
                date=date.fromisoformat(r["date"]),
                depart=int(r["depart"]),
                arrive=int(r["arrive"]),
                distance_m=int(r["distance_m"]),
                travel_s=int(r["travel_s"]),
                breaks=tuple(
                    BreakTaken(str(n), int(a), int(b), fixed=bool(f)) for n, a, b, f in r["breaks"]
                ),
                stops=tuple(
                    Stop(
                        site_id=str(s[0]),
                        visit=int(s[1]),
                        arrival=int(s[2]),
                        start=int(s[3]),
                        end=int(s[4]),
                        persons={Service(k): int(v) for k, v in s[5].items()},
                        cards=int(s[6]),
                        distance_m=int(s[7]),
                        travel_s=int(s[8]),
                    )
                    for s in r["stops"]
                ),
            )
        )
    return out


# --------------------------------------------------------------------------- stitch


def _served(routes: Sequence[Route]) -> dict[str, dict[Service, int]]:
    out: dict[str, dict[Service, int]] = {}
    for r in routes:
        for st in r.stops:
            d = out.setdefault(st.site_id, {})
            for s, n in st.persons.items():
                d[s] = d.get(s, 0) + n
    return out


def _left(site: Site, served: Mapping[Service, int]) -> dict[Service, int]:
    return {s: n - served.get(s, 0) for s, n in site.demand.items() if n - served.get(s, 0) > 0}


def seam_repair(
    problem: Problem,
    specs: Sequence[PartSpec],
    routes: list[Route],
    matrices: Mapping[str, tuple[np.ndarray, np.ndarray]],
    weights: Sequence[int],
) -> list[Route]:
    """Per territory, over the whole horizon, put left-out remainders (its own and nearby
    ones of its office's other territories) into its days: gap filling, then the priority
    repair."""
    from outreach.planning import gapfill, repair

    sites = {s.id: s for s in problem.sites}
    terr_sites: dict[int, list[str]] = {}
    terr_teams: dict[int, tuple[str, ...]] = {}
    terr_office: dict[int, str] = {}
    for sp in specs:
        terr_sites.setdefault(sp.territory, []).extend(sp.site_ids)
        terr_teams[sp.territory] = sp.team_ids
        terr_office[sp.territory] = sp.office
    home = {sid: t for t, ids in terr_sites.items() for sid in ids}
    order = sorted(terr_sites)
    xy = plane_xy([s.location for s in problem.sites])
    at = {s.id: i for i, s in enumerate(problem.sites)}
    centre = {t: xy[[at[i] for i in terr_sites[t]]].mean(0) for t in order}
    by_team_day = {(r.team_id, r.date): r for r in routes}
    for t in order:
        served = _served(by_team_day.values())
        mine = set(terr_sites[t])
        left_ids = [
            s.id for s in problem.sites if s.lock is None and _left(s, served.get(s.id, {}))
        ]
        cand_ids = []
        for sid in left_ids:
            h = home.get(sid)
            if h == t:
                cand_ids.append(sid)
            elif h is not None and terr_office[h] == terr_office[t]:
                # never across offices: a kabupaten's teams serve its own residents (and
                # its coordinators alone see them, home visits included)
                p = xy[at[sid]]
                if np.sqrt(((p - centre[t]) ** 2).sum()) <= BORDER_FACTOR * np.sqrt(
                    ((p - centre[h]) ** 2).sum()
                ):
                    cand_ids.append(sid)
        if not cand_ids:
            continue
        team_ids = set(terr_teams[t])
        teams = [tm for tm in problem.teams if tm.id in team_ids]
        seam_sites = [sites[i] for i in mine | set(cand_ids)]
        seam_sites.sort(key=lambda s: at[s.id])
        used_elsewhere = sum(r.cards for key, r in by_team_day.items() if key[0] not in team_ids)
        stock = None if problem.card_stock is None else problem.card_stock - used_elsewhere
        spec = PartSpec(-1, t, 0, (), tuple(team_ids), problem.horizon)
        seam = subproblem(problem, spec, matrices, sites=seam_sites, teams=teams, card_stock=stock)
        # the seam problem's sites keep their whole demand (the checker counts the whole);
        # what may be inserted is only what is still left
        index = {s.id: i for i, s in enumerate(seam.sites)}
        own_routes = [r for key, r in by_team_day.items() if key[0] in team_ids]
        own_routes.sort(key=lambda r: (r.date, r.team_id))
        nxt = 1 + max((st.visit for r in routes for st in r.stops), default=0)
        candidates = [
            gapfill.Candidate(index[sid], nxt, _left(sites[sid], served.get(sid, {})), True)
            for sid in cand_ids
        ]
        seam_m = place_matrices(seam)
        filled, left = gapfill.fill(seam, own_routes, candidates, seam_m)
        filled, left = repair.repair(seam, filled, left, seam_m, weights)
        for key in [k for k in by_team_day if k[0] in team_ids]:
            del by_team_day[key]
        for r in filled:
            by_team_day[(r.team_id, r.date)] = r
        del left
    order_v = {(v.team.id, v.date): v.index for v in problem.vehicles}
    out = sorted(by_team_day.values(), key=lambda r: order_v[(r.team_id, r.date)])
    return _renumber(problem, out)


def stitch(
    problem: Problem,
    specs: Sequence[PartSpec],
    part_routes: Sequence[Sequence[Route]],
    *,
    statuses: Sequence[str] = (),
    matrices: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    weights: Sequence[int] = (16, 8, 4, 2, 1),
    seam: bool = True,
    t0: float | None = None,
) -> Result:
    """One plan from the parts' routes (each on its part's clock), seams repaired,
    remainders explained and the whole checked (see the module docstring)."""
    from outreach.planning.checker import check

    t0 = time.monotonic() if t0 is None else t0
    matrices = matrices if matrices is not None else place_matrices(problem)
    routes: list[Route] = []
    for spec, rs in zip(specs, part_routes, strict=True):
        shift = (spec.dates[0] - problem.horizon[0]).days * DAY_SECONDS
        routes.extend(_moved_route(r, shift) for r in rs if r.stops)
    order_v = {(v.team.id, v.date): v.index for v in problem.vehicles}
    routes.sort(key=lambda r: order_v[(r.team_id, r.date)])
    routes = _renumber(problem, routes)
    timings: dict[str, float] = {}
    t_seam = time.monotonic()
    before = routes
    if seam and specs:
        try:
            routes = seam_repair(problem, specs, routes, matrices, weights)
        except Exception:  # noqa: BLE001 - the stitched plan without the repair still stands
            routes = before
    timings["seam"] = time.monotonic() - t_seam
    result = _result(problem, routes, statuses, matrices, weights, t0)
    t_check = time.monotonic()
    problems = check(problem, result)
    if problems and routes is not before:
        # the repair must never cost a valid plan: fall back to the plain stitch
        result = _result(problem, before, statuses, matrices, weights, t0)
        problems = check(problem, result)
    timings["check"] = time.monotonic() - t_check
    if problems:
        result = dataclasses.replace(result, status="STITCH_INVALID")
    return dataclasses.replace(result, timings=timings, runtime_s=time.monotonic() - t0)


def _status(statuses: Sequence[str]) -> str:
    if any(s == "CANCELLED" for s in statuses):
        return "CANCELLED"
    if statuses and all(s in FEASIBLE_STATUSES or s == "NO_VEHICLES" for s in statuses):
        return "ROUTING_SUCCESS"
    if any(s in FEASIBLE_STATUSES for s in statuses):
        return "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED"
    return statuses[0] if statuses else "ROUTING_SUCCESS"


def _result(
    problem: Problem,
    routes: list[Route],
    statuses: Sequence[str],
    matrices: Mapping[str, tuple[np.ndarray, np.ndarray]],
    weights: Sequence[int],
    t0: float,
) -> Result:
    from outreach.planning.explain import explain_unserved

    served = _served(routes)
    remaining = []
    for s in problem.sites:
        left = _left(s, served.get(s.id, {}))
        if left:
            remaining.append((s, left, []))
    split = frozenset(st.site_id for r in routes for st in r.stops if st.visit > 0)
    unserved = explain_unserved(
        problem, tuple(routes), remaining, matrices, split=split, weights=weights
    )
    capacity = {t.id: 0 for t in problem.teams}
    for v in problem.vehicles:
        capacity[v.team.id] += v.shift.working_seconds
    return Result(
        status=_status(statuses),
        routes=tuple(routes),
        unserved=tuple(unserved),
        horizon_start=problem.horizon[0],
        utc_offset_minutes=problem.utc_offset_minutes,
        objective=0,
        runtime_s=time.monotonic() - t0,
        requested={s.id: dict(s.demand) for s in problem.sites},
        priorities={s.id: s.priority for s in problem.sites},
        team_capacity_s=capacity,
        required_missing=tuple(s.id for s, _, _ in remaining if s.required),
    )


# --------------------------------------------------------------------------- local runner


def stitch_reserve(n_sites: int, budget_s: float) -> float:
    """Seconds of a budget kept for the stitch: :data:`STITCH_S_PER_SITE` per site, at
    least one, at most half the budget."""
    return min(0.5 * budget_s, max(1.0, STITCH_S_PER_SITE * n_sites))


def part_time_limit(solve_s: float, parts: int, workers: int) -> float:
    """Seconds per part so that all parts, ``workers`` at a time, end within ``solve_s``
    (the budget less the stitch reserve)."""
    rounds = math.ceil(parts / max(1, workers))
    return max(1.0, solve_s / max(1, rounds))


def _part_main(problem: Problem, params: Any, conn: Any, cancel: Any) -> None:
    """A part's process: solve, send progress and then the routes."""
    from outreach.planning.solver import solve

    def progress(p: Any) -> None:
        try:
            conn.send(
                (
                    "progress",
                    {
                        "persons_served": p.persons_served,
                        "persons_requested": p.persons_requested,
                        "distance_km": round(p.distance_km, 3),
                        "elapsed_s": round(p.elapsed_s, 2),
                    },
                )
            )
        except Exception:  # noqa: BLE001 - a closed pipe must not stop the search
            pass

    try:
        result = solve(problem, params, progress=progress, cancel=cancel.is_set)
        conn.send(
            (
                "done",
                {
                    "status": result.status,
                    "routes": routes_to_json(result.routes),
                    "persons_served": result.persons_served,
                    "persons_requested": result.persons_requested,
                },
            )
        )
    except Exception as exc:  # noqa: BLE001
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class PartFailed(RuntimeError):
    """A part could not be solved, even after its one retry."""


def run_parts_locally(
    problems: Sequence[Problem],
    params: Sequence[Any],
    *,
    workers: int = 2,
    progress: ProgressFn | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
    on_start: Callable[[int, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Solve ``problems`` in processes, ``workers`` at a time; return each part's
    ``{"status", "routes"(json), ...}``.

    ``progress(i, info)`` gets each part's improving solutions and state changes;
    ``on_start(i, pid, attempt)`` is told which process runs a part. A part whose process
    dies without an answer (killed, out of memory) runs again once; a second death raises
    :class:`PartFailed`. ``cancel`` stops every running part (each returns its best plan so
    far) and starts no more.
    """
    import multiprocessing as mp
    from multiprocessing.connection import wait

    if cancel is None:
        is_cancelled: Callable[[], bool] = lambda: False  # noqa: E731
    elif isinstance(cancel, threading.Event):
        is_cancelled = cancel.is_set
    else:
        is_cancelled = cancel
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    pending = list(range(len(problems)))
    attempts = [0] * len(problems)
    results: list[dict[str, Any] | None] = [None] * len(problems)
    running: dict[Any, tuple[int, Any]] = {}  # conn -> (part, process)
    try:
        while pending or running:
            if is_cancelled():
                stop.set()
            while pending and len(running) < max(1, workers) and not stop.is_set():
                i = pending.pop(0)
                attempts[i] += 1
                parent, child = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=_part_main, args=(problems[i], params[i], child, stop), daemon=True
                )
                proc.start()
                child.close()
                running[parent] = (i, proc)
                if on_start is not None:
                    on_start(i, proc.pid or 0, attempts[i])
                if progress is not None:
                    progress(i, {"state": "running", "attempt": attempts[i]})
            if stop.is_set() and pending:
                for i in pending:
                    results[i] = {"status": "CANCELLED", "routes": []}
                    if progress is not None:
                        progress(i, {"state": "cancelled"})
                pending = []
            if not running:
                continue
            for conn in wait(list(running), timeout=0.2):
                i, proc = running[conn]
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    kind, payload = "died", None
                if kind == "progress":
                    if progress is not None:
                        progress(i, {"state": "running", **payload})
                    continue
                del running[conn]
                conn.close()
                proc.join(timeout=5)
                if kind == "done":
                    results[i] = payload
                    if progress is not None:
                        progress(
                            i,
                            {
                                "state": "done",
                                **{k: v for k, v in payload.items() if k != "routes"},
                            },
                        )
                elif kind == "error":
                    raise PartFailed(f"part {i + 1}: {payload}")
                elif attempts[i] < MAX_ATTEMPTS and not stop.is_set():
                    pending.insert(0, i)  # its process died: once more, first in line
                    if progress is not None:
                        progress(i, {"state": "retrying", "exitcode": proc.exitcode})
                else:
                    raise PartFailed(
                        f"part {i + 1}: its process died twice (exit code {proc.exitcode})"
                    )
    finally:
        stop.set()
        for conn, (_, proc) in running.items():
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
            conn.close()
    return [r if r is not None else {"status": "CANCELLED", "routes": []} for r in results]


def solve_decomposed(
    problem: Problem,
    params: Any = None,
    *,
    workers: int = 2,
    target_sites: int = TARGET_SITES,
    office_of: Mapping[str, str] | None = None,
    group_of: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
) -> Result:
    """Partition, solve the parts in local processes, stitch (see the module docstring).

    ``params.time_limit_s`` is the wall-time budget of the whole; each part gets
    :func:`part_time_limit` of it and runs with one core (``workers=1``), seeded
    ``params.seed + part index``."""
    from outreach.planning.solver import SolveParams

    params = params or SolveParams()
    t0 = time.monotonic()
    specs = partition(
        problem,
        target_sites=target_sites,
        office_of=office_of,
        group_of=group_of,
        seed=params.seed,
    )
    matrices = place_matrices(problem)
    problems = [subproblem(problem, sp, matrices) for sp in specs]
    reserve = stitch_reserve(len(problem.sites), params.time_limit_s)
    budget = max(1.0, params.time_limit_s - reserve - (time.monotonic() - t0))
    limit = part_time_limit(budget, len(specs), workers)
    part_params = [
        dataclasses.replace(params, time_limit_s=limit, seed=params.seed + sp.index, workers=1)
        for sp in specs
    ]
    outs = run_parts_locally(
        problems, part_params, workers=workers, progress=progress, cancel=cancel
    )
    t_solve = time.monotonic() - t0
    result = stitch(
        problem,
        specs,
        [routes_from_json(o["routes"]) for o in outs],
        statuses=[o["status"] for o in outs],
        matrices=matrices,
        weights=params.priority_weights,
        t0=t0,
    )
    timings = {"parts": t_solve, **result.timings}
    return dataclasses.replace(result, timings=timings, runtime_s=time.monotonic() - t0)


__all__ = [
    "MAX_ATTEMPTS",
    "PartFailed",
    "part_time_limit",
    "routes_from_json",
    "routes_to_json",
    "run_parts_locally",
    "seam_repair",
    "solve_decomposed",
    "stitch_reserve",
    "stitch",
]
