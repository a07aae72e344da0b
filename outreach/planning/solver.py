"""OR-Tools routing model for multi-day outreach plans.

The entry point :func:`solve` with its settings (:class:`SolveParams`) and progress
reports (:class:`Progress`). The work is split along its seams, each module importing only
those below it (never this one):

* :mod:`outreach.planning.visits`: sites to visit nodes (splitting, windows cut by fixed
  breaks, allowed team-days);
* :mod:`outreach.planning.model`: the OR-Tools routing model and its search parameters;
* :mod:`outreach.planning.search`: construction, metaheuristic, restarts, second core;
* :mod:`outreach.planning.extract`: solution to :class:`Result`, gap filling, priority
  repair and the reasons for unserved sites.

Only this module and :mod:`~outreach.planning.model` import OR-Tools (the pinned 9.15
wheel: ``ortools.constraint_solver.pywrapcp`` and ``routing_enums_pb2``). The names other
code and tests have imported from here (``_build``, ``plan_visits``, ``_to_result``, ...)
are re-exported.

Model
-----
* **Vehicles** are team × working date (:attr:`Problem.vehicles`).
* **One time dimension** (``TIME``) in ticks (a minute by default) of the time of day:
  every route lies within its vehicle's date, so the day is implied by the vehicle
  (an absolute horizon clock made every closed night and afternoon a hole in the cumul
  domains, which slowed insertion tenfold). Each vehicle's start and end cumuls are
  limited to its shift. A visit node's cumul is the start of its visit; its domain is
  one opening window, shortened so the visit *ends* inside it (``SetRange``). A site
  with several windows a day, or different hours on different dates, gets one node per
  window, restricted to the vehicles of those dates, all in one disjunction: domains
  stay plain ranges (holes made by ``RemoveInterval`` are invisible to the insertion
  filters, and first solutions failed on Medan-size instances with them).
* **Service time** = setup + persons × seconds per person ÷ kits. It is added to the
  node's outgoing transits, so each vehicle class (profile, kits) has one transit
  matrix (``RegisterTransitMatrix``: travel + service) and the duration is exact for
  the visiting team. Where a window closes before the shift ends, the latest start
  is conservative: it leaves room for the slowest team allowed on that date.
* **Breaks**: fixed breaks (Friday prayer) are cut out of the visit windows of that
  date's vehicles — no visit overlaps them, the team may drive or wait (the break
  API made first solutions time out at Medan scale). Flexible breaks are interval
  variables given to ``SetBreakIntervalsOfVehicle`` (they pause travel too).
* **Blank cards**: a ``CARDS`` capacity dimension per team-day (unary transit vector),
  and the office's total stock as a global constraint over the active visits.
* **Skills, dates, locks**: each node's ``VehicleVar`` is restricted to the allowed
  team-days (the team offers every service asked for, printing needs a printer, the
  date has the node's window, a lock pins one team-day). ``SetAllowedVehiclesForIndex``
  exists in 9.15 but its Python binding accepts no argument type (``absl::Span``).
* **Objective**: each visit is optional (``AddDisjunction``) with a penalty of
  persons × priority weight × a unit larger than any possible travel-plus-balance
  cost, so serving residents always wins over saving kilometres; required sites
  (benchmarks) and locked sites get a penalty above all optional ones. Arc cost is
  distance in metres. A soft upper bound on each route's end spreads work across
  teams and days.
* **Splitting**: when no team-day can serve a site's whole demand, the demand is split
  into chunks that sum exactly to it (never more), each an optional visit that may go
  to any allowed team and date.
* **Locks**: allowed vehicle = the locked team-day; relative order of locked visits on
  one route enforced through their time cumuls.

Search
------
A prize-aware greedy (numpy, all team-days growing in parallel) builds the start,
loaded with ``RoutesToAssignment``; then the metaheuristic (guided local search
by default) improves it within the time limit. If the search gets no time the greedy
plan is returned. After the search, :mod:`outreach.planning.gapfill` starts every stop as
early as it can and inserts left-out visits (most urgent first) into the teams' idle time
without moving a planned stop; the filled plan is kept only if the independent checker
accepts it (``SolveParams.gap_fill``). Why a step after the search rather than waiting in
the objective: the objective is dominated by the unserved penalties (a unit above any
travel cost), so a slack cost would only break ties between plans serving the same
residents, while the idle mornings the coordinators saw come from visits the search did
not try in the gap before its time ran out and from cumul values it leaves arbitrary
(OR-Tools fixes a feasible start, not the earliest); both are fixed exactly, in about a
second at Medan size, by the step. Cancellation (event or callable) is checked in an
``AddAtSolutionCallback`` and by a watcher thread calling ``RoutingModel.CancelSearch``;
progress is reported on each improving solution. OR-Tools' own iterated local search
(``SolveParams.iterated_local_search``, a benchmark setting) ignores ``CancelSearch``, so
it only ever runs in a forked process that a cancel terminates, on the sites in a
seeded order (its generator takes no seed). Everything tunable is in :class:`SolveParams`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ortools.constraint_solver import pywrapcp

from outreach.planning.domain import DAY_SECONDS, Problem

# Everything that moved out is re-exported ("X as X"): tests and benchmarks import these
# names from here. Monkeypatching one here changes what solve() calls, not what the other
# modules call among themselves.
from outreach.planning.extract import _arrival as _arrival
from outreach.planning.extract import _latest_departure as _latest_departure
from outreach.planning.extract import _to_result as _to_result
from outreach.planning.model import _BOOL_FALSE as _BOOL_FALSE
from outreach.planning.model import _BOOL_TRUE as _BOOL_TRUE
from outreach.planning.model import _FIRST_SOLUTION as _FIRST_SOLUTION
from outreach.planning.model import _METAHEURISTIC as _METAHEURISTIC
from outreach.planning.model import _OPTIONAL_BOOLEAN as _OPTIONAL_BOOLEAN
from outreach.planning.model import _STATUS as _STATUS
from outreach.planning.model import CARDS as CARDS
from outreach.planning.model import TIME as TIME
from outreach.planning.model import _build as _build
from outreach.planning.model import _Model as _Model
from outreach.planning.model import _search_parameters as _search_parameters
from outreach.planning.result import Result
from outreach.planning.search import _finish_worker as _finish_worker
from outreach.planning.search import _first_route_length as _first_route_length
from outreach.planning.search import _greedy_routes as _greedy_routes
from outreach.planning.search import _needs_route_length as _needs_route_length
from outreach.planning.search import _restore as _restore
from outreach.planning.search import _routes_of as _routes_of
from outreach.planning.search import _ruin as _ruin
from outreach.planning.search import _runs_ils as _runs_ils
from outreach.planning.search import _search as _search
from outreach.planning.search import _snapshot as _snapshot
from outreach.planning.search import _start_from as _start_from
from outreach.planning.search import _start_worker as _start_worker
from outreach.planning.search import _unkeyed_routes as _unkeyed_routes
from outreach.planning.search import _unserved_penalty as _unserved_penalty
from outreach.planning.search import _worker_main as _worker_main
from outreach.planning.search import _worker_params as _worker_params
from outreach.planning.visits import _SEGMENTS as _SEGMENTS
from outreach.planning.visits import Visit as Visit
from outreach.planning.visits import _merge as _merge
from outreach.planning.visits import _parts_needed as _parts_needed
from outreach.planning.visits import _segments as _segments
from outreach.planning.visits import _usable_seconds as _usable_seconds
from outreach.planning.visits import eligible_vehicles as eligible_vehicles
from outreach.planning.visits import plan_visits as plan_visits
from outreach.planning.visits import service_segments as service_segments
from outreach.planning.visits import split_persons as split_persons

EXTRA_OPERATORS: tuple[str, ...] = (
    "use_relocate_and_make_active",
    "use_exchange_and_make_active",
    "use_extended_swap_active",
    "use_inactive_lns",
)
"""Opt-in local-search operators that move sites in and out of the plan.

