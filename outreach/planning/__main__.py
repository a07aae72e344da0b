"""Command line of the planning core: solve a standard benchmark file.

Usage::

    python -m outreach.planning solve FILE --format solomon|toptw [--vehicles M]
        --time-limit S [--seed N] --out result.json

writes ``{"routes": [[ids as in the file, in visit order], ...], "distance": float,
"score": float, "vehicles": int, "runtime_s": float}``.

* ``distance``: total distance with every arc truncated as the benchmark convention says
  (one decimal for Solomon and Solomon-based TOPTW, two for the Cordeau-based ``pr`` files);
* ``score``: collected profit (TOPTW) or delivered demand (Solomon);
* ``vehicles``: non-empty routes; ``runtime_s``: wall time of reading, building and solving.

Exit codes: 0 = a plan that passes the check against the file, 1 = a plan that does not
(e.g. a Solomon customer left unserved; the file is still written), 2 = bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outreach.planning.readers import (
    BenchmarkFormatError,
    BenchmarkProblem,
    RouteCheck,
    check_solomon_routes,
    check_toptw_routes,
    read_solomon,
    read_toptw,
    solomon_to_problem,
    toptw_to_problem,
)

FORMATS = ("solomon", "toptw")


@dataclass(frozen=True)
class BenchmarkRun:
    """One solved benchmark file, verified against the file alone.

    Attributes
    ----------
    routes
        Node ids as written in the file, per non-empty route, in visit order.
    runtime_s
        Wall time from reading the file to the decoded plan.
    check
        The independent check against the raw file (distance, score, vehicles, violations).
    core_check
        ``"ok"`` or the planning core checker's first findings.
    status
        Solver status name.
    timings
        The solve's timings and counts (:attr:`Result.timings`: build, search, restarts).
    """

    routes: list[list[int]]
    runtime_s: float
    check: RouteCheck
    core_check: str
    status: str
    timings: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The CLI's output document (exactly the documented keys)."""
        return {
            "routes": self.routes,
            "distance": round(self.check.distance, 2),
            "score": float(self.check.score),
            "vehicles": self.check.vehicles,
            "runtime_s": round(self.runtime_s, 3),
        }


# Local-search operators that rebuild whole paths by cheapest insertion: on by default in
# OR-Tools 9.15, they made each greedy descent ~2.5x slower on Solomon RC101 (77 -> 195
# restarts in 10 s) and did not pay for it (benchmarks/RESULTS.md §9).
PATH_LNS_OPERATORS: tuple[str, ...] = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
)

# OR-Tools' RelocateExpensiveChain moves the chain between two of a route's most expensive
# arcs to every other place: its neighbourhood grows with routes x places, and its moves
# are among those a ruined string and its re-insertion make. In one 10 s run it was the
# largest neighbourhood of Solomon RC103's descent (2.8 M of 7.3 M neighbours, 63 of 3,106
# accepted moves); without it OR-Tools' ILS ran 1.3-1.7x as many iterations there
# (benchmarks/RESULTS.md §26). On TOPTW's one to four routes it is 0.4-2.5 % of the
# neighbours (pr10, m = 1 and 4), so TOPTW keeps it.
MANY_ROUTE_SLOW_OPERATORS: tuple[str, ...] = (
    *PATH_LNS_OPERATORS,
    "use_relocate_expensive_chain",
)

# An iterated local search over OR-Tools: each restart removes strings of nearby visits
# (about 5 % of them) from the best plan and lets a greedy descent repair and improve it,
# many times a second; both cores run one such chain (seeds s and s + 1), best wins.
ILS: dict[str, Any] = {
    "metaheuristic": "GREEDY_DESCENT",
    "restarts": 1,
    "restart_limit_s": 2.0,
    "restart_ruin": "string",
    "restart_ruin_share": 0.05,
    "disabled_operators": PATH_LNS_OPERATORS,
    "workers": 2,
}

