"""Search strategy on a built model: construction, metaheuristic, restarts, second core.

:func:`_search` builds the start (the prize-aware numpy greedy, :func:`_greedy_routes`,
loaded with ``RoutesToAssignment``, or OR-Tools' own first solution), lets the
metaheuristic improve it, then restarts from a ruined copy of the best plan
(:func:`_ruin`) until the time limit, or runs OR-Tools' own iterated local search
(:func:`_ortools_ils`). With ``workers=2`` a forked process (:func:`_worker_main`) runs the
same phases with another seed; the caller keeps the better plan. The ILS always runs in a
forked process (a cancel cannot stop it otherwise), on the sites in a seeded order.
See the design notes of :mod:`outreach.planning.solver` (*Search*).

``params`` is a :class:`outreach.planning.solver.SolveParams`; it is typed ``Any`` here
because the solver imports this module, never the other way round.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from outreach.planning.domain import Problem
from outreach.planning.model import (
    _STATUS,
    _build,
    _iterated_local_search,
    _Model,
    _search_parameters,
)


def _search(
    model: _Model,
    t0: float,
    cancelled: list[bool],
    timings: dict[str, float],
    route_length: float | None = None,
) -> tuple[Any, str]:
    """Construction, metaheuristic and restarts until ``params.time_limit_s`` after ``t0``,
    or OR-Tools' ILS where :func:`_runs_ils` says so for ``route_length`` (the caller measures
    it, :func:`_first_route_length`, where :func:`_needs_route_length`).

    Returns the best assignment (``None`` if none was found) and the status name.
    """
    params, routing = model.params, model.routing
    if _runs_ils(params, route_length):
        return _ortools_ils(model, t0, timings, route_length)
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
        # one set of the recreate's arrays serves the recreate, the fill and the focus
        uses = (params.restart_recreate, params.restart_fill, params.restart_focus)
        arrays = _Recreate(model) if any(uses) else None
        recreate = arrays if params.restart_recreate else None
        filler = arrays if params.restart_fill else None
        focus = _Focus(model, arrays) if params.restart_focus else None
        if focus is not None and not focus.usable:
            focus = None
        reserve = 0.05
        if focus is not None:
            # plans are routes from here on; the whole model's descent ends the search
            # from the best of them, in the time its first descent took (at most a tenth)
            best_plan = current_plan = _routes_of(model, solution)
            first = time.monotonic() - t0 - timings.get("construction", 0.0)
            first -= timings.get("build", 0.0)
            reserve = min(max(0.05, first), 0.1 * params.time_limit_s)
        while not cancelled[0] and fails < 50 and (budget is None or done < budget):
            left = params.time_limit_s - (time.monotonic() - t0)
            if left <= reserve:
                break
            done += 1
            routes_now = current_plan if focus is not None else _routes_of(model, current_plan)
            perturbed = _ruin(model, routes_now, rng, params)
            removed: list[int] = []
            if filler is not None:
                kept = {i for r in perturbed for i in r}
                removed = [i for r in routes_now for i in r if i not in kept]
                perturbed = filler.fill(perturbed, rng, skip=removed)
            if focus is not None:
                got = focus.descend(perturbed, min(left - reserve, per_run), removed)
                if got is None:
                    fails += 1
                    continue
                routes_c, obj = got
                verdict = _accepts(obj, best_obj, current_obj, params, t0)
                if verdict == "best":
                    best_plan, best_obj = routes_c, obj
                if verdict:
                    current_plan, current_obj = routes_c, obj
                continue
            p = _search_parameters(len(model.visits), params, min(left, per_run))
            candidate = None
            if recreate is not None:
                # our own insertion puts the removed visits back; the descent starts
                # from a whole plan (if OR-Tools rejects it, the plain ruin below runs)
                kept = {i for r in perturbed for i in r}
                removed = [i for r in routes_now for i in r if i not in kept]
                start = _start_from(routing, recreate(perturbed, removed, rng))
                if start is not None:
                    candidate = routing.SolveFromAssignmentWithParameters(start, p)
            if candidate is None:
                start = _start_from(routing, perturbed)
                if start is None:
                    fails += 1
                    continue
                candidate = routing.SolveFromAssignmentWithParameters(start, p)
            if candidate is None:
                fails += 1
                continue
            obj = candidate.ObjectiveValue()
            verdict = _accepts(obj, best_obj, current_obj, params, t0)
            if verdict == "best":
                best_plan = routing.solver().Assignment(candidate)
                best_obj = obj
                status_name = _STATUS.Name(routing.status())
                current_plan, current_obj = best_plan, obj
            elif verdict:
                current_plan = routing.solver().Assignment(candidate)
                current_obj = obj
        solution = best_plan
        if focus is not None:
            left = params.time_limit_s - (time.monotonic() - t0)
            start = _start_from(routing, best_plan)
            p = _search_parameters(len(model.visits), params, max(0.01, left))
            polished = (
                None if start is None else routing.SolveFromAssignmentWithParameters(start, p)
            )
            solution = polished if polished is not None else _restore(model, best_plan)
            if solution is not None:
                status_name = _STATUS.Name(routing.status())
        timings["restarts"] = done
    return solution, status_name


def _accepts(obj: float, best: float, current: float, params: Any, t0: float) -> str:
    """Whether a restart's plan of objective ``obj`` becomes the best (``"best"``), only
    the plan the next restart perturbs (``"current"``), or neither (``""``).

    Record-to-record travel: a plan better than the current one, or within a margin of
    the best that shrinks linearly to 0 at the time limit (``restart_threshold``; 0 =
    improvements only), becomes the current plan.
    """
    if obj < best:
        return "best"
    used = (time.monotonic() - t0) / params.time_limit_s
    margin = params.restart_threshold * max(0.0, 1.0 - used)
    return "current" if obj < current or obj <= best * (1.0 + margin) else ""


def _needs_route_length(searches: list[Any]) -> bool:
    """Whether one of ``searches`` (their settings) needs :func:`_first_route_length`:
    the caller measures it once, on its model, and hands it to every search (the forked
    ones too), so that the ILS is chosen on one measure of the instance."""
    return any(
        p.iterated_local_search == "auto"
        or (p.iterated_local_search is True and p.sisr_route_sized)
        for p in searches
    )


def _runs_ils(params: Any, route_length: float | None) -> bool:
    """Whether a search with ``params`` runs OR-Tools' ILS: always with ``True``; with
    ``"auto"`` where the first solution's routes average at most ``sisr_avg_removed``
    visits (:func:`_first_route_length`)."""
    ils = params.iterated_local_search
    if ils == "auto":
        return route_length is not None and route_length <= params.sisr_avg_removed
    return ils is True


def _first_route_length(model: _Model, remaining: float) -> float | None:
    """Visits per used route in OR-Tools' first solution (``None`` if none is found in
    time), the measure both of ``iterated_local_search="auto"`` and of a route-sized ruin.

    ``"auto"`` runs the ILS when it is at most ``sisr_avg_removed``: then one ruin of the
    ILS removes about a whole route's worth of visits and can dissolve a route; with
    longer routes and that ruin it reshuffles part of one, each descent costs more, and
    our restarts did better (benchmarks/RESULTS.md §20). On the 56 Solomon files the
    first solutions split at 4.8-10.0 visits per route (type 1) against 16.7-33.3
    (type 2).
    """
    params, routing = model.params, model.routing
    first = _search_parameters(len(model.visits), params, max(0.01, min(1.0, remaining / 10)))
    first.solution_limit = 1
    solution = routing.SolveWithParameters(first)
    if solution is None:
        return None
    routes = [r for r in _routes_of(model, solution) if r]
    if not routes:
        return None
    return sum(len(r) for r in routes) / len(routes)


def _ortools_ils(
    model: _Model, t0: float, timings: dict[str, float], route_length: float | None = None
) -> tuple[Any, str]:
    """OR-Tools' own iterated local search for the whole time left (see
    :func:`outreach.planning.model._iterated_local_search`).

    It starts from OR-Tools' first solution (``first_solution``), not from our greedy
    plan: the 9.15 API takes no start assignment. Its random generator is OR-Tools' own
    and takes no seed (neither ``seed`` nor ``Solver.ReSeed`` changed a plan under a
    solution limit), so the forked searches that run it build their model on the sites
    in a seeded order (:func:`_shuffled`): that is where ``seed`` acts.
    """
    params, routing = model.params, model.routing
    if params.sisr_route_sized and route_length is not None:
        # one ruin frees about a route's worth of visits on long routes too
        n = round(route_length)
        params = dataclasses.replace(
            params,
            sisr_avg_removed=max(params.sisr_avg_removed, n),
            sisr_max_sequence=max(params.sisr_max_sequence, n),
        )
    remaining = params.time_limit_s - (time.monotonic() - t0)
    search = _search_parameters(len(model.visits), params, max(0.01, remaining))
    _iterated_local_search(search, params.sisr_max_sequence, params.sisr_avg_removed)
    started = time.monotonic()
    solution = routing.SolveWithIteratedLocalSearch(search)
    timings["construction"] = 0.0
    timings["iterated_local_search"] = time.monotonic() - started
    status_name = _STATUS.Name(routing.status())
    if solution is not None and status_name == "ROUTING_NOT_SOLVED":
        # 9.15 leaves the status unset after its ILS even when it returns a plan; a plan
        # found and improved until the limit is what a plain solve calls success
        status_name = "ROUTING_SUCCESS"
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


def _visit_arrays(model: _Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per visit: earliest and latest start (ticks) and blank cards, as the model has them."""
    visits = model.visits
    lo = np.array([v.starts[0] for v in visits], dtype=np.int64)
    hi = np.array([v.starts[1] for v in visits], dtype=np.int64)
    cards = np.array([v.cards for v in visits], dtype=np.int64)
    return lo, hi, cards