Off by default: switched on they slowed the search (benchmarks/RESULTS.md R7: Solomon
RC208 972.2 on vs 824.0 off; TOPTW pr03 m=3 874 on vs 950 off, both at 10 s).
"""

DEFAULT_OPERATORS: tuple[str, ...] = ()
"""Local-search operators switched on in addition to OR-Tools' defaults (none)."""


ProgressCallback = Callable[["Progress"], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class Progress:
    """Snapshot sent to the progress callback at each improving solution."""

    elapsed_s: float
    persons_served: int
    persons_requested: int
    distance_km: float
    objective: int


POST_STEP_S_PER_PAIR = 1.5e-5
"""Seconds the steps after the search take per (team-day, visit) pair, measured at Medan
size (``benchmarks/plan_quality.py --instance medan``); sets the time they keep back."""

DEFAULT_WEIGHTS = (16, 8, 4, 2, 1)
"""Weight of one resident at priority 1..5."""


@dataclass(frozen=True)
class SolveParams:
    """Search settings; every knob the benchmarks may tune.

    Parameters
    ----------
    time_limit_s
        Wall-clock limit of the search.
    seed
        Seed for the randomised parts (restart perturbations). With ``solution_limit``
        set, the same problem, seed and parameters give the same plan.
    solution_limit
        Stop after this many solutions (for reproducible runs); ``None`` = no limit.
    construction
        ``"greedy"``: a fast prize-aware construction in numpy (all team-days grow in
        parallel; each step adds the feasible visit with the best penalty per tick)
        loaded with ``RoutesToAssignment`` as the search's start — a plan within
        a second or two even at Medan size. ``"solver"``: OR-Tools builds the first
        solution with ``first_solution`` (better plans, measured +12 % residents on a
        300-site instance, but slow beyond ~1,000 visit nodes). ``"auto"`` (default):
        ``"solver"`` up to ``greedy_above`` visit nodes, else ``"greedy"``. Whenever
        the solver's construction finds nothing in time, the greedy plan is returned.
    greedy_above
        Visit-node count above which ``"auto"`` uses the greedy construction.
    exact_kit_windows
        Give windows that close before the shift ends one node per kit level, so each
        team may start as late as its own duration allows (exact, more nodes);
        otherwise the latest start leaves room for the slowest team of that date.
        ``None`` (default): exact unless that makes more than ``exact_max_nodes``
        visit nodes. Conservative windows shut a closing window to every team whose
        own visit would fit but the slowest team's would not, which is how priority-1
        remainders were left while priority-5 sites were served. Measured with
        ``benchmarks/medan_scale.py`` (500 sites, 20 s, seeds 0/2/3): exact windows
        (4,809 nodes instead of 2,107) served 93,071 / 91,005 / 89,617 weighted
        residents against 88,480 / 85,807 / 82,602, and more priority-1 residents on
        every seed (2,929 vs 2,659, 2,782 vs 2,568, 2,466 vs 2,275).
    exact_max_nodes
        Node budget for the automatic choice of ``exact_kit_windows`` (a memory guard:
        with callback transits a node costs a few hundred bytes).
    transits
        How travel reaches OR-Tools. ``"matrix"``: node × node matrices copied into
        C++ (fastest lookups, but quadratic in visit nodes: 10.7 s and 2.4 GB to build
        4,809 nodes). ``"callback"``: Python callbacks reading the place × place
        matrices through the node's place row (0.2 s and 0.14 GB for the same model;
        the 500-site plan served as many residents, 93,071 vs 92,815 weighted).
        ``"auto"`` (default): matrices up to ``matrix_max_nodes`` nodes, where the C++
        lookups make the search faster and the copy is cheap, callbacks above.
    matrix_max_nodes
        Node count above which ``transits="auto"`` uses callbacks.
    greedy_time_exponent
        The greedy ranks visits by penalty ÷ (minutes spent) ** exponent: 1 favours
        value per minute, lower values favour large, valuable sites.
    first_solution
        ``FirstSolutionStrategy`` name used when ``construction="solver"``. The default
        inserts visits in parallel routes, which always yields a plan because every
        visit is optional (it gets slow beyond a few hundred visits).
    metaheuristic
        ``LocalSearchMetaheuristic`` name.
    operators
        Names of ``local_search_operators`` fields to switch on (see
        :data:`EXTRA_OPERATORS`; default none); ``disabled_operators`` to switch off.
    iterated_local_search
        Run OR-Tools' own iterated local search (``SolveWithIteratedLocalSearch``) for
        the whole time limit instead of the restarts below: SISR ruin sized by
        ``sisr_max_sequence`` and ``sisr_avg_removed``, local cheapest insertion, a
        descent with the operators above, simulated-annealing acceptance with
        temperatures from the model's mean arc cost (benchmarks/RESULTS.md §20). It
        starts from OR-Tools' first solution (``first_solution``), so ``construction``
        "greedy" is refused. ``"auto"``: only when that first solution averages at most
        ``sisr_avg_removed`` visits per used route (one ruin then frees about a route),
        the restarts otherwise. 9.15's ILS ignores a cancel, and its at-solution events
        with an unbound cost would abort the progress callback, so a main search with
        this set runs in a forked process of its own (:func:`_search_in_child`): a
        cancel terminates it (and returns no plan), and progress is reported once, when
        its plan comes back. §9 measured the flag without effect because it was set on a
        plain solve, which ignores it.
    sisr_route_sized
        Size the ILS's ruin by the routes: ``sisr_avg_removed`` and ``sisr_max_sequence``
        become at least the mean visits per used route of OR-Tools' first solution, so
        one ruin frees about a route's worth of visits on long routes too (the reason
        ``"auto"`` gives for the ILS on short routes); on routes shorter than the two
        settings it changes nothing.
    restarts
        Searches after the first one each get ``time_limit_s / (restarts + 1)``; they
        start from a copy of the best plan with a seeded share of visits removed
        (``RoutesToAssignment``) and repeat until the time limit (exactly ``restarts``
        of them when ``solution_limit`` is set, so runs stay reproducible).
    restart_ruin_share
        Share of visits removed before a restart.
    restart_ruin
        ``"random"`` (each visit) or ``"string"`` (strings of nearby visits, see
        :func:`_ruin`).
    restart_recreate
        Put the visits a restart removed back by cheapest feasible insertion before the
        local search runs (:class:`outreach.planning.search._Recreate`), instead of
        leaving their re-insertion to OR-Tools' operators: 2-3 times as many restarts,
        better on Solomon RC1, worse on long routes (benchmarks/RESULTS.md §15); off.
    restart_focus
        Run each restart's descent on a model of the ruined plan's sites and the unvisited
        ones that fit into it (:class:`outreach.planning.search._Focus`), then end with a
        descent on the whole model from the best plan: for prize-collecting problems whose
        routes take a small share of the sites, where the descent's moves over every
        unvisited site cost most of its time (benchmarks/RESULTS.md §27); off.
    restart_fill
        Before each restart's descent, insert unvisited visits into the ruined plan, best
        value per added tick first, leaving out those the ruin removed
        (:meth:`outreach.planning.search._Recreate.fill`); off.
    restart_limit_s
        Time limit of each restart's search (``None``: ``time_limit_s / (restarts + 1)``);
        with ``GREEDY_DESCENT`` each restart ends at its local optimum anyway, so many
        short restarts make an iterated local search.
    restart_threshold
        Record-to-record acceptance: a restart's plan within this relative margin of the
        best objective becomes the plan the next restart perturbs; the margin shrinks
        linearly to 0 at the time limit. 0 (default): restart only from the best plan.
    workers
        1 or 2. With 2, a second search runs in a forked process on the other core with
        seed + ``search.SECOND_WORKER_SEED_OFFSET`` and the ``second_worker`` overrides
        (any of these fields), through the same phases (construction, metaheuristic,
        restarts); the better plan wins.
    priority_weights
        Weight of one resident at priority 1..5.
    split_fraction
        A chunk of a split site fills at most this share of the best team-day
        available to it (room is left for travel).
    balance_coefficient
        Cost (in metres of driving, the unit of the objective) per minute a route runs
        past its even share of the total work, measured from its shift start: spreads
        work over teams and days without ever costing a resident (0 = off).
    arc_cost
        ``"distance"`` (metres) or ``"duration"`` (seconds) as travel cost.
    neighbors_ratio
        Share of nearest nodes local-search operators consider (``None``: OR-Tools'
        default, all of them).
    time_tick_s
        Resolution of the solver's clock in seconds (must divide a day). Travel and
        visit durations are rounded *up* to whole ticks, windows and shifts inwards, so
        a plan is valid at one-second precision. Minutes (60) keep window domains
        small; benchmarks with decimal travel times use 1.
    log_search
        Let OR-Tools log the search to stderr.
    gap_fill
        After the search, start every stop as early as it can and insert left-out visits
        (whole, or the largest part worth a visit) into the teams' idle time without moving
        any planned stop (:mod:`outreach.planning.gapfill`); the filled plan is re-checked
        with the independent checker and kept only if it passes.
    priority_repair
        After gap filling, put left-out visits in place of lower-priority visits where the
        weighted residents served grow (:mod:`outreach.planning.repair`); only with
        ``gap_fill``, and checked with it.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    solution_limit: int | None = None
    construction: str = "auto"
    greedy_above: int = 1000
    greedy_time_exponent: float = 1.0
    exact_kit_windows: bool | None = None
    exact_max_nodes: int = 60_000
    transits: str = "auto"
    matrix_max_nodes: int = 2500
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    operators: tuple[str, ...] = DEFAULT_OPERATORS
    disabled_operators: tuple[str, ...] = ()
    iterated_local_search: bool | str = False
    sisr_max_sequence: int = 10
    sisr_avg_removed: int = 10
    sisr_route_sized: bool = False
    restarts: int = 0
    restart_ruin_share: float = 0.2
    restart_ruin: str = "random"
    restart_threshold: float = 0.0
    restart_recreate: bool = False
    restart_focus: bool = False
    restart_fill: bool = False
    restart_limit_s: float | None = None
    workers: int = 1
    second_worker: Mapping[str, Any] = field(default_factory=dict, hash=False)
    priority_weights: tuple[int, int, int, int, int] = DEFAULT_WEIGHTS
    split_fraction: float = 0.9
    balance_coefficient: int = 100
    arc_cost: str = "distance"
    neighbors_ratio: float | None = None
    time_tick_s: int = 60
    log_search: bool = False
    gap_fill: bool = True
    priority_repair: bool = True
    search_fields: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise ValueError(f"params.time_limit_s: must be > 0, got {self.time_limit_s!r}")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("params.solution_limit: must be >= 1 or None")
        if self.construction not in ("auto", "greedy", "solver"):
            raise ValueError("params.construction: 'auto', 'greedy' or 'solver'")
        if self.first_solution not in _FIRST_SOLUTION.keys():
            raise ValueError(f"params.first_solution: unknown strategy {self.first_solution!r}")
        if self.metaheuristic not in _METAHEURISTIC.keys():
            raise ValueError(f"params.metaheuristic: unknown {self.metaheuristic!r}")
        known = set(
            pywrapcp.DefaultRoutingSearchParameters().local_search_operators.DESCRIPTOR.fields_by_name
        )
        for op in (*self.operators, *self.disabled_operators):
            if op not in known:
                raise ValueError(f"params.operators: unknown operator {op!r}")
        if len(self.priority_weights) != 5 or any(w < 0 for w in self.priority_weights):
            raise ValueError("params.priority_weights: five non-negative integers expected")
        if not 0 < self.split_fraction <= 1:
            raise ValueError("params.split_fraction: must be in (0, 1]")
        if self.workers not in (1, 2):
            raise ValueError("params.workers: 1 or 2")
        if self.iterated_local_search not in (False, True, "auto"):
            raise ValueError("params.iterated_local_search: false, true or 'auto'")
        if self.iterated_local_search and self.construction == "greedy":
            raise ValueError(
                "params.iterated_local_search: starts from OR-Tools' first solution, "
                "so construction must be 'solver' or 'auto'"
            )
        if self.transits not in ("auto", "matrix", "callback"):
            raise ValueError("params.transits: 'auto', 'matrix' or 'callback'")
        if self.arc_cost not in ("distance", "duration"):
            raise ValueError("params.arc_cost: 'distance' or 'duration'")
        if self.time_tick_s < 1 or DAY_SECONDS % self.time_tick_s:
            raise ValueError("params.time_tick_s: must divide 86400 (e.g. 1, 60)")
        if self.balance_coefficient < 0:
            raise ValueError("params.balance_coefficient: must be >= 0")
        if not 0 < self.restart_ruin_share < 1:
            raise ValueError("params.restart_ruin_share: must be in (0, 1)")
        if self.restart_limit_s is not None and not self.restart_limit_s > 0:
            raise ValueError("params.restart_limit_s: must be > 0 or None")
        if self.restart_ruin not in ("random", "string"):
            raise ValueError("params.restart_ruin: 'random' or 'string'")
        if not (math.isfinite(self.restart_threshold) and self.restart_threshold >= 0):
            raise ValueError("params.restart_threshold: must be >= 0")


# --------------------------------------------------------------------------- solving


def solve(
    problem: Problem,
    params: SolveParams | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | CancelCheck | None = None,
) -> Result:
    """Plan routes for ``problem``.

    Parameters
    ----------
    problem
        The validated problem.
    params
        Search settings (:class:`SolveParams`); defaults to a 10-second search.
    progress
        Called with a :class:`Progress` at each improving solution (in the solver thread).
    cancel
        A ``threading.Event`` or a callable returning ``True`` to stop the search early;
        the best plan so far is returned with status ``CANCELLED``.

    Returns
    -------
    Result
        Routes, unserved sites with reasons, and KPIs. Check it with
        :func:`outreach.planning.check`.
    """
    params = params or SolveParams()
    t0 = time.monotonic()
    is_cancelled: CancelCheck
    if cancel is None:
        is_cancelled = lambda: False  # noqa: E731
    elif isinstance(cancel, threading.Event):
        is_cancelled = cancel.is_set
    else:
        is_cancelled = cancel
    if not problem.vehicles:
        return _to_result(problem, None, None, "NO_VEHICLES", t0, (), weights=DEFAULT_WEIGHTS)
    model = _build(problem, params)
    if params.gap_fill:
        # leave the steps after the search (gap filling, priority repair, their check)
        # their time within the limit: their trials grow with left-out visits x team-days,
        # 1.9 s for Medan's 80 team-days x 2,077 visits, under 0.1 s for a benchmark
        # with four vehicles; never more than 15 % of the limit
        work = len(model.vehicles) * len(model.visits) * POST_STEP_S_PER_PAIR
        reserve = min(0.15 * params.time_limit_s, 0.5 + work)
        model.params = dataclasses.replace(
            params, time_limit_s=max(0.01, params.time_limit_s - reserve)
        )
    timings = {"build": time.monotonic() - t0}
    routing = model.routing
    history: list[tuple[float, int, float]] = []
    best = [None]  # objective of the best solution seen
    cancelled = [False]

    def on_solution() -> None:
        if is_cancelled():
            cancelled[0] = True
            routing.CancelSearch()
            return
        cost = routing.CostVar().Value()
        if best[0] is not None and cost >= best[0]:
            return
        best[0] = cost
        persons, metres = _snapshot(model)
        elapsed = time.monotonic() - t0
        history.append((elapsed, persons, metres / 1000))
        if progress is not None:
            progress(Progress(elapsed, persons, model.persons_requested, metres / 1000, cost))

    routing.AddAtSolutionCallback(on_solution)

    # a watcher thread cancels even between solutions (OR-Tools releases the GIL)
    stop_watch = threading.Event()

    def watch() -> None:
        while not stop_watch.wait(0.05):
            if is_cancelled():
                cancelled[0] = True
                routing.CancelSearch()
                return

    watcher = None
    if cancel is not None:
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

    # whether a search runs OR-Tools' ILS may depend on the first solution's routes:
    # measured once here, on this model, and handed to both cores
    stop = lambda: cancelled[0] or is_cancelled()  # noqa: E731
    left = model.params.time_limit_s - (time.monotonic() - t0)
    searches = [model.params]
    if params.workers == 2:
        searches.append(_worker_params(params, left, params.second_worker))
    measured = _needs_route_length(searches)
    route_length = _first_route_length(model, left) if measured else None
    other = None
    if params.workers == 2:
        other = _start_worker(
            problem,
            params,
            params.time_limit_s - (time.monotonic() - t0),
            route_length=route_length,
        )
    if _runs_ils(model.params, route_length):
        # OR-Tools 9.15's ILS runs to its time limit whatever RoutingModel.CancelSearch
        # or a custom limit says, and it fires at-solution events inside its recreate
        # where the cost is not bound yet: on_solution above, reading CostVar(), then
        # aborts the process (a failed CHECK, "variable Cost ... is not bound", seen on
        # a one-day office). So the main search runs in a forked process too, on its own
        # model without that callback, and a cancel terminates it; its plan comes back
        # as routes and is restored here (one progress report, at the end).
        solution, status_name = _search_in_child(
            problem, model, t0, stop, timings, route_length, closed=measured
        )
        if solution is None and is_cancelled():
            cancelled[0] = True
    else:
        solution, status_name = _search(model, t0, cancelled, timings, route_length)
    if other is not None:
        keyed = _finish_worker(other, stop, wait_s=5.0)
        routes = None if keyed is None else _unkeyed_routes(model, keyed)
        if routes is not None:
            candidate = _restore(model, routes)
            if candidate is not None and (
                solution is None or candidate.ObjectiveValue() < solution.ObjectiveValue()
            ):
                solution = candidate
                status_name = "ROUTING_SUCCESS"
    stop_watch.set()
    if watcher is not None:
        watcher.join()
    if cancelled[0]:
        status_name = "CANCELLED"
    timings["search"] = time.monotonic() - t0 - timings["build"] - timings["construction"]
    t_extract = time.monotonic()
    result = _to_result(problem, model, solution, status_name, t0, tuple(history))
    if params.gap_fill and solution is not None:
        # the gap-filled plan must pass the independent checker like any plan; if it did
        # not, the search's own plan stands
        from outreach.planning.checker import check

        if check(problem, result):
            result = _to_result(problem, model, solution, status_name, t0, tuple(history), False)
    timings["extract"] = time.monotonic() - t_extract
    return dataclasses.replace(result, timings=timings, runtime_s=time.monotonic() - t0)


def _search_in_child(
    problem: Problem,
    model: Any,
    t0: float,
    stop: CancelCheck,
    timings: dict[str, float],
    route_length: float | None,
    closed: bool,
) -> tuple[Any, str]:
    """The main search (``model.params``, same seed) in a forked process: the one way to
    run OR-Tools' ILS (``iterated_local_search``) so that a cancel (``stop()``) ends it.
    Returns the restored plan (``None`` if the child found none or was stopped) and the
    status name. ``closed``: the caller's model is closed already (it measured the route
    length), so loading the routes needs no closing first."""
    limit = model.params.time_limit_s - (time.monotonic() - t0)
    handle = _start_worker(
        problem, model.params, limit, overrides={}, seed_offset=0, route_length=route_length
    )
    keyed = _finish_worker(handle, stop)
    routes = None if keyed is None else _unkeyed_routes(model, keyed)
    timings["construction"] = 0.0
    if not closed:  # measuring the route length closed it; otherwise close it as a search would
        model.routing.CloseModelWithParameters(
            _search_parameters(len(model.visits), model.params, 1.0)
        )
    solution = None if routes is None else _restore(model, routes)
    if solution is None:
        return None, "CANCELLED" if stop() else "ROUTING_FAIL"
    return solution, "ROUTING_SUCCESS"