TUNED: dict[str, dict[str, Any]] = {
    # Measured with benchmarks/compare.py (benchmarks/RESULTS.md §9).
    # Solomon: every customer is required, so the solver's own insertion beats a
    # prize-aware greedy as the start. Guided local search alone: 2.62 % mean gap at 10 s;
    # with this ILS 0.81 %. Where the first solution's routes are short, both cores run
    # OR-Tools' own ILS (SISR ruin, simulated annealing) instead, each on the sites in
    # its own seeded order (RESULTS.md §20, §21). On long routes the main core keeps our
    # restarts and the second runs the ILS with its ruin sized to free about a route
    # (RESULTS.md §23): two different searches, the better plan wins.
    "solomon": {
        "construction": "solver",
        "operators": (),
        **ILS,
        "disabled_operators": MANY_ROUTE_SLOW_OPERATORS,
        "iterated_local_search": "auto",
        "second_worker": {"iterated_local_search": True, "sisr_route_sized": True},
    },
    # TOPTW: the greedy start beats cheapest insertion, whose first plan ignores profit;
    # record-to-record acceptance within 0.5 % helps across the plateaus of equal profit.
    # Guided local search alone: 10.5 % below the best knowns on a 10-run subset; this
    # ILS 3.7 % (one core). Each restart fills the ruined plan with other sites, best
    # value per added minute first (OR-Tools' make-active takes the first that fits),
    # and descends on a model of the plan's sites and those that fit into it (the
    # descent's moves over every unvisited site cost most of its time): RESULTS.md §27.
    "toptw": {
        "construction": "greedy",
        "operators": (),
        **ILS,
        "restart_threshold": 0.005,
        "restart_fill": True,
        "restart_focus": True,
    },
}
"""Per-format search settings found by ``benchmarks/compare.py`` runs."""


def benchmark_params(time_limit: float, seed: int, **overrides: Any) -> Any:
    """Search settings for benchmarks: pure travel objective at one-second resolution."""
    from outreach.planning.solver import SolveParams

    # Balancing adds cost per second a route runs past its share; benchmarks score
    # distance (Solomon) or profit (TOPTW) only, so it is switched off. Benchmark times
    # are tenths or hundredths read as seconds: a coarser clock tick would round every
    # travel time up and cut feasible plans.
    base = {
        "time_limit_s": time_limit,
        "seed": seed,
        "balance_coefficient": 0,
        "time_tick_s": 1,
    }
    base.update(overrides)
    return SolveParams(**base)


def _core_check(bench: BenchmarkProblem, result: Any) -> str:
    """Run the planning core's independent checker and summarise its verdict."""
    try:
        from outreach.planning.checker import check
    except ImportError:
        return "n/a (checker not available)"
    report = check(bench.problem, result)
    ok = getattr(report, "ok", None)
    if ok is None and hasattr(report, "is_ok"):
        ok = report.is_ok() if callable(report.is_ok) else report.is_ok
    if ok is None:
        ok = not report
    if ok:
        return "ok"
    findings = getattr(report, "violations", None) or getattr(report, "errors", None) or report
    return "; ".join(str(f) for f in list(findings)[:3])