def _travel_ticks(model: _Model) -> dict[str, Any]:
    """Travel time per profile between nodes in ticks, rounded up as the time dimension's."""
    tick = model.params.time_tick_s
    return {prof: -(-m // tick) for prof, m in model.dur.items()}


def _flexible_breaks(vehicle: Any) -> bool:
    """A team-day with a flexible break: our constructions leave it to the search."""
    return any(not b.is_fixed for b in vehicle.shift.breaks)


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
    lo, hi, cards = _visit_arrays(model)
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
    travel_t = _travel_ticks(model)

    # state per team-day: clock, position, cards left; all routes grow in parallel and
    # each step commits the best (value per tick) extension over all team-days
    state: dict[int, list[int]] = {}
    for veh in vehicles:
        if _flexible_breaks(veh):
            continue  # leave these days to the search
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


class _Recreate:
    """Put ruined visits back by cheapest feasible insertion, as SISR's recreate does
    (Christiaens & Vanden Berghe 2020): visits in one of four orders (random, far from
    the depot first, near first, tightest window first), each at the position of least
    added travel cost over every route it may join, each position skipped with
    probability 1 % ("blinks") so that repeated restarts try other repairs.

    Left to OR-Tools' local search, re-inserting even five removed visits took about
    six times as long as the descent that followed (64 ms against 11 ms per restart on
    Solomon RC103); with this insertion one chain runs 2-3 times as many restarts in
    10 s (RC103 141 -> 295, R208 100 -> 331, C204 111 -> 322). It is off by default:
    on the Solomon tune half it helped the RC1 class (mean gap 3.08 -> 2.06 %) but hurt
    the long routes of type 2 (R2 1.17 -> 2.57 %, C2 0.00 -> 1.28 %), where the descent
    from a complete plan finds less than OR-Tools' own repair (benchmarks/RESULTS.md §15).

    Feasibility is the model's own: start windows, time transits (visit + travel,
    rounded up to ticks), shift start and end, cards per team-day and the card stock,
    one visit per disjunction group, allowed vehicles. Team-days with flexible breaks
    or locked visits are left to the search, and so is any visit that fits nowhere.
    OR-Tools checks the result when it loads it; a rejected plan falls back to the
    plain ruin.
    """

    BLINK = 0.01

    def __init__(self, model: _Model) -> None:
        self.model = model
        manager, routing = model.manager, model.routing
        tick = model.params.time_tick_s
        d0 = model.depot_nodes
        self.d0 = d0
        visits = model.visits
        self.lo, self.hi, self.cards = _visit_arrays(model)
        self.group = {
            manager.NodeToIndex(d0 + k): (v.site_index, v.chunk) for k, v in enumerate(visits)
        }
        by_arc = model.dist if model.params.arc_cost == "distance" else model.dur

        def dense(m: Any) -> Any:  # small models: plain arrays read faster than the view
            return m.dense() if m.shape[0] <= 3000 else m

        self.cost = {prof: dense(m) for prof, m in by_arc.items()}
        self.travel = {prof: dense(m) for prof, m in _travel_ticks(model).items()}
        self.stock = model.problem.card_stock
        keys = {key: n for n, key in enumerate(dict.fromkeys(self.group.values()))}
        self.group_id = np.array([keys[(v.site_index, v.chunk)] for v in visits], dtype=np.int64)
        self.value = np.array(
            [float(model.penalties[(v.site_index, v.chunk)]) for v in visits], dtype=float
        )
        self.allowed = np.zeros((len(visits), len(model.vehicles)), dtype=bool)
        for k, v in enumerate(visits):
            self.allowed[k, list(v.vehicles)] = True
        self.usable: dict[int, bool] = {}
        locked_routes = {
            model.visits[manager.IndexToNode(i) - d0].vehicles[0] for i in model.locked
        }
        self.veh: list[tuple[int, int, int, int, str, int, int]] = []
        for v in model.vehicles:
            self.usable[v.index] = not _flexible_breaks(v) and v.index not in locked_routes
            self.veh.append(
                (
                    manager.IndexToNode(routing.Start(v.index)),
                    manager.IndexToNode(routing.End(v.index)),
                    -(-v.shift.start // tick),
                    v.shift.end // tick,
                    v.team.profile,
                    v.team.kits,
                    v.team.cards_per_day if v.team.printer else 0,
                )
            )
        # the orders "far first" and "near first" measure from the first team's start
        self.from_depot = np.zeros(len(visits))
        if model.vehicles:
            start = self.veh[model.vehicles[0].index][0]
            nodes = np.arange(d0, d0 + len(visits))
            prof = model.vehicles[0].team.profile
            self.from_depot = np.asarray(self.cost[prof][start, nodes], dtype=float)

    def __call__(
        self, routes: list[list[int]], removed: list[int], rng: np.random.Generator
    ) -> list[list[int]]:
        """``routes`` with the ``removed`` routing indices inserted where they fit."""
        model, manager, d0 = self.model, self.model.manager, self.d0
        routes = [list(r) for r in routes]
        if not removed:
            return routes
        placed = {i for r in routes for i in r}
        groups = {self.group[i] for i in placed}
        k = np.array([manager.IndexToNode(i) - d0 for i in removed])
        order = int(rng.integers(4))
        if order == 0:
            perm = rng.permutation(len(k))
        elif order == 1:
            perm = np.argsort(-self.from_depot[k], kind="stable")
        elif order == 2:
            perm = np.argsort(self.from_depot[k], kind="stable")
        else:
            perm = np.argsort(self.hi[k] - self.lo[k], kind="stable")
        cards_used = int(sum(self.cards[manager.IndexToNode(i) - d0] for i in placed))
        for j in perm:
            idx, node = removed[int(j)], int(k[int(j)]) + d0
            if self.group[idx] in groups:
                continue
            best: tuple[float, int, int] | None = None
            visit = model.visits[node - d0]
            c = int(self.cards[node - d0])
            if self.stock is not None and c and cards_used + c > self.stock:
                continue
            for vi in visit.vehicles:
                if not self.usable[vi]:
                    continue
                found = self._best_position(vi, routes[vi], node, c, rng)
                if found is not None and (best is None or found[0] < best[0]):
                    best = (found[0], vi, found[1])
            if best is None:
                continue
            _, vi, pos = best
            routes[vi].insert(pos, idx)
            groups.add(self.group[idx])
            cards_used += c
        return routes

    def fill(
        self, routes: list[list[int]], rng: np.random.Generator, skip: Collection[int] = ()
    ) -> list[list[int]]:
        """``routes`` with unvisited visits inserted, best value per added tick first,
        until none fits (``restart_fill``): the prize-aware repair of an orienteering
        plan, as Vansteenwegen et al.'s ILS for the TOPTW inserts (2009).

        Value is the visit's disjunction penalty (residents x priority weight); a visit's
        added ticks are how much later the next stop could start, waiting included, and
        the ratio takes ``greedy_time_exponent`` as the greedy start does. ``skip`` (the
        visits a ruin just removed) are left out, so that the room goes to other sites;
        the descent may still bring them back. Positions blink as in :meth:`__call__`.
        """
        model, d0 = self.model, self.d0
        routes = [list(r) for r in routes]
        # a site chunk placed or just removed is out, whichever of its nodes it was
        out = {self.group[i] for r in routes for i in r} | {self.group[i] for i in skip}
        manager = model.manager
        exponent = model.params.greedy_time_exponent
        pool = np.array(
            [d0 + k for k, v in enumerate(model.visits) if (v.site_index, v.chunk) not in out],
            dtype=np.int64,
        )
        if not len(pool):
            return routes
        value = self.value[pool - d0]
        pool_group = self.group_id[pool - d0]
        cards_used = int(sum(self.cards[manager.IndexToNode(i) - d0] for r in routes for i in r))
        stock = self.stock if self.stock is not None else 2**62
        alive = np.ones(len(pool), dtype=bool)
        # per route: (best ratio, pool position, insert position), refreshed when it changes
        best: dict[int, tuple[float, int, int]] = {}

        def best_in(vi: int) -> tuple[float, int, int]:
            open_ = alive & self.allowed[pool - d0, vi]
            if not self.usable[vi] or not open_.any():
                return (-1.0, -1, -1)
            seq = self._nodes(vi, routes[vi])
            a, z, svc, tt = self._schedule(vi, seq)
            prev, nxt = seq[:-1], seq[1:]
            cols = np.flatnonzero(open_)
            c = pool[cols]
            s = np.maximum(
                self.lo[c - d0][None, :],
                (a[:-1] + svc[prev])[:, None] + np.asarray(tt[np.ix_(prev, c)], dtype=np.int64),
            )
            reach = s + svc[c][None, :] + np.asarray(tt[np.ix_(c, nxt)], dtype=np.int64).T
            ok = (s <= self.hi[c - d0][None, :]) & (reach <= z[1:][:, None])
            cap = self.veh[vi][6]
            need = self.cards[c - d0]
            if need.any():
                load = int(self.cards[seq[1:-1] - d0].sum()) if len(seq) > 2 else 0
                ok &= ((need <= cap - load) & (need <= stock - cards_used))[None, :]
            ok &= rng.random(ok.shape) >= self.BLINK
            if not ok.any():
                return (-1.0, -1, -1)
            # how much later the next stop could start, waiting included
            old = (a[:-1] + svc[prev] + np.asarray(tt[prev, nxt], dtype=np.int64))[:, None]
            added = np.maximum(1, reach - np.minimum(old, reach))
            ratio = np.where(ok, value[cols][None, :] / added.astype(float) ** exponent, -1.0)
            p, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            return (float(ratio[p, j]), int(cols[j]), int(p))

        for vi in range(len(routes)):
            best[vi] = best_in(vi)
        while True:
            vi = max(best, key=lambda v: best[v][0])
            ratio, j, pos = best[vi]
            if ratio < 0:
                break
            node = int(pool[j])
            idx = manager.NodeToIndex(node)
            routes[vi].insert(pos, idx)
            cards_used += int(self.cards[node - d0])
            alive &= pool_group != self.group_id[node - d0]
            for other, (_, oj, _) in list(best.items()):
                if other == vi or (oj != -1 and (not alive[oj] or self.cards[node - d0])):
                    best[other] = best_in(other)
        return routes

    def _best_position(
        self, vi: int, route: list[int], node: int, cards: int, rng: np.random.Generator
    ) -> tuple[float, int] | None:
        d0 = self.d0
        seq = self._nodes(vi, route)
        if cards:
            load = int(self.cards[seq[1:-1] - d0].sum()) if len(seq) > 2 else 0
            if load + cards > self.veh[vi][6]:
                return None
        a, z, svc, tt = self._schedule(vi, seq)
        cost = self.cost[self.veh[vi][4]]
        prev, nxt = seq[:-1], seq[1:]
        s = np.maximum(self.lo[node - d0], a[:-1] + svc[prev] + np.asarray(tt[prev, node]))
        ok = (s <= self.hi[node - d0]) & (
            s + svc[node] + np.asarray(tt[node, nxt], dtype=np.int64) <= z[1:]
        )
        ok &= rng.random(len(ok)) >= self.BLINK
        if not ok.any():
            return None
        delta = (
            np.asarray(cost[prev, node], dtype=float)
            + np.asarray(cost[node, nxt], dtype=float)
            - np.asarray(cost[prev, nxt], dtype=float)
        )
        delta[~ok] = np.inf
        p = int(np.argmin(delta))
        return float(delta[p]), p

    def _nodes(self, vi: int, route: list[int]) -> np.ndarray:
        """Vehicle ``vi``'s start node, the nodes of ``route`` and its end node."""
        start, end = self.veh[vi][0], self.veh[vi][1]
        manager = self.model.manager
        return np.array([start, *(manager.IndexToNode(i) for i in route), end], dtype=np.int64)

    def _schedule(self, vi: int, seq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
        """Earliest (``a``) and latest (``z``) start per stop of ``seq`` (:meth:`_nodes`)
        on vehicle ``vi``, with the vehicle's service times per node and travel ticks."""
        d0 = self.d0
        _, _, shift_lo, shift_hi, prof, kits, _ = self.veh[vi]
        svc = self.model.service[kits]
        tt = self.travel[prof]
        m = len(seq)
        lo = np.empty(m, dtype=np.int64)
        hi = np.empty(m, dtype=np.int64)
        lo[0], hi[0], lo[-1], hi[-1] = shift_lo, shift_hi, shift_lo, shift_hi
        if m > 2:
            lo[1:-1] = self.lo[seq[1:-1] - d0]
            hi[1:-1] = self.hi[seq[1:-1] - d0]
        step = svc[seq[:-1]] + np.asarray(tt[seq[:-1], seq[1:]], dtype=np.int64)
        # earliest start a[i] forwards, latest start z[i] backwards (waiting is free)
        a = np.empty(m, dtype=np.int64)
        z = np.empty(m, dtype=np.int64)
        a[0] = lo[0]
        for i in range(1, m):
            a[i] = max(lo[i], a[i - 1] + step[i - 1])
        z[-1] = hi[-1]
        for i in range(m - 2, -1, -1):
            z[i] = min(hi[i], z[i + 1] - step[i])
        return a, z, svc, tt


class _Focus:
    """A restart's descent on a smaller model: the sites the ruined plan visits and the
    unvisited ones a single insertion could add to it (``restart_focus``).

    Where the routes can take only a share of the sites (TOPTW's large files: about 25
    of 216-288 sites per path), a greedy descent spends 69-86 % of its neighbours on
    make-active and swap-active moves that pair every unvisited site with the plan, and
    the time windows reject almost all of them (benchmarks/RESULTS.md §26). The plan a
    descent leaves admits no single insertion (each would cut the unserved penalty), so
    after a ruin the unvisited sites that fit are those it made room for: they and the
    plan's own sites make the restart's model, built in milliseconds, and the descent's
    moves between the plan's sites are the same as on the whole model. Sites outside it
    wait for a ruin that makes room for them.

    The fit is tested on start windows, travel, service and shifts only (cards are not:
    a larger model is only slower). Models with locked visits or flexible breaks, which
    our insertion leaves to the search, keep the whole-model restarts, and so do models
    with the soft balance, whose share of the work counts every site.
    """

    def __init__(self, model: _Model, fit: _Recreate | None = None) -> None:
        self.model = model
        # the recreate's arrays of this model, shared with the recreate and the fill
        self.fit = fit if fit is not None else _Recreate(model)
        manager, d0 = model.manager, model.depot_nodes
        self.usable = (
            not model.locked
            and all(self.fit.usable.values())
            and not model.params.balance_coefficient
        )
        self.key: dict[int, tuple[Any, ...]] = {}
        self.index: dict[tuple[Any, ...], int] = {}
        for k, v in enumerate(model.visits):
            idx = manager.NodeToIndex(d0 + k)
            key = (v.site_index, v.chunk, v.vehicles, v.starts)
            self.key[idx] = key
            self.index[key] = idx

    def candidates(self, routes: list[list[int]]) -> list[int]:
        """Routing indices of the unvisited visits that fit somewhere in ``routes``."""
        model, fit, d0 = self.model, self.fit, self.fit.d0
        placed = {fit.group[i] for r in routes for i in r}
        nodes = np.array(
            [d0 + k for k, v in enumerate(model.visits) if (v.site_index, v.chunk) not in placed],
            dtype=np.int64,
        )
        if not len(nodes):
            return []
        fits = np.zeros(len(nodes), dtype=bool)
        lo, hi = fit.lo[nodes - d0], fit.hi[nodes - d0]
        for vi, route in enumerate(routes):
            open_ = fit.allowed[nodes - d0, vi] & ~fits
            if not open_.any():
                continue
            seq = fit._nodes(vi, route)
            a, z, svc, tt = fit._schedule(vi, seq)
            prev, nxt = seq[:-1], seq[1:]
            c = nodes[open_]
            # start at c after each stop, and whether the next stop can still start
            s = np.maximum(
                lo[open_][None, :],
                (a[:-1] + svc[prev])[:, None] + np.asarray(tt[np.ix_(prev, c)], dtype=np.int64),
            )
            ok = (s <= hi[open_][None, :]) & (
                s + svc[c][None, :] + np.asarray(tt[np.ix_(c, nxt)], dtype=np.int64).T
                <= z[1:][:, None]
            )
            fits[np.flatnonzero(open_)[ok.any(axis=0)]] = True
        manager = model.manager
        return [manager.NodeToIndex(int(n)) for n in nodes[fits]]

    def descend(
        self, routes: list[list[int]], limit_s: float, also: Collection[int] = ()
    ) -> tuple[list[list[int]], int] | None:
        """A descent from ``routes`` (routing indices of the whole model) on the focused
        model, whose unvisited sites are those that fit and ``also`` (those a ruin just
        removed): the improved routes in the whole model's indices and their objective
        there, or ``None`` if OR-Tools rejects the start or finds nothing."""
        model = self.model
        sites = model.problem.sites
        pool = [*self.candidates(routes), *also]
        chosen = sorted(
            {self.key[i][0] for r in routes for i in r} | {self.key[i][0] for i in pool}
        )
        sub = _build(
            dataclasses.replace(model.problem, sites=[sites[i] for i in chosen]), model.params
        )
        to_sub: dict[int, int] = {}
        to_full: dict[int, int] = {}
        for k, v in enumerate(sub.visits):
            idx = sub.manager.NodeToIndex(sub.depot_nodes + k)
            full = self.index.get((chosen[v.site_index], v.chunk, v.vehicles, v.starts))
            if full is not None:
                to_sub[full], to_full[idx] = idx, full
        if any(i not in to_sub for r in routes for i in r):
            return None  # the smaller model split a site differently
        p = _search_parameters(len(sub.visits), model.params, limit_s)
        sub.routing.CloseModelWithParameters(p)
        start = _start_from(sub.routing, [[to_sub[i] for i in r] for r in routes])
        if start is None:
            return None
        found = sub.routing.SolveFromAssignmentWithParameters(start, p)
        if found is None:
            return None
        out = [[to_full[i] for i in r] for r in _routes_of(sub, found)]
        # the same travel and soft costs; the unserved penalties are the whole model's
        served = {self.fit.group[i] for r in out for i in r}
        sub_penalty = sum(
            pen
            for (site, chunk), pen in sub.penalties.items()
            if (chosen[site], chunk) not in served
        )
        penalty = sum(pen for key, pen in model.penalties.items() if key not in served)
        return out, found.ObjectiveValue() - sub_penalty + penalty


# ----------------------------------------------------------------- two-core portfolio


SECOND_WORKER_SEED_OFFSET = 1_000_003
"""The second core's seed is ``seed + SECOND_WORKER_SEED_OFFSET``. With ``seed + 1``, runs
with consecutive seeds shared a chain (seed 2's second core ran seed 3's main chain), so a
sweep over seeds 1, 2, 3 was not three independent runs: seeds 2 and 3 often gave the same
plan."""


def _worker_params(
    params: Any,
    limit: float,
    overrides: Mapping[str, Any],
    seed_offset: int = SECOND_WORKER_SEED_OFFSET,
) -> Any:
    """The settings of a forked search: ``params`` on one core, seed + ``seed_offset``,
    ``limit`` seconds and the ``overrides`` (the second core: ``second_worker``)."""
    fields = {f.name for f in dataclasses.fields(params)}
    return dataclasses.replace(
        params,
        workers=1,
        seed=params.seed + seed_offset,
        time_limit_s=max(0.01, limit),
        **{k: v for k, v in overrides.items() if k in fields},
    )


def _start_worker(
    problem: Problem,
    params: Any,
    time_limit_s: float,
    overrides: Mapping[str, Any] | None = None,
    seed_offset: int = SECOND_WORKER_SEED_OFFSET,
    route_length: float | None = None,
) -> Any:
    """Fork a search of ``problem``: by default the second core's (``second_worker``
    overrides, seed + ``SECOND_WORKER_SEED_OFFSET``); ``route_length`` is the caller's
    :func:`_first_route_length`."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    overrides = dict(params.second_worker if overrides is None else overrides)
    mine = _worker_params(params, time_limit_s, overrides, seed_offset)
    proc = ctx.Process(target=_worker_main, args=(problem, mine, child, route_length), daemon=True)
    proc.start()
    child.close()
    return proc, parent


def _worker_main(problem: Problem, params: Any, conn: Any, route_length: float | None) -> None:
    """A forked search with ``params`` (:func:`_worker_params`), run through the same
    phases as the main search; it sends its routes as :func:`_keyed_routes` (``None`` if
    it found none or failed)."""
    try:
        t0 = time.monotonic()
        if params.iterated_local_search:
            problem = _shuffled(problem, params.seed)
        model = _build(problem, params)
        sol, _ = _search(model, t0, [False], {}, route_length)
        conn.send(None if sol is None else _keyed_routes(model, _routes_of(model, sol)))
    except Exception:  # noqa: BLE001 - the main search's plan still stands
        conn.send(None)
    finally:
        conn.close()


def _shuffled(problem: Problem, seed: int) -> Problem:
    """``problem`` with its sites in a seeded order: the seed of OR-Tools' ILS.

    The 9.15 ILS draws its ruins from a generator it seeds itself (neither ``seed`` nor
    ``Solver.ReSeed`` changed a plan, benchmarks/RESULTS.md §20), and its first solution
    breaks ties by node index, so from the same model two runs differed only through the
    time-driven annealing schedule. The node order is what the seed can change: the same
    draws then fall on other visits and the first solution starts elsewhere."""
    order = np.random.default_rng(seed).permutation(len(problem.sites))
    return dataclasses.replace(problem, sites=tuple(problem.sites[i] for i in order))


VisitKey = tuple[str, int, tuple[int, int]]


def _visit_key(model: _Model, visit: Any) -> VisitKey:
    """A visit node by what it is, not where it sits: site id, chunk and start window (a
    chunk has one node per window pattern, each open to its own team-days)."""
    return (model.problem.sites[visit.site_index].id, visit.chunk, tuple(visit.starts))


def _keyed_routes(model: _Model, routes: list[list[int]]) -> list[list[VisitKey]]:
    """Routes of routing indices as :func:`_visit_key` keys, which hold in any site order."""
    nodes = model.manager.IndexToNode
    return [
        [_visit_key(model, model.visits[nodes(i) - model.depot_nodes]) for i in route]
        for route in routes
    ]


def _unkeyed_routes(model: _Model, keyed: list[list[VisitKey]]) -> list[list[int]] | None:
    """:func:`_keyed_routes` back into ``model``'s routing indices (``None`` if a key or the
    number of routes does not match ``model``)."""
    where = {_visit_key(model, v): k for k, v in enumerate(model.visits)}
    if len(where) != len(model.visits) or len(keyed) != len(model.vehicles):
        return None
    if any(k not in where for route in keyed for k in route):
        return None
    index = model.manager.NodeToIndex
    return [[index(model.depot_nodes + where[k]) for k in route] for route in keyed]


def _finish_worker(
    handle: Any, stop: Callable[[], bool], wait_s: float | None = None
) -> list[list[int]] | None:
    """End a forked search and return the routes it sent (:func:`_keyed_routes`).

    Waits until it sends them, dies, ``stop()`` says to end it (checked every 50 ms) or
    ``wait_s`` seconds have passed (``None``: as long as it runs); a search that is still
    running then is terminated. ``None`` if it sent nothing or a failure."""
    proc, conn = handle
    deadline = None if wait_s is None else time.monotonic() + wait_s
    while not conn.poll(0.05):
        if stop() or not proc.is_alive():
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
    routes = None
    if conn.poll(0):
        try:
            routes = conn.recv()
        except EOFError:  # it died without sending
            routes = None
    # a search that sent its routes is exiting; any other is ended now
    proc.join(timeout=5 if routes is not None else 0)
    if proc.is_alive():
        proc.terminate()
        proc.join()
    return routes
