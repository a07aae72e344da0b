"""Readers for the standard routing benchmarks (Solomon VRPTW and TOPTW).

The readers turn the shipped text files into plain, frozen instance dataclasses that
hold exactly what the file says. Separate mapper functions (``solomon_to_problem`` and
``toptw_to_problem``) translate an instance onto the planning core's problem model, so the
benchmarks exercise the same model, solver and checker as real outreach plans.

Numeric conventions follow the published best-known solutions:

* Solomon VRPTW (distance-only BKS): Euclidean distance and travel time truncated to one
  decimal, ``floor(10 * d) / 10``. We work in integer tenths (scale 10).
* TOPTW: distances truncated to one decimal for the Solomon-based files and to two decimals
  for the Cordeau-based ``pr`` files (scale 10 and 100 respectively).

Mapping onto the problem model (see :func:`solomon_to_problem`, :func:`toptw_to_problem`):
one working day (:data:`BENCHMARK_DATE`), one team per vehicle or path with one shift from
the depot's opening to its closing time, an explicit travel matrix in which one scaled unit
is one metre and one second, and each customer as a site whose setup time is the file's
service time (``seconds_per_person`` is zero, so persons cost no extra time). Solomon demand
becomes on-site printing persons, which consume one blank card each, so the vehicle capacity
is the team's ``cards_per_day``; TOPTW profit becomes persons to record, so maximising served
residents maximises the collected score.

Distances are computed with exact integer arithmetic from the decimal text of the
coordinates, so a truncation never flips because of floating-point error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from outreach.planning.domain import (
    DAY_SECONDS,
    Location,
    Problem,
    Service,
    Shift,
    Site,
    Team,
    TimeWindow,
)
from outreach.planning.travel import ExplicitMatrix

__all__ = [
    "BENCHMARK_DATE",
    "BenchmarkProblem",
    "solomon_to_problem",
    "toptw_to_problem",
    "BenchmarkFormatError",
    "SolomonCustomer",
    "SolomonInstance",
    "ToptwVertex",
    "ToptwInstance",
    "read_solomon",
    "read_toptw",
    "truncated_distances",
    "scaled",
    "RouteCheck",
    "check_solomon_routes",
    "check_toptw_routes",
]


class BenchmarkFormatError(ValueError):
    """A benchmark file does not follow the expected format.

    The message names the file and, where known, the line.
    """


@dataclass(frozen=True, slots=True)
class SolomonCustomer:
    """One node of a Solomon VRPTW file (node 0 is the depot).

    Attributes
    ----------
    id
        ``CUST NO.`` as written in the file.
    x, y
        Coordinates.
    demand
        Units to deliver.
    ready, due
        Earliest and latest start of service (for the depot: opening and latest return).
    service
        Service duration.
    """

    id: int
    x: float
    y: float
    demand: int
    ready: int
    due: int
    service: int


@dataclass(frozen=True, slots=True)
class SolomonInstance:
    """A parsed Solomon VRPTW instance.

    Attributes
    ----------
    name
        Instance name from the first line of the file (e.g. ``"C101"``).
    num_vehicles
        Fleet size from the ``VEHICLE`` section.
    capacity
        Capacity of every vehicle.
    depot
        Node 0; its ``due`` is the latest return time.
    customers
        The customers in file order.
    """

    name: str
    num_vehicles: int
    capacity: int
    depot: SolomonCustomer
    customers: tuple[SolomonCustomer, ...]

    @property
    def nodes(self) -> tuple[SolomonCustomer, ...]:
        """Depot followed by the customers (matrix index order)."""
        return (self.depot, *self.customers)

    def distance_matrix(self) -> np.ndarray:
        """Return the truncated distances in integer tenths, depot at index 0."""
        nodes = self.nodes
        return truncated_distances([n.x for n in nodes], [n.y for n in nodes], decimals=1)


@dataclass(frozen=True, slots=True)
class ToptwVertex:
    """One vertex of a TOPTW file (vertex 0 is the start and end point).

    Attributes
    ----------
    id
        Vertex number as written in the file.
    x, y
        Coordinates.
    duration
        Service duration.
    profit
        Score collected when the vertex is visited.
    open, close
        Time window for the start of service (vertex 0: depot opening and Tmax).
    """

    id: int
    x: float
    y: float
    duration: float
    profit: float
    open: float
    close: float


@dataclass(frozen=True, slots=True)
class ToptwInstance:
    """A parsed TOPTW instance (KU Leuven / OPLib text format).

    Attributes
    ----------
    name
        File stem (e.g. ``"pr01"``).
    header
        The four numbers of the first line ``k v N t`` as written.
    decimals
        Decimals kept when truncating distances: 1 for Solomon-based, 2 for Cordeau-based.
    depot
        Vertex 0.
    vertices
        The other vertices in file order.
    """

    name: str
    header: tuple[int, int, int, int]
    decimals: int
    depot: ToptwVertex
    vertices: tuple[ToptwVertex, ...]

    @property
    def tmax(self) -> float:
        """Time budget of every path: the closing time of vertex 0."""
        return self.depot.close

    @property
    def nodes(self) -> tuple[ToptwVertex, ...]:
        """Depot followed by the vertices (matrix index order)."""
        return (self.depot, *self.vertices)

    @property
    def scale(self) -> int:
        """Integer scale of the truncated distances (10 or 100)."""
        return 10**self.decimals

    def distance_matrix(self) -> np.ndarray:
        """Return the truncated distances as integers in units of ``1 / scale``."""
        nodes = self.nodes
        return truncated_distances(
            [n.x for n in nodes], [n.y for n in nodes], decimals=self.decimals
        )


def truncated_distances(xs: list[float], ys: list[float], decimals: int) -> np.ndarray:
    """Euclidean distances truncated to ``decimals``, as integers scaled by ``10**decimals``.

    Parameters
    ----------
    xs, ys
        Coordinates; each is read back from its shortest decimal text so that, e.g.,
        ``-29.73`` is treated as exactly ``-2973 / 100``.
    decimals
        Decimals to keep (0–4).

    Returns
    -------
    numpy.ndarray
        ``int64`` square matrix with ``floor(10**decimals * d)``; zero on the diagonal.
    """
    if not 0 <= decimals <= 4:
        raise ValueError(f"decimals must be within 0..4, got {decimals}")
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length ({len(xs)} != {len(ys)})")
    exact = [Decimal(repr(float(v))) for v in (*xs, *ys)]
    # Smallest power of ten that turns every coordinate into an integer.
    places = max((-d.as_tuple().exponent for d in exact if d.as_tuple().exponent < 0), default=0)
    if places > 6:
        raise ValueError("coordinates with more than 6 decimals are not supported")
    unit = 10**places
    ints = np.array([int(d * unit) for d in exact], dtype=np.int64)
    xi, yi = ints[: len(xs)], ints[len(xs) :]
    dx = xi[:, None] - xi[None, :]
    dy = yi[:, None] - yi[None, :]
    # d * 10**decimals = sqrt(dx² + dy²) * 10**decimals / unit; floor of that equals
    # isqrt(S * 100**decimals) // unit for integer S, computed exactly below.
    big = (dx * dx + dy * dy) * (100**decimals)
    if big.size and int(big.max()) > 2**62:
        raise ValueError("coordinates too large for exact integer distances")
    root = np.floor(np.sqrt(big.astype(np.float64))).astype(np.int64)
    # Correct the float square root by at most a step either way to get isqrt exactly.
    root -= (root * root > big).astype(np.int64)
    root += ((root + 1) * (root + 1) <= big).astype(np.int64)
    return root // unit


def _number(token: str, path: Path, line_no: int) -> Decimal:
    try:
        value = Decimal(token)
    except InvalidOperation:
        raise BenchmarkFormatError(f"{path}:{line_no}: {token!r} is not a number") from None
    if not value.is_finite():
        raise BenchmarkFormatError(f"{path}:{line_no}: {token!r} is not a finite number")
    return value


def _integer(token: str, path: Path, line_no: int, what: str) -> int:
    value = _number(token, path, line_no)
    if value != value.to_integral_value():
        raise BenchmarkFormatError(f"{path}:{line_no}: {what} must be an integer, got {token!r}")
    return int(value)


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """Non-empty lines of ``path`` as (1-based line number, tokens)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchmarkFormatError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkFormatError(f"{path}: cannot read file ({exc})") from None
    return [(i, line.split()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_solomon(path: str | Path) -> SolomonInstance:
    """Read a Solomon VRPTW file.

    Parameters
    ----------
    path
        File in the classic layout: name line, ``VEHICLE`` section with ``NUMBER CAPACITY``,
        ``CUSTOMER`` section with one line per node (node 0 = depot).

    Returns
    -------
    SolomonInstance

    Raises
    ------
    BenchmarkFormatError
        If the file is missing, a section is absent, a value is not a number, a line does
        not have seven fields, node 0 is missing or node ids repeat.
    """
    path = Path(path)
    lines = _lines(path)
    if not lines:
        raise BenchmarkFormatError(f"{path}: file is empty")
    name = lines[0][1][0]
    keys = [tokens[0].upper() for _, tokens in lines]
    try:
        vehicle_at = keys.index("VEHICLE")
        customer_at = keys.index("CUSTOMER")
    except ValueError:
        raise BenchmarkFormatError(
            f"{path}: not a Solomon file (needs VEHICLE and CUSTOMER sections)"
        ) from None
    fleet = [row for row in lines[vehicle_at + 1 : customer_at] if row[1][0].isdigit()]
    if len(fleet) != 1 or len(fleet[0][1]) != 2:
        raise BenchmarkFormatError(f"{path}: VEHICLE section needs one 'NUMBER CAPACITY' line")
    line_no, (number, capacity) = fleet[0]
    num_vehicles = _integer(number, path, line_no, "NUMBER")
    cap = _integer(capacity, path, line_no, "CAPACITY")
    if num_vehicles < 1 or cap < 0:
        raise BenchmarkFormatError(f"{path}:{line_no}: fleet size must be ≥ 1, capacity ≥ 0")

    nodes: list[SolomonCustomer] = []
    for line_no, tokens in lines[customer_at + 1 :]:
        if not tokens[0].lstrip("-").isdigit():
            continue  # the column-heading line
        if len(tokens) != 7:
            raise BenchmarkFormatError(
                f"{path}:{line_no}: expected 7 fields per customer, got {len(tokens)}"
            )
        ident = _integer(tokens[0], path, line_no, "CUST NO.")
        x, y = (float(_number(t, path, line_no)) for t in tokens[1:3])
        demand, ready, due, service = (
            _integer(t, path, line_no, field)
            for t, field in zip(
                tokens[3:], ("DEMAND", "READY TIME", "DUE DATE", "SERVICE TIME"), strict=True
            )
        )
        if demand < 0 or service < 0 or ready < 0 or due < ready:
            raise BenchmarkFormatError(
                f"{path}:{line_no}: customer {ident} needs demand, service ≥ 0 and 0 ≤ ready ≤ due"
            )
        nodes.append(SolomonCustomer(ident, x, y, demand, ready, due, service))
    if not nodes or nodes[0].id != 0:
        raise BenchmarkFormatError(f"{path}: the first CUSTOMER line must be node 0 (the depot)")
    ids = [n.id for n in nodes]
    if len(set(ids)) != len(ids):
        raise BenchmarkFormatError(f"{path}: customer numbers repeat")
    return SolomonInstance(name, num_vehicles, cap, nodes[0], tuple(nodes[1:]))


def read_toptw(path: str | Path, decimals: int | None = None) -> ToptwInstance:
    """Read a TOPTW file in the KU Leuven / OPLib text format.

    Parameters
    ----------
    path
        File with the header ``k v N t``, a line ``D Q`` and one line per vertex
        ``i x y d S f a list O C`` (``list`` has ``a`` entries); vertex 0 is the depot.
    decimals
        Decimals kept when truncating distances. By default 2 for the Cordeau-based files
        (name starting with ``pr``) and 1 otherwise.

    Returns
    -------
    ToptwInstance

    Raises
    ------
    BenchmarkFormatError
        If the file is missing, a value is not a number, a vertex line has the wrong number
        of fields, vertex 0 is missing, ids repeat or the count differs from ``N``.
    """
    path = Path(path)
    # Parse as a token stream: one shipped file (type-2 c204) breaks the header over two
    # lines differently, so line boundaries are not reliable before the vertex records.
    tokens = [(line_no, tok) for line_no, toks in _lines(path) for tok in toks]
    if len(tokens) < 6 + 9:
        raise BenchmarkFormatError(f"{path}: too short for a TOPTW file")
    header = tuple(_integer(tok, path, line_no, "header value") for line_no, tok in tokens[:4])
    pos = 6  # skip 'k v N t' and 'D Q'
    vertices: list[ToptwVertex] = []
    while pos < len(tokens):
        line_no = tokens[pos][0]
        if pos + 9 > len(tokens):
            raise BenchmarkFormatError(f"{path}:{line_no}: vertex record is cut short")
        count = _integer(tokens[pos + 6][1], path, line_no, "number of visit combinations")
        if count < 0 or pos + 9 + count > len(tokens):
            raise BenchmarkFormatError(f"{path}:{line_no}: vertex record is cut short")
        record = [tok for _, tok in tokens[pos : pos + 9 + count]]
        if {ln for ln, _ in tokens[pos : pos + 9 + count]} != {line_no}:
            raise BenchmarkFormatError(
                f"{path}:{line_no}: expected {9 + count} fields on the line (a = {count})"
            )
        pos += 9 + count
        ident = _integer(record[0], path, line_no, "vertex number")
        x, y, duration, profit = (float(_number(t, path, line_no)) for t in record[1:5])
        open_, close = (float(_number(t, path, line_no)) for t in record[-2:])
        if duration < 0 or profit < 0 or open_ < 0 or close < open_:
            raise BenchmarkFormatError(
                f"{path}:{line_no}: vertex {ident} needs duration, profit ≥ 0 and 0 ≤ open ≤ close"
            )
        vertices.append(ToptwVertex(ident, x, y, duration, profit, open_, close))
    if not vertices:
        raise BenchmarkFormatError(f"{path}: no vertices")
    if vertices[0].id != 0:
        raise BenchmarkFormatError(f"{path}: the first vertex must be 0 (start and end point)")
    ids = [v.id for v in vertices]
    if len(set(ids)) != len(ids):
        raise BenchmarkFormatError(f"{path}: vertex numbers repeat")
    if header[2] != len(vertices) - 1:
        raise BenchmarkFormatError(
            f"{path}: header says N = {header[2]} vertices, file has {len(vertices) - 1}"
        )
    if decimals is None:
        decimals = 2 if path.stem.lower().startswith("pr") else 1
    if decimals not in (0, 1, 2, 3):
        raise ValueError(f"decimals must be within 0..3, got {decimals}")
    return ToptwInstance(path.stem, header, decimals, vertices[0], tuple(vertices[1:]))


def scaled(value: float, scale: int) -> int:
    """``value * scale`` as an exact integer, for durations and windows of the files.

    Raises
    ------
    ValueError
        If the value has more decimals than the scale can hold.
    """
    exact = Decimal(repr(float(value))) * scale
    if exact != exact.to_integral_value():
        raise ValueError(f"{value} has more decimals than scale {scale} keeps")
    result = int(exact)
    if not math.isfinite(value) or abs(result) >= 2**31:
        raise ValueError(f"{value} × {scale} is beyond 32-bit")
    return result


@dataclass(frozen=True, slots=True)
class RouteCheck:
    """Outcome of checking routes against a benchmark file alone.

    Attributes
    ----------
    feasible
        True when ``violations`` is empty.
    violations
        One sentence per broken rule (first few per kind are enough to debug).
    distance
        Total truncated distance in the file's units (e.g. 827.3).
    exact_distance
        Total unrounded Euclidean distance.
    score
        Total collected profit (TOPTW) or served demand (Solomon).
    vehicles
        Number of non-empty routes.
    """

    feasible: bool
    violations: tuple[str, ...]
    distance: float
    exact_distance: float
    score: float
    vehicles: int


def _walk(
    nodes: tuple,
    matrix: np.ndarray,
    scale: int,
    routes: list[list[int]],
    windows: list[tuple[int, int]],
    service: list[int],
    horizon: tuple[int, int],
) -> tuple[list[str], int, float, set[int]]:
    """Simulate routes from the depot with waiting allowed; return violations and totals."""
    index = {n.id: i for i, n in enumerate(nodes)}
    violations: list[str] = []
    seen: set[int] = set()
    total = 0
    exact = 0.0
    for r, route in enumerate(routes):
        time = horizon[0]
        prev = 0
        for ident in route:
            if ident not in index or index[ident] == 0:
                violations.append(f"route {r}: {ident} is not a customer of the file")
                continue
            if ident in seen:
                violations.append(f"route {r}: {ident} is visited more than once")
            seen.add(ident)
            i = index[ident]
            total += int(matrix[prev, i])
            exact += math.dist((nodes[prev].x, nodes[prev].y), (nodes[i].x, nodes[i].y))
            start = max(time + int(matrix[prev, i]), windows[i][0])
            if start > windows[i][1]:
                violations.append(
                    f"route {r}: service at {ident} starts at {start / scale:g}, "
                    f"after its due time {windows[i][1] / scale:g}"
                )
            time = start + service[i]
            prev = i
        if route:
            total += int(matrix[prev, 0])
            exact += math.dist((nodes[prev].x, nodes[prev].y), (nodes[0].x, nodes[0].y))
            back = time + int(matrix[prev, 0])
            if back > horizon[1]:
                violations.append(
                    f"route {r}: returns at {back / scale:g}, after the depot closes "
                    f"at {horizon[1] / scale:g}"
                )
    return violations, total, exact, seen


def check_solomon_routes(instance: SolomonInstance, routes: list[list[int]]) -> RouteCheck:
    """Check VRPTW routes against the Solomon file alone.

    Every customer exactly once, load ≤ capacity per route, at most ``num_vehicles`` routes,
    service starts within [ready, due] (waiting allowed), return by the depot's due date;
    travel time = truncated distance.
    """
    nodes = instance.nodes
    matrix = instance.distance_matrix()
    scale = 10
    windows = [(n.ready * scale, n.due * scale) for n in nodes]
    service = [n.service * scale for n in nodes]
    violations, total, exact, seen = _walk(
        nodes, matrix, scale, routes, windows, service, windows[0]
    )
    demand = {n.id: n.demand for n in instance.customers}
    for r, route in enumerate(routes):
        load = sum(demand.get(i, 0) for i in route)
        if load > instance.capacity:
            violations.append(f"route {r}: load {load} exceeds capacity {instance.capacity}")
    missing = sorted(set(demand) - seen)
    if missing:
        violations.append(f"{len(missing)} customers not served, e.g. {missing[:5]}")
    used = sum(1 for r in routes if r)
    if used > instance.num_vehicles:
        violations.append(f"{used} routes exceed the fleet of {instance.num_vehicles}")
    served = sum(demand.get(i, 0) for i in seen)
    return RouteCheck(not violations, tuple(violations), total / scale, exact, float(served), used)


def check_toptw_routes(instance: ToptwInstance, routes: list[list[int]], paths: int) -> RouteCheck:
    """Check TOPTW paths against the file alone.

    Each vertex at most once, at most ``paths`` paths, service starts within [open, close]
    (waiting allowed), every path back at vertex 0 by Tmax; travel time = distance truncated
    to the instance's decimals. The score is the sum of the visited vertices' profits.
    """
    nodes = instance.nodes
    matrix = instance.distance_matrix()
    scale = instance.scale
    windows = [(scaled(n.open, scale), scaled(n.close, scale)) for n in nodes]
    service = [scaled(n.duration, scale) for n in nodes]
    violations, total, exact, seen = _walk(
        nodes, matrix, scale, routes, windows, service, windows[0]
    )
    used = sum(1 for r in routes if r)
    if used > paths:
        violations.append(f"{used} paths exceed m = {paths}")
    profit = {n.id: n.profit for n in instance.vertices}
    score = sum(profit.get(i, 0.0) for i in seen)
    return RouteCheck(not violations, tuple(violations), total / scale, exact, score, used)


# ------------------------------------------------------------------ problem mapping

BENCHMARK_DATE = date(2024, 1, 8)
"""The single working day (a Monday) benchmark instances are planned on."""


@dataclass(frozen=True)
class BenchmarkProblem:
    """A benchmark instance mapped onto the planning model, plus the way back.

    Attributes
    ----------
    problem
        The planning problem (one day, explicit matrices).
    file_ids
        Site id → node id as written in the file.
    scale
        Scaled units per file unit (10 or 100): matrix entries and times are file values
        × ``scale``, read as metres and seconds.
    """

    problem: Problem
    file_ids: dict[str, int]
    scale: int


def _placeholder(x: float, y: float) -> Location:
    # Benchmark coordinates are planar, not WGS84; travel comes from the explicit matrix,
    # so the location only has to be valid. Shrinking keeps every file inside ±90°.
    return Location(lat=y / 1000.0, lon=x / 1000.0)


def _explicit(matrix: np.ndarray, site_ids: list[str], team_ids: list[str]) -> ExplicitMatrix:
    index: dict[tuple[str, str], int] = {("site", sid): i + 1 for i, sid in enumerate(site_ids)}
    for tid in team_ids:
        index[("start", tid)] = 0
        index[("end", tid)] = 0
    return ExplicitMatrix(index=index, distance_m=matrix, duration_s=matrix)


LAYOUTS = ("days", "teams")


def _fleet(
    layout: str,
    count: int,
    prefix: str,
    label: str,
    depot: Location,
    start: int,
    end: int,
    **team_fields: object,
) -> tuple[tuple[Team, ...], tuple[date, ...]]:
    """Teams and horizon for ``count`` identical vehicles from one depot.

    ``"days"``: one team with one shift on each of ``count`` consecutive dates (every
    vehicle is a team-day of the same team). ``"teams"``: ``count`` teams with one shift
    on :data:`BENCHMARK_DATE`. Both give ``count`` vehicles with the same depot and hours;
    ``"days"`` lets the solver share one start and one end node among all vehicles.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == "days":
        dates = tuple(BENCHMARK_DATE + timedelta(days=k) for k in range(count))
        shifts = tuple(Shift(d, start, end) for d in dates)
        team = Team(id=prefix, name=label, start=depot, shifts=shifts, **team_fields)
        return (team,), dates
    shift = Shift(BENCHMARK_DATE, start, end)
    teams = tuple(
        Team(
            id=f"{prefix}{k + 1}",
            name=f"{label} {k + 1}",
            start=depot,
            shifts=(shift,),
            **team_fields,
        )
        for k in range(count)
    )
    return teams, (BENCHMARK_DATE,)


def _every_day(window: TimeWindow) -> dict[int, tuple[TimeWindow, ...]]:
    return {weekday: (window,) for weekday in range(7)}


def _no_time_per_person() -> dict[Service, int]:
    return {service: 0 for service in Service}


def solomon_to_problem(instance: SolomonInstance, layout: str = "teams") -> BenchmarkProblem:
    """Map a Solomon VRPTW instance onto the planning model.

    Every customer becomes a required site with one printing "person" per unit of demand
    (one blank card each) and a window from ``ready`` to ``due + service`` (service must
    *start* by ``due``); every vehicle becomes a team-day with a printer, ``cards_per_day``
    = capacity and a shift from the depot's ready time to its due date. Times and
    distances are in tenths (×10), read as seconds and metres, with travel time =
    truncated distance, so the solver's travel objective is the distance-only objective.

    Parameters
    ----------
    instance
        The parsed file.
    layout
        ``"teams"`` (default): ``num_vehicles`` teams working one day; ``"days"``: one
        team working ``num_vehicles`` consecutive days. Same vehicles either way; with
        the 9.15 model the search does better on ``"teams"`` (measured, see
        ``benchmarks/RESULTS.md``).

    Raises
    ------
    ValueError
        If a scaled time does not fit in one day (86,400 tenths).
    """
    scale = 10
    day_end = instance.depot.due * scale
    if day_end > DAY_SECONDS:
        raise ValueError(
            f"{instance.name}: depot due date {instance.depot.due} × {scale} exceeds one day"
        )
    sites: list[Site] = []
    file_ids: dict[str, int] = {}
    for c in instance.customers:
        sid = str(c.id)
        file_ids[sid] = c.id
        end = min((c.due + c.service) * scale, DAY_SECONDS)
        sites.append(
            Site(
                id=sid,
                name=f"{instance.name} customer {c.id}",
                location=_placeholder(c.x, c.y),
                demand={Service.KTP_PRINT: c.demand},
                windows=_every_day(TimeWindow(c.ready * scale, end)),
                setup_s=c.service * scale,
                required=True,
            )
        )
    teams, horizon = _fleet(
        layout,
        instance.num_vehicles,
        "v",
        "vehicle",
        _placeholder(instance.depot.x, instance.depot.y),
        instance.depot.ready * scale,
        day_end,
        services=frozenset({Service.KTP_PRINT}),
        printer=True,
        cards_per_day=instance.capacity,
    )
    travel = _explicit(instance.distance_matrix(), [s.id for s in sites], [t.id for t in teams])
    problem = Problem(
        sites=tuple(sites),
        teams=teams,
        horizon=horizon,
        travel=travel,
        seconds_per_person=_no_time_per_person(),
    )
    return BenchmarkProblem(problem, file_ids, scale)


def toptw_to_problem(
    instance: ToptwInstance, paths: int, layout: str = "teams"
) -> BenchmarkProblem:
    """Map a TOPTW instance with ``paths`` paths onto the planning model.

    Every vertex with a positive profit becomes an optional site with ``profit`` persons to
    record (vertices with zero profit can only cost time and are left out) and a window
    from ``open`` to ``close + duration``; every path becomes a team-day with a shift from
    the depot's opening time to Tmax (``layout`` as in :func:`solomon_to_problem`). Times
    and distances are scaled by ``instance.scale`` (10 or 100) and read as seconds and
    metres.

    The Cordeau-based files have Tmax = 1000, i.e. 100,000 hundredths, more than one day.
    No path can use that budget: the latest possible return, ``max(close + duration +
    d(i, 0))``, is below 86,400 in every shipped file, so the shift is clamped to the day
    when (and only when) that bound proves the clamp changes nothing.

    Raises
    ------
    ValueError
        If ``paths`` is not positive, or the instance does not fit in one day.
    """
    if isinstance(paths, bool) or not isinstance(paths, int) or paths < 1:
        raise ValueError(f"paths must be a positive integer, got {paths!r}")
    scale = instance.scale
    matrix = instance.distance_matrix()
    day_start = scaled(instance.depot.open, scale)
    day_end = scaled(instance.tmax, scale)
    if day_end > DAY_SECONDS:
        latest = max(
            (
                scaled(v.close, scale) + scaled(v.duration, scale) + int(matrix[i + 1, 0])
                for i, v in enumerate(instance.vertices)
            ),
            default=0,
        )
        if latest > DAY_SECONDS:
            raise ValueError(
                f"{instance.name}: Tmax {instance.tmax:g} × {scale} exceeds one day and "
                f"a path could return as late as {latest}"
            )
        day_end = DAY_SECONDS
    sites: list[Site] = []
    file_ids: dict[str, int] = {}
    for v in instance.vertices:
        profit = scaled(v.profit, 1)
        if profit <= 0:
            continue
        sid = str(v.id)
        file_ids[sid] = v.id
        start = scaled(v.open, scale)
        end = min(scaled(v.close, scale) + scaled(v.duration, scale), DAY_SECONDS)
        if end <= start:
            continue  # a zero-length window cannot host a visit of positive length
        sites.append(
            Site(
                id=sid,
                name=f"{instance.name} vertex {v.id}",
                location=_placeholder(v.x, v.y),
                demand={Service.KTP_RECORD: profit},
                windows=_every_day(TimeWindow(start, end)),
                setup_s=scaled(v.duration, scale),
            )
        )
    teams, horizon = _fleet(
        layout,
        paths,
        "p",
        "path",
        _placeholder(instance.depot.x, instance.depot.y),
        day_start,
        day_end,
        services=frozenset({Service.KTP_RECORD}),
    )
    # Rows of the explicit matrix follow the file, so skipped vertices keep their rows.
    index: dict[tuple[str, str], int] = {
        ("site", str(v.id)): i + 1 for i, v in enumerate(instance.vertices)
    }
    for t in teams:
        index[("start", t.id)] = 0
        index[("end", t.id)] = 0
    travel = ExplicitMatrix(index=index, distance_m=matrix, duration_s=matrix)
    problem = Problem(
        sites=tuple(sites),
        teams=teams,
        horizon=horizon,
        travel=travel,
        seconds_per_person=_no_time_per_person(),
    )
    return BenchmarkProblem(problem, file_ids, scale)
