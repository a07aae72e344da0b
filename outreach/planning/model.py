"""The OR-Tools routing model: nodes, transits, the time and card dimensions, breaks,
disjunction penalties, locks and the soft balance (:func:`_build`), and the search
parameters (:func:`_search_parameters`).

The design of the model is described in :mod:`outreach.planning.solver` (*Model*).
``params`` is a :class:`outreach.planning.solver.SolveParams`; it is typed ``Any`` here
because the solver imports this module, never the other way round.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.constraint_solver import routing_ils_pb2 as _ILS

from outreach.planning.domain import DAY_SECONDS, INT32_LIMIT, Problem, Vehicle
from outreach.planning.explain import place_matrices
from outreach.planning.visits import Visit, plan_visits

TIME = "time"
CARDS = "cards"

_FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy.Value
_METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic.Value
_STATUS = routing_enums_pb2.RoutingSearchStatus.Value
# OptionalBoolean values, read from the proto rather than importing another module
_OPTIONAL_BOOLEAN = (
    pywrapcp.DefaultRoutingSearchParameters()
    .local_search_operators.DESCRIPTOR.fields_by_name["use_relocate"]
    .enum_type.values_by_name
)
_BOOL_TRUE = _OPTIONAL_BOOLEAN["BOOL_TRUE"].number
_BOOL_FALSE = _OPTIONAL_BOOLEAN["BOOL_FALSE"].number


class NodeMatrix:
    """A node × node view of a place × place matrix: ``m[a, b]`` is
    ``place[rows[a], rows[b]]`` for node indices or index arrays.

    Visit copies of one site share its place row, so the node-level matrix the model
    used to materialise (quadratic in visit nodes: 47,000 nodes at 5,000 sites would
    need 18 GB per matrix) is only ever read through this view; memory stays the place
    matrix plus one row index per node.
    """

    def __init__(self, place: np.ndarray, rows: np.ndarray) -> None:
        self.place = place
        self.rows = rows

    def __getitem__(self, key: tuple[Any, Any]) -> Any:
        a, b = key
        return self.place[self.rows[a], self.rows[b]]

    def __neg__(self) -> NodeMatrix:
        return NodeMatrix(-self.place, self.rows)

    def __floordiv__(self, k: int) -> NodeMatrix:
        return NodeMatrix(self.place // k, self.rows)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), len(self.rows))

    def max(self, initial: int = 0) -> int:
        used = np.unique(self.rows)
        return int(self.place[np.ix_(used, used)].max(initial=initial))

    def dense(self) -> np.ndarray:
        """The node-level matrix itself (quadratic in nodes: small models only)."""
        return self.place[np.ix_(self.rows, self.rows)]


@dataclass
class _Model:
    problem: Problem
    params: Any
    visits: list[Visit]
    vehicles: tuple[Vehicle, ...]
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time_dim: Any
    dist: dict[str, NodeMatrix]
    dur: dict[str, NodeMatrix]
    service: dict[int, np.ndarray]
    depot_nodes: int
    breaks: dict[int, list[tuple[str, int, Any]]]
    persons_requested: int
    full: dict[str, tuple[np.ndarray, np.ndarray]]
    penalties: dict[tuple[int, int], int]
    locked: frozenset[int]
    """Routing indices of locked visits (restarts never remove them)."""
    transits: str = "matrix"
    """How travel reached OR-Tools: ``"matrix"`` (node matrices copied into C++) or
    ``"callback"`` (Python callbacks over the place matrices)."""
    callbacks: tuple[Any, ...] = ()
    """The Python transit callbacks (kept alive as long as the model)."""


def _build(problem: Problem, params: Any) -> _Model:
    vehicles = problem.vehicles
    full = place_matrices(problem)
    if params.exact_kit_windows is None:
        visits = plan_visits(problem, dataclasses.replace(params, exact_kit_windows=True), full)
        if len(visits) > params.exact_max_nodes:
            visits = plan_visits(
                problem, dataclasses.replace(params, exact_kit_windows=False), full
            )
    else:
        visits = plan_visits(problem, params, full)
    teams = list(problem.teams)
    places = problem.places()
    place_row = {p.key: i for i, p in enumerate(places)}
    # nodes: one per distinct depot place, then one per visit copy. A start and an end
    # node per team made every vehicle its own class, and OR-Tools' operators and GLS
    # searched far worse (benchmarks/RESULTS.md R1: RC208 1052.9 vs 926.5 shared).
    # Places are the same when their rows and columns agree in every matrix.
    depot_rows: list[int] = []
    by_signature: dict[bytes, int] = {}
    depot_node: dict[tuple[str, str], int] = {}
    for t in teams:
        for kind in ("start", "end"):
            r = place_row[(kind, t.id)]
            signature = b"".join(
                m[r, :].tobytes() + m[:, r].tobytes() for prof in sorted(full) for m in full[prof]
            )
            if signature not in by_signature:
                by_signature[signature] = len(depot_rows)
                depot_rows.append(r)
            depot_node[(kind, t.id)] = by_signature[signature]
    depot_nodes = len(depot_rows)
    n_nodes = depot_nodes + len(visits)
    rows = np.empty(n_nodes, dtype=np.int64)
    rows[:depot_nodes] = depot_rows
    for k, v in enumerate(visits):
        rows[depot_nodes + k] = place_row[("site", problem.sites[v.site_index].id)]
    tick = params.time_tick_s
    kit_levels = sorted({v.team.kits for v in vehicles})
    service: dict[int, np.ndarray] = {}  # kits -> visit duration per node, in ticks
    for kits in kit_levels:
        service[kits] = np.zeros(n_nodes, dtype=np.int64)
        for k, v in enumerate(visits):
            if kits in v.service_s:
                service[kits][depot_nodes + k] = -(-v.service_s[kits] // tick)

    profiles = sorted({v.team.profile for v in vehicles})
    dist: dict[str, NodeMatrix] = {}
    dur: dict[str, NodeMatrix] = {}
    for prof in profiles:
        d, t = full[prof]
        dist[prof] = NodeMatrix(d, rows)
        dur[prof] = NodeMatrix(t, rows)
    transits = params.transits
    if transits == "auto":
        transits = "matrix" if n_nodes <= params.matrix_max_nodes else "callback"

    starts = [depot_node[("start", v.team.id)] for v in vehicles]
    ends = [depot_node[("end", v.team.id)] for v in vehicles]
    manager = pywrapcp.RoutingIndexManager(
        n_nodes, max(1, len(vehicles)), starts or [0], ends or [1]
    )
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    # travel cost per profile; time transits (travel + visit) per vehicle class
    time_cb: dict[tuple[str, int], int] = {}
    cost_cb: dict[str, int] = {}
    callbacks: list[Any] = []
    # routing index -> place row (ends are indices past Size()); visit ticks per index
    index_row = [int(rows[manager.IndexToNode(i)]) for i in range(routing.Size() + len(vehicles))]
    for prof in profiles:
        travel_place = -(-full[prof][1] // tick)
        cost_place = full[prof][0] if params.arc_cost == "distance" else full[prof][1]
        for kits in sorted({v.team.kits for v in vehicles if v.team.profile == prof}):
            if int(travel_place.max(initial=0)) + int(service[kits].max(initial=0)) >= (
                INT32_LIMIT
            ):
                raise ValueError("travel plus visit time exceeds 2**31 ticks")
            if transits == "matrix":
                transit = NodeMatrix(travel_place, rows).dense() + service[kits][:, None]
                time_cb[(prof, kits)] = routing.RegisterTransitMatrix(transit.tolist())
                del transit
            else:
                fn = _time_callback(travel_place, index_row, manager, service[kits])
                callbacks.append(fn)
                time_cb[(prof, kits)] = routing.RegisterTransitCallback(fn)
        if transits == "matrix":
            cost_matrix = NodeMatrix(cost_place, rows).dense()
            cost_cb[prof] = routing.RegisterTransitMatrix(cost_matrix.tolist())
            del cost_matrix
        else:
            fn = _cost_callback(cost_place, index_row)
            callbacks.append(fn)
            cost_cb[prof] = routing.RegisterTransitCallback(fn)
    for v in vehicles:
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[v.team.profile], v.index)

    # Each route lies within one date, so the clock is time of day: cumul domains of
    # sites open the same hours every day need no holes (with an absolute clock the
    # closed hours of every day were holes, and insertion became ~10x slower).
    horizon_t = DAY_SECONDS // tick
    routing.AddDimensionWithVehicleTransits(
        [time_cb[(v.team.profile, v.team.kits)] for v in vehicles],
        horizon_t,
        horizon_t,
        False,
        TIME,
    )
    time_dim = routing.GetDimensionOrDie(TIME)
    for v in vehicles:
        lo, hi = -(-v.shift.start // tick), v.shift.end // tick
        time_dim.CumulVar(routing.Start(v.index)).SetRange(lo, hi)
        time_dim.CumulVar(routing.End(v.index)).SetRange(lo, hi)

    # visit nodes: allowed vehicles, start windows with gaps removed, disjunctions
    weights = params.priority_weights
    max_arc = max(
        (int(m.max(initial=0)) for m in (dist if params.arc_cost == "distance" else dur).values()),
        default=0,
    )
    shift_total = sum(v.shift.end - v.shift.start for v in vehicles) // tick
    balance_per_tick = -(-params.balance_coefficient * tick // 60)
    unit = max_arc * (n_nodes + len(vehicles)) + balance_per_tick * shift_total + 1
    groups: dict[tuple[int, int], list[int]] = {}
    for k, v in enumerate(visits):
        idx = manager.NodeToIndex(depot_nodes + k)
        # SetAllowedVehiclesForIndex exists in 9.15 but its Python binding rejects every
        # argument (absl::Span<const int> has no typemap), so restrict the vehicle var.
        routing.VehicleVar(idx).SetValues([-1, *v.vehicles])
        time_dim.CumulVar(idx).SetRange(*v.starts)
        groups.setdefault((v.site_index, v.chunk), []).append(idx)
    optional_total = 0
    penalties: dict[tuple[int, int], int] = {}
    for key, idxs in groups.items():
        site = problem.sites[key[0]]
        persons = sum(visits[manager.IndexToNode(idxs[0]) - depot_nodes].persons.values())
        if not (site.required or site.lock is not None):
            penalties[key] = weights[site.priority - 1] * persons * unit
            optional_total += penalties[key]
    forced = optional_total + unit
    # the objective is at most every forced penalty, every optional one and the travel
    # (< unit); only required and locked groups carry ``forced``
    if forced * (len(groups) - len(penalties) + 1) >= 2**62:
        raise ValueError("problem too large: penalties would overflow the solver's 64-bit cost")
    for key, idxs in groups.items():
        routing.AddDisjunction(idxs, penalties.get(key, forced), 1)

    # breaks: no visit overlaps them; travel and waiting may
    breaks: dict[int, list[tuple[str, int, Any]]] = {}
    node_visit: dict[int, list[int]] = {}
    for kits in kit_levels:
        node_visit[kits] = [0] * (routing.Size() + len(vehicles))
        for i in range(routing.Size()):
            if not routing.IsStart(i):
                node_visit[kits][i] = int(service[kits][manager.IndexToNode(i)])
    for v in vehicles:
        # Fixed breaks (Friday prayer) are already cut out of the visit windows (the
        # team may drive during them); only flexible breaks need break intervals,
        # which are costly for the search.
        flexible = [b for b in v.shift.breaks if not b.is_fixed]
        if not flexible:
            continue
        intervals = []
        for b in flexible:
            assert b.duration is not None
            dur_t = -(-b.duration // tick)
            lo = -(-b.start // tick)
            hi = max(lo, b.end // tick - dur_t)
            iv = solver.FixedDurationIntervalVar(lo, hi, dur_t, False, f"{b.name}@{v.index}")
            intervals.append(iv)
            routing.AddIntervalToAssignment(iv)
            breaks.setdefault(v.index, []).append((b.name, b.duration, iv))
        time_dim.SetBreakIntervalsOfVehicle(intervals, v.index, node_visit[v.team.kits])

    # blank cards: per team-day capacity and the office's total stock
    if any(v.cards for v in visits):
        cards = [0] * n_nodes
        for k, v in enumerate(visits):
            cards[depot_nodes + k] = v.cards
        cards_cb = routing.RegisterUnaryTransitVector(cards)
        routing.AddDimensionWithVehicleCapacity(
            cards_cb,
            0,
            [v.team.cards_per_day if v.team.printer else 0 for v in vehicles],
            True,
            CARDS,
        )
        total_cards = sum(v.cards for v in visits)
        if problem.card_stock is not None and total_cards > problem.card_stock:
            card_idx = [
                manager.NodeToIndex(depot_nodes + k) for k, v in enumerate(visits) if v.cards
            ]
            solver.Add(
                solver.ScalProd(
                    [routing.ActiveVar(i) for i in card_idx],
                    [visits[manager.IndexToNode(i) - depot_nodes].cards for i in card_idx],
                )
                <= problem.card_stock
            )

    # locks: keep the coordinator's order among locked visits of one route
    locked: dict[int, list[tuple[int, int]]] = {}
    for k, v in enumerate(visits):
        site = problem.sites[v.site_index]
        if site.lock is not None:
            locked.setdefault(v.vehicles[0], []).append(
                (site.lock.position, manager.NodeToIndex(depot_nodes + k))
            )
    for items in locked.values():
        items.sort()
        for (_, a), (_, b) in zip(items, items[1:], strict=False):
            solver.Add(time_dim.CumulVar(a) + 1 <= time_dim.CumulVar(b))

    # soft balance: a route running past its share of the total work pays per second
    if params.balance_coefficient and vehicles and visits:
        by_group = {}
        for v in visits:
            by_group.setdefault((v.site_index, v.chunk), min(v.service_s.values()))
        work = sum(by_group.values()) // tick
        share = -(-work // len(vehicles))
        for v in vehicles:
            bound = v.shift.start // tick + min(share, (v.shift.end - v.shift.start) // tick)
            time_dim.SetCumulVarSoftUpperBound(routing.End(v.index), bound, balance_per_tick)

    # (No finalizer hints for start/end cumuls: the departure is set late in
    # extract._to_result, so teams do not wait at closed sites.)

    return _Model(
        problem=problem,
        params=params,
        visits=visits,
        vehicles=vehicles,
        manager=manager,
        routing=routing,
        time_dim=time_dim,
        dist=dist,
        dur=dur,
        service=service,
        depot_nodes=depot_nodes,
        breaks=breaks,
        persons_requested=sum(s.persons for s in problem.sites),
        full=full,
        penalties={key: penalties.get(key, forced) for key in groups},
        locked=frozenset(i for items in locked.values() for _, i in items),
        transits=transits,
        callbacks=tuple(callbacks),
    )


def _time_callback(
    travel_place: np.ndarray,
    index_row: list[int],
    manager: pywrapcp.RoutingIndexManager,
    service: np.ndarray,
) -> Any:
    """Transit of the time dimension between two routing indices: the visit at the
    first plus the drive, read from the place matrix (no node-level copy)."""
    visit = [int(service[manager.IndexToNode(i)]) for i in range(len(index_row))]
    item = travel_place.item
    row = index_row

    def transit(i: int, j: int) -> int:
        return item(row[i], row[j]) + visit[i]

    return transit


def _cost_callback(cost_place: np.ndarray, index_row: list[int]) -> Any:
    """Arc cost between two routing indices, read from the place matrix."""
    item = cost_place.item
    row = index_row

    def cost(i: int, j: int) -> int:
        return item(row[i], row[j])

    return cost


def _search_parameters(
    n_nodes: int,
    params: Any,
    time_limit_s: float,
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    o = dict(overrides or {})
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = _FIRST_SOLUTION.Value(
        o.get("first_solution", params.first_solution)
    )
    p.local_search_metaheuristic = _METAHEURISTIC.Value(
        o.get("metaheuristic", params.metaheuristic)
    )
    for op in o.get("operators", params.operators):
        setattr(p.local_search_operators, op, _BOOL_TRUE)
    for op in o.get("disabled_operators", params.disabled_operators):
        setattr(p.local_search_operators, op, _BOOL_FALSE)
    p.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    if params.solution_limit is not None:
        p.solution_limit = params.solution_limit
    ratio = o.get("neighbors_ratio", params.neighbors_ratio)
    if ratio is not None:
        # measured: 60/n on a 300-site instance stopped all improvement; keep it opt-in
        p.ls_operator_neighbors_ratio = ratio
        p.ls_operator_min_neighbors = max(1, min(10, n_nodes))
        p.global_cheapest_insertion_ls_operator_parameters.neighbors_ratio = ratio
    p.log_search = params.log_search
    for name, value in {**params.search_fields, **o.get("search_fields", {})}.items():
        setattr(p, name, value)
    return p


def _iterated_local_search(p: Any, max_sequence: int, avg_removed: int) -> None:
    """Configure OR-Tools' own iterated local search on the search parameters ``p``, for
    ``RoutingModel.SolveWithIteratedLocalSearch`` (a plain solve ignores it).

    Each iteration removes about ``avg_removed`` visits in strings of at most
    ``max_sequence`` from routes near a random visit (SISR, Christiaens & Vanden Berghe
    2020, with the paper's bypass factor 0.01), puts them back by local cheapest
    insertion, improves the result with the local-search descent, and accepts it as the
    next reference by simulated annealing. The temperatures are OR-Tools' automatic ones,
    0.1 and 0.001 of the mean arc cost sampled from the model, so they follow the
    instance's own cost scale instead of a constant tuned on one set of files; the best
    plan is replaced only by a better one.
    """
    p.use_iterated_local_search = True
    ils = p.iterated_local_search_parameters
    ils.perturbation_strategy = _ILS.PerturbationStrategy.RUIN_AND_RECREATE
    ils.improve_perturbed_solution = True
    rr = ils.ruin_recreate_parameters
    del rr.ruin_strategies[:]
    # 9.15 rejects ILS without a ruin strategy (ROUTING_INVALID)
    sisr = rr.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = max_sequence
    sisr.avg_num_removed_visits = avg_removed
    sisr.bypass_factor = 0.01
    rr.recreate_strategy.heuristic = _FIRST_SOLUTION.Value("LOCAL_CHEAPEST_INSERTION")
    sa = ils.reference_solution_acceptance_strategy.simulated_annealing
    sa.cooling_schedule_strategy = _ILS.CoolingScheduleStrategy.EXPONENTIAL
    sa.automatic_temperatures = True
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
