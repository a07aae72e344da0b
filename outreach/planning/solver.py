"""OR-Tools routing model for multi-day outreach plans.

This is the only module of the project that imports OR-Tools (the pinned 9.15 wheel:
``ortools.constraint_solver.pywrapcp`` and ``routing_enums_pb2``).

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
progress is reported on each improving solution. Everything tunable is in
:class:`SolveParams`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from outreach.planning import gapfill, repair
from outreach.planning.domain import (
    CARD_SERVICES,
    DAY_SECONDS,
    INT32_LIMIT,
    Problem,
    Service,
    Site,
    Vehicle,
)
from outreach.planning.explain import Matrices, explain_unserved, fits_alone, place_matrices
from outreach.planning.result import BreakTaken, Result, Route, Stop

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
        visit nodes (measured on a 200-site Medan instance: exact served 10 % more
        residents and every priority-1 resident; at 500 sites it would need ~4,800
        nodes, too many for a one-minute plan).
    exact_max_nodes
        Node budget for the automatic choice of ``exact_kit_windows``.
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
        Ask 9.15's own iterated local search with ruin-and-recreate (SISR ruin, sized by
        ``sisr_max_sequence`` and ``sisr_avg_removed``). Measured without effect in the
        9.15 wheel (benchmarks/RESULTS.md §9): with guided local search the plans were
        identical, with greedy descent the search stopped at its first local optimum.
        The restarts below (``restart_ruin="string"``) are our working ILS.
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
        seed + 1 and the ``second_worker`` overrides (any of these fields), through the
        same phases (construction, metaheuristic, restarts); the better plan wins.
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
    exact_max_nodes: int = 2500
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    operators: tuple[str, ...] = DEFAULT_OPERATORS
    disabled_operators: tuple[str, ...] = ()
    iterated_local_search: bool = False
    sisr_max_sequence: int = 10
    sisr_avg_removed: int = 10
    restarts: int = 0
    restart_ruin_share: float = 0.2
    restart_ruin: str = "random"
    restart_threshold: float = 0.0
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


# ---------------------------------------------------------------------- visit planning


@dataclass(frozen=True)
class Visit:
    """A visit node the solver may schedule: (part of) one site's demand."""

    site_index: int
    chunk: int
    persons: Mapping[Service, int]
    cards: int
    service_s: Mapping[int, int]
    """Visit duration (setup + service) in seconds per number of kits."""
    vehicles: tuple[int, ...]
    starts: tuple[int, int]
    """Allowed start of the visit in ticks from local midnight of the visiting vehicle's
    date (inclusive): the whole visit fits one opening window and the shift."""