def run_benchmark(
    path: str | Path,
    fmt: str,
    vehicles: int | None,
    time_limit: float,
    seed: int = 0,
    **params: Any,
) -> BenchmarkRun:
    """Read, map, solve and verify one benchmark file.

    Parameters
    ----------
    path
        Benchmark file.
    fmt
        ``"solomon"`` or ``"toptw"``.
    vehicles
        Solomon: fleet size override (``None`` = the file's); TOPTW: the number of paths
        (required).
    time_limit
        Search time limit in seconds.
    seed
        Seed of the search.
    **params
        Further :class:`~outreach.planning.solver.SolveParams` fields (benchmark tuning).

    Raises
    ------
    BenchmarkFormatError
        If the file cannot be read.
    ValueError
        If an argument is invalid or the instance does not fit the problem model.
    """
    from outreach.planning.solver import solve

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if vehicles is not None and (isinstance(vehicles, bool) or vehicles < 1):
        raise ValueError(f"--vehicles must be a positive integer, got {vehicles}")
    started = time.perf_counter()
    if fmt == "solomon":
        instance = read_solomon(path)
        if vehicles is not None:
            instance = dataclasses.replace(instance, num_vehicles=vehicles)
        bench = solomon_to_problem(instance)
    else:
        if vehicles is None:
            raise ValueError("--vehicles (the number of paths m) is required for TOPTW")
        topt = read_toptw(path)
        bench = toptw_to_problem(topt, vehicles)
    used = time.perf_counter() - started
    from outreach.planning.solver import SolveParams

    # Tuned settings name SolveParams fields of the solver they were measured with; skip
    # any the installed solver no longer has rather than failing the run.
    known = {f.name for f in dataclasses.fields(SolveParams)}
    settings = {k: v for k, v in TUNED[fmt].items() if k in known}
    settings.update(params)
    result = solve(bench.problem, benchmark_params(max(0.1, time_limit - used), seed, **settings))
    routes = [
        [bench.file_ids[stop.site_id] for stop in route.stops]
        for route in result.routes
        if route.stops
    ]
    runtime = time.perf_counter() - started
    if fmt == "solomon":
        report = check_solomon_routes(instance, routes)
    else:
        report = check_toptw_routes(topt, routes, vehicles)
    return BenchmarkRun(
        routes, runtime, report, _core_check(bench, result), result.status, dict(result.timings)
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


def _seed(text: str) -> int:
    if not text.isdigit() or int(text) >= 2**31:
        raise argparse.ArgumentTypeError(f"must be an integer in 0..2**31-1, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m outreach.planning",
        description="Planning engine command line (benchmarks).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    solve = sub.add_parser(
        "solve",
        help="solve a Solomon VRPTW or TOPTW file and write the routes as JSON",
        description="Solve a Solomon VRPTW or TOPTW benchmark file and write the routes "
        "as JSON: routes (file ids), distance (truncated arcs), score, vehicles, runtime_s.",
    )
    solve.add_argument("file", type=Path, metavar="FILE", help="benchmark file")
    solve.add_argument("--format", required=True, choices=FORMATS, help="file format")
    solve.add_argument(
        "--vehicles",
        type=_positive_int,
        metavar="M",
        help="TOPTW: number of paths (required); Solomon: fleet size (default: the file's)",
    )
    solve.add_argument(
        "--time-limit", required=True, type=_positive_float, metavar="S", help="seconds"
    )
    solve.add_argument("--seed", type=_seed, default=0, metavar="N", help="search seed")
    solve.add_argument("--out", required=True, type=Path, metavar="PATH", help="output JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 plan fails the check, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a usage error
    if args.format == "toptw" and args.vehicles is None:
        parser.error("--vehicles M (the number of paths) is required with --format toptw")
    if not args.file.is_file():
        parser.error(f"FILE {str(args.file)!r} does not exist or is not a file")
    if args.out.parent and not args.out.parent.is_dir():
        parser.error(f"--out: folder {str(args.out.parent)!r} does not exist")
    try:
        run = run_benchmark(args.file, args.format, args.vehicles, args.time_limit, args.seed)
    except (BenchmarkFormatError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(run.to_json(), indent=1) + "\n", encoding="utf-8")
    verdict = "feasible" if run.check.feasible else "NOT feasible"
    print(
        f"{args.file.name}: distance {run.check.distance:.1f}, score {run.check.score:g}, "
        f"{run.check.vehicles} vehicles, {verdict} (checked against the file), "
        f"core check {run.core_check}, {run.runtime_s:.1f} s -> {args.out}"
    )
    for violation in run.check.violations[:5]:
        print(f"  {violation}", file=sys.stderr)
    return 0 if run.check.feasible else 1


if __name__ == "__main__":
    raise SystemExit(main())
