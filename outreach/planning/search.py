"""Search strategy on a built model: construction, metaheuristic, restarts, second core.

:func:`_search` builds the start (the prize-aware numpy greedy, :func:`_greedy_routes`,
loaded with ``RoutesToAssignment``, or OR-Tools' own first solution), lets the
metaheuristic improve it, then restarts from a ruined copy of the best plan
(:func:`_ruin`) until the time limit. With ``workers=2`` a forked process
(:func:`_worker_main`) runs the same phases with another seed; the caller keeps the
better plan. See the design notes of :mod:`outreach.planning.solver` (*Search*).

``params`` is a :class:`outreach.planning.solver.SolveParams`; it is typed ``Any`` here
because the solver imports this module, never the other way round.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from outreach.planning.domain import Problem
from outreach.planning.model import _STATUS, _build, _Model, _search_parameters


def _search(
    model: _Model, t0: float, cancelled: list[bool], timings: dict[str, float]
) -> tuple[Any, str]:
    """Construction, metaheuristic and restarts until ``params.time_limit_s`` after ``t0``.

    Returns the best assignment (``None`` if none was found) and the status name.
    """
    params, routing = model.params, model.routing
    remaining = params.time_limit_s - (time.monotonic() - t0)
    runs = 1 + params.restarts
    first_share = remaining / runs
    search = _search_parameters(len(model.visits), params, max(0.01, first_share))
    initial = None
    construction = params.construction
    if construction == "auto":
        construction = "greedy" if len(model.visits) > params.greedy_above else "solver"
    if construction == "greedy":
        routing.CloseModelWithParameters(search)
        # two greedy starts, by value per tick and priority first; the one leaving the
        # smaller penalty (residents x priority weight) unserved wins
        greedy = min(
            (_greedy_routes(model), _greedy_routes(model, priority_first=True)),
            key=lambda routes: _unserved_penalty(model, routes),
        )
        initial = _start_from(routing, greedy)
        left = params.time_limit_s - (time.monotonic() - t0)
        # large searches overrun their limit by several seconds (one local-search
        # pass must finish); keep a margin so the whole solve meets time_limit_s
        left -= min(5.0, 0.1 * left) if left > 10 else 0.0
        search = _search_parameters(len(model.visits), params, max(0.01, left / runs))
    timings["construction"] = time.monotonic() - t0 - timings.get("build", 0.0)
    if initial is not None:
        solution = routing.SolveFromAssignmentWithParameters(initial, search)
        status_name = _STATUS.Name(routing.status())
        if solution is None:
            # no time left to improve it: the greedy start is still a valid plan
            solution = _restore(model, greedy)
            status_name = "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED"
    else:
        solution = routing.SolveWithParameters(search)
        status_name = _STATUS.Name(routing.status())
        if solution is None and not cancelled[0]:
            # the construction found nothing in time: fall back to the greedy plan
            solution = _restore(model, _greedy_routes(model))
            status_name = "GREEDY_FALLBACK" if solution is not None else status_name
    rng = np.random.default_rng(params.seed)
    if solution is not None and params.restarts > 0 and not cancelled[0]:
        # OR-Tools reuses the assignment a solve returns, so a later solve would turn
        # "the best" into another plan (benchmarks/RESULTS.md R4): keep a copy
        best_plan = routing.solver().Assignment(solution)
        best_obj = solution.ObjectiveValue()
        per_run = params.restart_limit_s or params.time_limit_s / runs
        # with a solution limit (reproducible runs) do exactly `restarts` runs;
        # otherwise keep restarting from the best plan until the time is up
        budget = params.restarts if params.solution_limit is not None else None
        done = fails = 0
        current_plan, current_obj = best_plan, best_obj
        while not cancelled[0] and fails < 50 and (budget is None or done < budget):
            left = params.time_limit_s - (time.monotonic() - t0)
            if left <= 0.05:
                break
            done += 1
            perturbed = _ruin(model, _routes_of(model, current_plan), rng, params)
            start = _start_from(routing, perturbed)
            if start is None:
                fails += 1
                continue
            p = _search_parameters(len(model.visits), params, min(left, per_run))
            candidate = routing.SolveFromAssignmentWithParameters(start, p)
            if candidate is None:
                fails += 1
                continue
            obj = candidate.ObjectiveValue()
            # record-to-record travel: a candidate within a shrinking margin of the best
            # becomes the plan the next restart perturbs (threshold 0 = improvements only)
            used = (time.monotonic() - t0) / params.time_limit_s
            margin = params.restart_threshold * max(0.0, 1.0 - used)
            if obj < best_obj:
                best_plan = routing.solver().Assignment(candidate)
                best_obj = obj
                status_name = _STATUS.Name(routing.status())
                current_plan, current_obj = best_plan, obj
            elif obj < current_obj or obj <= best_obj * (1.0 + margin):
                current_plan = routing.solver().Assignment(candidate)
                current_obj = obj
        solution = best_plan
    return solution, status_name


def _start_from(routing: Any, routes: list[list[int]]) -> Any:
    """An assignment of the next variables for ``routes``, to start a search from.

    ``ReadAssignmentFromRoutes`` returns ROUTING_FAIL in 9.15 even on feasible routes
    (the unperturbed best plan of a solve included, benchmarks/RESULTS.md R3), so the
    routes are written with ``RoutesToAssignment``; the search fills in the rest. The
    old call stays as the fallback. ``None`` when neither loads the routes.
    """
    start = routing.solver().Assignment()
    if routing.RoutesToAssignment(routes, True, True, start):
        return start
    return routing.ReadAssignmentFromRoutes(routes, True)


def _restore(model: _Model, routes: list[list[int]]) -> Any:
    """A complete assignment (times, objective) of ``routes``, or ``None``.

    A search from the routes that stops at its first solution, i.e. the routes
    themselves with every dimension variable set.
    """
    start = _start_from(model.routing, routes)
    if start is None:
        return None
    p = _search_parameters(len(model.visits), model.params, 5.0)
    p.solution_limit = 1
    return model.routing.SolveFromAssignmentWithParameters(start, p)


def _greedy_routes(model: _Model, priority_first: bool = False) -> list[list[int]]:
    """Prize-aware construction: per team-day, add the feasible visit worth most per tick.

    Uses exactly the model's quantities (ticks, start intervals, transit = travel +
    visit, shift end, cards per day and stock), so the routes load as a valid start.
    Locked visits and team-days with flexible breaks are left to the search.
    """
    visits, vehicles = model.visits, model.vehicles
    n = len(visits)
    routes: list[list[int]] = [[] for _ in vehicles]
    if n == 0:
        return routes
    problem, manager, routing = model.problem, model.manager, model.routing
    tick = model.params.time_tick_s
    d0 = model.depot_nodes
    lo = np.array([v.starts[0] for v in visits], dtype=np.int64)
    hi = np.array([v.starts[1] for v in visits], dtype=np.int64)
    cards = np.array([v.cards for v in visits], dtype=np.int64)
    keys = list(model.penalties)
    key_pos = {k: i for i, k in enumerate(keys)}
    group = np.array([key_pos[(v.site_index, v.chunk)] for v in visits], dtype=np.int64)
    value = np.array([float(model.penalties[k]) for k in keys])[group]
    # priority_first: a feasible visit of a higher priority always beats any of a lower
    # one; within a priority, value per tick decides
    rank = np.array([5 - problem.sites[v.site_index].priority for v in visits], dtype=float)
    allowed = np.zeros((n, len(vehicles)), dtype=bool)
    locked = np.zeros(n, dtype=bool)
    for k, v in enumerate(visits):
        allowed[k, list(v.vehicles)] = True
        locked[k] = problem.sites[v.site_index].lock is not None
    used = np.zeros(len(keys), dtype=bool)
    stock = problem.card_stock if problem.card_stock is not None else 2**62
    travel_t = {prof: -(-m // tick) for prof, m in model.dur.items()}

    # state per team-day: clock, position, cards left; all routes grow in parallel and
    # each step commits the best (value per tick) extension over all team-days
    state: dict[int, list[int]] = {}
    for veh in vehicles:
        if any(not b.is_fixed for b in veh.shift.breaks):
            continue  # flexible breaks: leave these days to the search
        state[veh.index] = [
            -(-veh.shift.start // tick),
            manager.IndexToNode(routing.Start(veh.index)),
            veh.team.cards_per_day if veh.team.printer else 0,
        ]
    candidates = {i: allowed[:, i] & ~locked for i in state}

    def best_for(i: int) -> tuple[float, int, int]:
        veh = vehicles[i]
        t, pos, cards_left = state[i]
        idx = np.nonzero(candidates[i] & ~used[group])[0]
        if idx.size == 0:
            return (-1.0, -1, 0)
        tt = travel_t[veh.team.profile]
        start = np.maximum(t + tt[pos, d0 + idx], lo[idx])
        finish = start + model.service[veh.team.kits][d0 + idx]
        end_node = manager.IndexToNode(routing.End(i))
        ok = (
            (start <= hi[idx])
            & (finish + tt[d0 + idx, end_node] <= veh.shift.end // tick)
            & (cards[idx] <= min(cards_left, stock))
        )
        if not ok.any():
            return (-1.0, -1, 0)
        idx, finish = idx[ok], finish[ok]
        score = value[idx] / (finish - t + 1) ** model.params.greedy_time_exponent
        if priority_first:
            score = score / (1.0 + score.max()) + rank[idx]
        b = int(np.argmax(score))
        return (float(score[b]), int(idx[b]), int(finish[b]))

    best = {i: best_for(i) for i in state}
    while best:
        i = max(best, key=lambda v: best[v][0])
        score, k, finish = best[i]
        if score < 0:
            break
        if used[group[k]] or cards[k] > stock or cards[k] > state[i][2]:
            best[i] = best_for(i)  # taken meanwhile: look again
            continue
        routes[i].append(manager.NodeToIndex(d0 + k))
        used[group[k]] = True
        stock -= int(cards[k])
        state[i] = [finish, d0 + k, state[i][2] - int(cards[k])]
        best[i] = best_for(i)
    return routes


def _unserved_penalty(model: _Model, routes: list[list[int]]) -> int:
    """Sum of the disjunction penalties ``routes`` leave unserved (the objective's main
    term)."""
    manager = model.manager
    served = {
        (v.site_index, v.chunk)
        for r in routes
        for v in (model.visits[manager.IndexToNode(i) - model.depot_nodes] for i in r)
    }
    return sum(p for key, p in model.penalties.items() if key not in served)


def _snapshot(model: _Model) -> tuple[int, int]:
    """Persons served and metres driven in the solution being reported (callback)."""
    routing, manager = model.routing, model.manager
    persons = 0
    metres = 0
    for v in model.vehicles:
        prof = v.team.profile
        d = model.dist[prof]
        i = routing.Start(v.index)
        prev = manager.IndexToNode(i)
        while not routing.IsEnd(i):
            i = routing.NextVar(i).Value()
            node = manager.IndexToNode(i)
            metres += int(d[prev, node])
            if node >= model.depot_nodes:
                persons += sum(model.visits[node - model.depot_nodes].persons.values())
            prev = node
    return persons, metres


def _routes_of(model: _Model, solution: Any) -> list[list[int]]:
    routing = model.routing
    out = []
    for v in model.vehicles:
        route = []
        i = solution.Value(routing.NextVar(routing.Start(v.index)))
        while not routing.IsEnd(i):
            route.append(i)
            i = solution.Value(routing.NextVar(i))
        out.append(route)
    return out


def _ruin(
    model: _Model, routes: list[list[int]], rng: np.random.Generator, params: Any
) -> list[list[int]]:
    """Remove a seeded share of the planned visits before a restart; locked visits stay.

    ``restart_ruin="random"`` drops each visit with probability ``restart_ruin_share``.
    ``"string"`` removes strings of consecutive visits (at most ``sisr_max_sequence``)
    from the routes nearest a random seed visit, one string per route, until that share is
    gone or every route has lost one, in the manner
    of slack-induction string removals (Christiaens & Vanden Berghe 2020): it frees room
    in one area, where re-insertion can reorder several routes at once.
    """
    locked = model.locked
    if params.restart_ruin == "random":
        return [
            [i for i in r if i in locked or rng.random() >= params.restart_ruin_share]
            for r in routes
        ]
    manager = model.manager
    where = {i: (ri, pos) for ri, r in enumerate(routes) for pos, i in enumerate(r)}
    free = [i for i in where if i not in locked]
    if not free:
        return [list(r) for r in routes]
    goal = max(1, round(params.restart_ruin_share * len(free)))
    dist = next(iter(model.dist.values()))
    seed = free[int(rng.integers(len(free)))]
    nodes = np.array([manager.IndexToNode(i) for i in free])
    order = np.argsort(dist[manager.IndexToNode(seed), nodes], kind="stable")
    removed: set[int] = set()
    ruined: set[int] = set()
    for k in order:
        if len(removed) >= goal:
            break
        ri, pos = where[free[int(k)]]
        if ri in ruined:
            continue
        ruined.add(ri)
        route = routes[ri]
        length = int(rng.integers(1, min(params.sisr_max_sequence, len(route)) + 1))
        first = max(0, min(pos - int(rng.integers(length)), len(route) - length))
        removed.update(i for i in route[first : first + length] if i not in locked)
    return [[i for i in r if i not in removed] for r in routes]


# ----------------------------------------------------------------- two-core portfolio


def _start_worker(problem: Problem, params: Any, time_limit_s: float) -> Any:
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    overrides = dict(params.second_worker)
    proc = ctx.Process(
        target=_worker_main, args=(problem, params, time_limit_s, overrides, child), daemon=True
    )
    proc.start()
    child.close()
    return proc, parent


SECOND_WORKER_SEED_OFFSET = 1_000_003
"""The second core's seed is ``seed + SECOND_WORKER_SEED_OFFSET``. With ``seed + 1``, runs
with consecutive seeds shared a chain (seed 2's second core ran seed 3's main chain), so a
sweep over seeds 1, 2, 3 was not three independent runs: seeds 2 and 3 often gave the same
plan."""


def _worker_main(
    problem: Problem, params: Any, limit: float, overrides: Mapping[str, Any], conn: Any
) -> None:
    """The second core's search: same model, another seed and the ``second_worker``
    settings, run through the same phases as the main search."""
    try:
        t0 = time.monotonic()
        fields = {f.name for f in dataclasses.fields(params)}
        mine = dataclasses.replace(
            params,
            workers=1,
            seed=params.seed + SECOND_WORKER_SEED_OFFSET,
            time_limit_s=max(0.01, limit),
            **{k: v for k, v in overrides.items() if k in fields},
        )
        model = _build(problem, mine)
        sol, _ = _search(model, t0, [False], {})
        conn.send(None if sol is None else _routes_of(model, sol))
    except Exception:  # noqa: BLE001 - the main search's plan still stands
        conn.send(None)
    finally:
        conn.close()


def _finish_worker(handle: Any, cancelled: bool) -> list[list[int]] | None:
    proc, conn = handle
    if cancelled:
        proc.terminate()
        proc.join()
        return None
    routes = None
    if conn.poll(max(1.0, 5.0)):
        try:
            routes = conn.recv()
        except EOFError:
            routes = None
    proc.join(timeout=5)
    if proc.is_alive():
        proc.terminate()
        proc.join()
    return routes