def split_persons(demand: Mapping[Service, int], parts: int) -> list[dict[Service, int]]:
    """Split ``demand`` into ``parts`` chunks whose per-service sums equal it exactly.

    Chunk sizes differ by at most one person and each chunk takes a near-proportional
    share of every service; no chunk is empty as long as ``parts <= total persons``.
    """
    total = sum(demand.values())
    parts = max(1, min(parts, total))
    remaining = dict(demand)
    chunks: list[dict[Service, int]] = []
    for k in range(parts):
        left_parts = parts - k
        size = (k + 1) * total // parts - k * total // parts
        if left_parts == 1:
            chunk = dict(remaining)
        else:
            chunk = {s: n // left_parts for s, n in remaining.items()}
            missing = size - sum(chunk.values())
            # top up (or trim) from the services with the most persons left over
            for s in sorted(remaining, key=lambda s: (-(remaining[s] - chunk[s]), s.value)):
                if missing <= 0:
                    break
                extra = min(missing, remaining[s] - chunk[s])
                chunk[s] += extra
                missing -= extra
            for s in sorted(chunk, key=lambda s: (-chunk[s], s.value)):
                if missing >= 0:
                    break
                cut = min(-missing, chunk[s])
                chunk[s] -= cut
                missing += cut
        for s, n in chunk.items():
            remaining[s] -= n
        chunks.append({s: n for s, n in chunk.items() if n})
    assert not any(remaining.values()), "split must use up the demand exactly"
    return chunks


_SEGMENTS: dict[tuple[int, Any], tuple[Site, list[tuple[int, int]]]] = {}


def service_segments(site: Site, vehicle: Vehicle) -> list[tuple[int, int]]:
    """Stretches of the vehicle's shift when the site is open, cut by fixed breaks.

    Seconds of the day, sorted. No visit may overlap a fixed break, so a visit lies
    within one segment.
    """
    shift = vehicle.shift
    # memo keyed by the site's identity (the entry keeps the site alive, so the id
    # cannot be reused) and the shift (dates, hours and breaks)
    key = (id(site), shift)
    cached = _SEGMENTS.get(key)
    if cached is not None and cached[0] is site:
        return cached[1]
    if len(_SEGMENTS) > 100_000:
        _SEGMENTS.clear()
    out = _segments(site, shift)
    _SEGMENTS[key] = (site, out)
    return out


def _segments(site: Site, shift: Any) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for w in site.windows_on(shift.date):
        pieces = [(max(w.start, shift.start), min(w.end, shift.end))]
        for b in shift.breaks:
            if not b.is_fixed:
                continue
            pieces = [
                part
                for lo, hi in pieces
                for part in ((lo, min(hi, b.start)), (max(lo, b.end), hi))
                if part[0] < part[1]
            ]
        out.extend(p for p in pieces if p[0] < p[1])
    return sorted(out)


def _usable_seconds(problem: Problem, site: Site, vehicle: Vehicle) -> int:
    """Longest segment during which the team could serve the site on its date."""
    return max((hi - lo for lo, hi in service_segments(site, vehicle)), default=0)


def eligible_vehicles(problem: Problem, site: Site) -> list[Vehicle]:
    """Team-days that may serve the site: skills, lock, and an opening on that date."""
    out = []
    for v in problem.vehicles:
        if not v.team.can_serve(site):
            continue
        if site.lock is not None and (v.team.id != site.lock.team_id or v.date != site.lock.date):
            continue
        if _usable_seconds(problem, site, v) <= 0:
            continue
        if site.cards and v.team.cards_per_day <= 0:
            continue
        out.append(v)
    return out


def plan_visits(
    problem: Problem, params: SolveParams, matrices: Matrices | None = None
) -> list[Visit]:
    """Turn sites into visit nodes, splitting a site no team-day can serve in one visit.

    A site is split only when its whole remaining demand does not fit as the only
    stop of any eligible team-day (:func:`fits_alone`) or exceeds every team's daily
    blank cards. Chunks are sized for the teams with the fewest kits (at most
    ``split_fraction`` of their best day) and then grown in number until one fits alone.
    """
    if matrices is None:
        matrices = place_matrices(problem)
    exact = params.exact_kit_windows is not False
    tick = params.time_tick_s
    row = {p.key: i for i, p in enumerate(problem.places())}
    visits: list[Visit] = []
    for si, site in enumerate(problem.sites):
        vehicles = eligible_vehicles(problem, site)
        if not vehicles:
            continue
        kit_levels = sorted({v.team.kits for v in vehicles})
        parts = 1
        max_cards = max(v.team.cards_per_day for v in vehicles)
        whole_fits = any(fits_alone(problem, site, site.demand, v, matrices, row) for v in vehicles)
        if site.lock is None and (not whole_fits or site.cards > max_cards):
            parts = _parts_needed(problem, site, vehicles, kit_levels[0], params, matrices, row)
            if site.cards and max_cards > 0:
                parts = max(parts, -(-site.cards // max_cards))
        for ci, persons in enumerate(split_persons(site.demand, parts)):
            cards = sum(n for s, n in persons.items() if s in CARD_SERVICES)
            svc = {k: problem.visit_seconds(site, persons, k) for k in kit_levels}
            usable = [
                v
                for v in vehicles
                if (not cards or v.team.cards_per_day >= cards)
                and svc[v.team.kits] <= _usable_seconds(problem, site, v)
            ]
            # A segment ending before the shift does (window closes, fixed break starts)
            # must hold the whole visit; its latest start leaves room for the slowest
            # team allowed that date (conservative: one node per kit level was exact
            # but multiplied nodes by the kit levels, which Medan-size runs could not
            # afford). Where the shift closes first, the route's end cumul already
            # holds the visit for any team.
            slowest: dict[object, int] = {}
            for v in usable:
                slowest[v.date] = max(slowest.get(v.date, 0), -(-svc[v.team.kits] // tick))
            # One node per distinct start interval (a window on some dates), allowed on
            # the vehicles of those dates, all in one disjunction: cumul domains are
            # plain ranges. Holes (RemoveInterval) are invisible to the insertion
            # filters and made first solutions fail on Medan-size instances.
            patterns: dict[tuple[int, int], list[int]] = {}
            for v in usable:
                starts: list[tuple[int, int]] = []
                for seg_lo, seg_hi in service_segments(site, v):
                    lo = -(-seg_lo // tick)
                    if seg_hi >= v.shift.end:
                        hi = v.shift.end // tick
                    else:
                        own = -(-svc[v.team.kits] // tick)
                        hi = seg_hi // tick - (own if exact else slowest[v.date])
                    if lo <= hi:
                        starts.append((lo, hi))
                for interval in _merge(starts):
                    patterns.setdefault(interval, []).append(v.index)
            for interval, allowed in sorted(patterns.items()):
                visits.append(Visit(si, ci, persons, cards, svc, tuple(allowed), interval))
    return visits


def _parts_needed(
    problem: Problem,
    site: Site,
    vehicles: Sequence[Vehicle],
    slow_kits: int,
    params: SolveParams,
    matrices: Matrices,
    row: Mapping[tuple[str, str], int],
) -> int:
    """Number of chunks so that one chunk fits alone on a team-day of the slowest teams."""
    total = site.persons
    slow = [v for v in vehicles if v.team.kits == slow_kits]
    room = max(_usable_seconds(problem, site, v) for v in slow)
    room = int(room * params.split_fraction) - site.setup_s
    work = problem.service_seconds(site.demand, slow_kits)
    parts = min(total, max(2, -(-work // max(1, room))))
    # grow until the biggest chunk fits alone (travel and breaks included)
    while parts < total:
        biggest = max(split_persons(site.demand, parts), key=lambda c: sum(c.values()))
        if any(fits_alone(problem, site, biggest, v, matrices, row) for v in slow):
            break
        parts = min(total, parts + max(1, parts // 4))
    return parts


def _merge(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


# --------------------------------------------------------------------------- the model


@dataclass
class _Model:
    problem: Problem
    params: SolveParams
    visits: list[Visit]
    vehicles: tuple[Vehicle, ...]
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time_dim: Any
    dist: dict[str, np.ndarray]
    dur: dict[str, np.ndarray]
    service: dict[int, np.ndarray]
    depot_nodes: int
    breaks: dict[int, list[tuple[str, int, Any]]]
    persons_requested: int
    full: dict[str, tuple[np.ndarray, np.ndarray]]
    penalties: dict[tuple[int, int], int]
    locked: frozenset[int]
    """Routing indices of locked visits (restarts never remove them)."""


def _build(problem: Problem, params: SolveParams) -> _Model:
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
    dist: dict[str, np.ndarray] = {}
    dur: dict[str, np.ndarray] = {}
    for prof in profiles:
        d, t = full[prof]
        dist[prof] = d[np.ix_(rows, rows)]
        dur[prof] = t[np.ix_(rows, rows)]

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
    for prof in profiles:
        travel_t = -(-dur[prof] // tick)
        for kits in sorted({v.team.kits for v in vehicles if v.team.profile == prof}):
            transit = travel_t + service[kits][:, None]
            if transit.max(initial=0) >= INT32_LIMIT:
                raise ValueError("travel plus visit time exceeds 2**31 ticks")
            time_cb[(prof, kits)] = routing.RegisterTransitMatrix(transit.tolist())
        cost_matrix = dist[prof] if params.arc_cost == "distance" else dur[prof]
        cost_cb[prof] = routing.RegisterTransitMatrix(cost_matrix.tolist())
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
    if forced * (len(groups) + 1) >= 2**62:
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
    # _to_result, so teams do not wait at closed sites.)

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
    )


def _search_parameters(
    n_nodes: int,
    params: SolveParams,
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
    if o.get("iterated_local_search", params.iterated_local_search):
        p.use_iterated_local_search = True
        # 9.15 rejects ILS without a ruin strategy (ROUTING_INVALID): use SISR
        rr = p.iterated_local_search_parameters.ruin_recreate_parameters
        sisr = rr.ruin_strategies.add().sisr
        sisr.max_removed_sequence_size = int(o.get("sisr_max_sequence", params.sisr_max_sequence))
        sisr.avg_num_removed_visits = int(o.get("sisr_avg_removed", params.sisr_avg_removed))
        sisr.bypass_factor = 0.01
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
        return _to_result(problem, None, None, "NO_VEHICLES", t0, ())
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

    other = None
    if params.workers == 2:
        other = _start_worker(problem, params, params.time_limit_s - (time.monotonic() - t0))
    solution, status_name = _search(model, t0, cancelled, timings)
    if other is not None:
        routes = _finish_worker(other, cancelled[0] or is_cancelled())
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
    model: _Model, routes: list[list[int]], rng: np.random.Generator, params: SolveParams
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


def _start_worker(problem: Problem, params: SolveParams, time_limit_s: float) -> Any:
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


def _worker_main(
    problem: Problem, params: SolveParams, limit: float, overrides: Mapping[str, Any], conn: Any
) -> None:
    """The second core's search: same model, another seed and the ``second_worker``
    settings, run through the same phases as the main search."""
    try:
        t0 = time.monotonic()
        fields = {f.name for f in dataclasses.fields(SolveParams)}
        mine = dataclasses.replace(
            params,
            workers=1,
            seed=params.seed + 1,
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


# ------------------------------------------------------------------- reading results


def _to_result(
    problem: Problem,
    model: _Model | None,
    solution: Any,
    status: str,
    t0: float,
    history: tuple[tuple[float, int, float], ...],
    fill: bool = True,
) -> Result:
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
        weights=DEFAULT_WEIGHTS if model is None else model.params.priority_weights,
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
