"""Compare our planning engine with PyVRP on Solomon VRPTW and TOPTW benchmarks.

Runs each instance with each solver at the same time limit, strictly one at a time (the
machine has two cores and other work shares them), checks every solution against the raw
file alone, and prints a table with the gap to the best-known solution.

Usage (from the repository root)::

    .venv/bin/python benchmarks/compare.py --time-limit 10
    .venv/bin/python benchmarks/compare.py --instances C101,R101 --solvers ours
    .venv/bin/python benchmarks/compare.py --instances toptw --json results.json
    .venv/bin/python benchmarks/compare.py --instances pr01:2,pr05:4,c101:3

Instance specs: a Solomon name (``C101``), a TOPTW name with the number of paths
(``pr01:2``; without ``:m`` it means m = 1..4), or a set: ``solomon`` (the 12 reference
instances), ``toptw`` (pr01-pr10 × m = 1..4), ``all`` (both, the default).

Conventions: Solomon distances are truncated to one decimal and compared with the
distance-only best knowns in ``bks.csv``; TOPTW scores with ``toptw/bks_toptw.csv``.
The Solomon gap is ``(distance - bks) / bks``; the TOPTW gap ``(bks - score) / bks``, so a
positive gap is always worse than the best known. PyVRP is a development-only dependency.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from outreach.planning.readers import (  # noqa: E402 - needs the repo on sys.path
    SolomonInstance,
    ToptwInstance,
    check_solomon_routes,
    check_toptw_routes,
    read_solomon,
    read_toptw,
    scaled,
)

DATA = REPO / ".." / "shared" / "benchmarks"
SOLOMON_12 = "C101 C201 R101 R102 R112 R201 R202 RC101 RC102 RC201 RC202 RC208".split()
TOPTW_PR = tuple(f"pr{i:02d}" for i in range(1, 11))
PATHS = (1, 2, 3, 4)


@dataclass
class Spec:
    """One benchmark run: a file, its format and (TOPTW) the number of paths."""

    name: str
    fmt: str
    path: Path
    paths: int | None = None


@dataclass
class Outcome:
    """What one solver produced on one instance, as verified from the file alone."""

    solver: str
    value: float | None = None
    vehicles: int | None = None
    feasible: bool = False
    runtime_s: float = 0.0
    exact_distance: float | None = None
    core_check: str = ""
    violations: list[str] = field(default_factory=list)
    routes: list[list[int]] = field(default_factory=list)
    error: str = ""


# ----------------------------------------------------------------------------- specs


def _find_toptw(name: str, data: Path) -> Path:
    hits = sorted((data / "toptw").glob(f"*/{name.lower()}.txt"))
    if not hits:
        raise SystemExit(f"error: no TOPTW file named {name!r} under {data / 'toptw'}")
    return hits[0]


def parse_specs(text: str, data: Path) -> list[Spec]:
    """Turn ``--instances`` into run specs (see the module docstring)."""
    specs: list[Spec] = []
    for raw in (t.strip() for t in text.split(",")):
        if not raw:
            continue
        key = raw.lower()
        if key in ("solomon", "all"):
            specs += [Spec(n, "solomon", data / "solomon" / f"{n}.txt") for n in SOLOMON_12]
        if key in ("toptw", "all"):
            specs += [Spec(n, "toptw", _find_toptw(n, data), m) for n in TOPTW_PR for m in PATHS]
        if key in ("solomon", "toptw", "all"):
            continue
        name, _, m = raw.partition(":")
        solomon = data / "solomon" / f"{name.upper()}.txt"
        if not m and solomon.exists():
            specs.append(Spec(name.upper(), "solomon", solomon))
            continue
        path = _find_toptw(name, data)
        if m:
            if not m.isdigit() or int(m) < 1:
                raise SystemExit(f"error: {raw!r}: the number of paths must be a positive integer")
            specs.append(Spec(name.lower(), "toptw", path, int(m)))
        else:
            specs += [Spec(name.lower(), "toptw", path, p) for p in PATHS]
    return specs


def load_bks(data: Path) -> dict[tuple[str, int | None], float]:
    """Best knowns: distance-only Solomon rows and TOPTW scores (the best row per key)."""
    bks: dict[tuple[str, int | None], float] = {}
    with open(data / "bks.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["objective_note"].startswith("distance-only"):
                bks[(row["instance"].upper(), None)] = float(row["distance"])
    with open(data / "toptw" / "bks_toptw.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["instance"].lower(), int(row["m"]))
            bks[key] = max(bks.get(key, 0.0), float(row["score"]))
    return bks


# --------------------------------------------------------------------------- solvers


OURS_PARAMS: dict[str, object] = {}
"""Extra ``SolveParams`` fields for our engine (``--param``), on top of the CLI's tuning."""


def run_ours(spec: Spec, time_limit: float, seed: int) -> Outcome:
    """Solve with our engine (the CLI's code path) and run the planning core's checker."""
    from outreach.planning.__main__ import run_benchmark

    out = Outcome("ours")
    run = run_benchmark(spec.path, spec.fmt, spec.paths, time_limit, seed, **OURS_PARAMS)
    out.routes = run.routes
    out.runtime_s = run.runtime_s
    out.core_check = run.core_check
    return out


def _pyvrp_model(inst: SolomonInstance | ToptwInstance, paths: int | None):  # noqa: ANN202
    from pyvrp import Model

    model = Model()
    if isinstance(inst, SolomonInstance):
        matrix, scale, customers = inst.distance_matrix(), 10, inst.customers
        locs = [model.add_location(n.x, n.y) for n in inst.nodes]
        early, late = inst.depot.ready * scale, inst.depot.due * scale
        depot = model.add_depot(locs[0], tw_early=early, tw_late=late)
        model.add_vehicle_type(
            num_available=inst.num_vehicles,
            capacity=[inst.capacity],
            start_depot=depot,
            end_depot=depot,
            tw_early=early,
            tw_late=late,
        )
        for c, loc in zip(inst.customers, locs[1:], strict=True):
            model.add_client(
                loc,
                delivery=[c.demand],
                service_duration=c.service * scale,
                tw_early=c.ready * scale,
                tw_late=c.due * scale,
            )
    else:
        assert paths is not None
        matrix, scale, customers = inst.distance_matrix(), inst.scale, inst.vertices
        locs = [model.add_location(n.x, n.y) for n in inst.nodes]
        early, late = scaled(inst.depot.open, scale), scaled(inst.tmax, scale)
        depot = model.add_depot(locs[0], tw_early=early, tw_late=late)
        model.add_vehicle_type(
            num_available=paths, start_depot=depot, end_depot=depot, tw_early=early, tw_late=late
        )
        # Prize-collecting: one unit of profit must outweigh any possible travel, so the
        # search maximises profit first and only then shortens the paths.
        weight = paths * late + 1
        for v, loc in zip(inst.vertices, locs[1:], strict=True):
            model.add_client(
                loc,
                service_duration=scaled(v.duration, scale),
                tw_early=scaled(v.open, scale),
                tw_late=scaled(v.close, scale),
                prize=int(round(v.profit)) * weight,
                required=False,
            )
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            model.add_edge(a, b, int(matrix[i, j]), int(matrix[i, j]))
    return model, customers


def run_pyvrp(spec: Spec, time_limit: float, seed: int) -> Outcome:
    """Solve with PyVRP 0.14 (hybrid genetic search) at the same wall-clock limit."""
    from pyvrp.stop import MaxRuntime

    out = Outcome("pyvrp")
    inst = read_solomon(spec.path) if spec.fmt == "solomon" else read_toptw(spec.path)
    model, customers = _pyvrp_model(inst, spec.paths)
    start = time.perf_counter()
    result = model.solve(stop=MaxRuntime(time_limit), seed=seed, display=False)
    out.runtime_s = time.perf_counter() - start
    # Client activities carry the client index (0-based, depots excluded).
    out.routes = [
        [customers[a.idx].id for a in route if a.is_client()] for route in result.best.routes()
    ]
    out.core_check = "n/a"
    return out


SOLVERS: dict[str, Callable[[Spec, float, int], Outcome]] = {
    "ours": run_ours,
    "pyvrp": run_pyvrp,
}


def verify(spec: Spec, out: Outcome) -> None:
    """Fill value, vehicles and feasibility from the raw file alone."""
    if spec.fmt == "solomon":
        report = check_solomon_routes(read_solomon(spec.path), out.routes)
        out.value = report.distance
    else:
        assert spec.paths is not None
        report = check_toptw_routes(read_toptw(spec.path), out.routes, spec.paths)
        out.value = report.score
    out.exact_distance = round(report.exact_distance, 2)
    out.vehicles = report.vehicles
    out.feasible = report.feasible
    out.violations = list(report.violations)


def gap(spec: Spec, value: float | None, best: float | None) -> float | None:
    """Percent gap to the best known; positive is worse for both objectives."""
    if value is None or not best:
        return None
    if spec.fmt == "solomon":
        return 100.0 * (value - best) / best
    return 100.0 * (best - value) / best


# ---------------------------------------------------------------------------- output


def _cell(out: Outcome | None, width: int = 30) -> str:
    if out is None:
        return "n/a".ljust(width)
    if out.error:
        return f"error: {out.error}"[:width].ljust(width)
    value = "-" if out.value is None else f"{out.value:.1f}"
    ok = "ok" if out.feasible else "INFEAS"
    return f"{value:>8} {out.vehicles or 0:>3}v {ok:<6} {out.runtime_s:5.1f}s".ljust(width)


def _fmt_gap(g: float | None) -> str:
    return "   -  " if g is None else f"{g:6.2f}"


def print_header(solvers: list[str]) -> None:
    head = f"{'instance':<8} {'m':>2} " + " ".join(f"{s:<30}" for s in solvers)
    head += f" {'best':>8} " + " ".join(f"{'gap% ' + s:>11}" for s in solvers)
    print(head)
    print("-" * len(head))


def print_row(row: dict, solvers: list[str]) -> None:
    line = f"{row['instance']:<8} {row['m'] or '':>2} "
    line += " ".join(_cell(row["outcomes"].get(s)) for s in solvers)
    best = row["bks"]
    line += f" {best if best is not None else '-':>8} "
    line += " ".join(f"{_fmt_gap(row['gaps'].get(s)):>11}" for s in solvers)
    print(line, flush=True)


def summarise(rows: list[dict], solvers: list[str]) -> list[str]:
    """Per format and solver: feasible count, mean gap, mean % of best known."""
    lines = []
    for fmt in ("solomon", "toptw"):
        sub = [r for r in rows if r["format"] == fmt]
        if not sub:
            continue
        for s in solvers:
            outs = [r for r in sub if s in r["outcomes"]]
            if not outs:
                continue
            feasible = sum(1 for r in outs if r["outcomes"][s].feasible)
            gaps = [r["gaps"][s] for r in outs if r["gaps"].get(s) is not None]
            mean_gap = statistics.fmean(gaps) if gaps else float("nan")
            text = f"{fmt:<8} {s:<6} feasible {feasible}/{len(outs)}, mean gap {mean_gap:.2f}%"
            if fmt == "toptw":
                text += f" (mean {100 - mean_gap:.2f}% of best known)"
            text += f" over {len(gaps)} with a best known"
            lines.append(text)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--instances", default="all", help="comma-separated specs (see top)")
    parser.add_argument("--solvers", default="ours,pyvrp", help="comma-separated: ours,pyvrp")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=DATA, help="shared/benchmarks folder")
    parser.add_argument("--json", type=Path, help="write every row (with routes) as JSON")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="SolveParams field for our engine, e.g. --param restarts=5 "
        "--param 'metaheuristic=\"TABU_SEARCH\"' (repeatable)",
    )
    args = parser.parse_args(argv)
    for item in args.param:
        key, sep, value = item.partition("=")
        try:
            OURS_PARAMS[key.strip()] = json.loads(value) if sep else None
        except json.JSONDecodeError:
            parser.error(f"--param {item!r}: the value must be JSON (quote strings)")
    if args.time_limit <= 0:
        parser.error("--time-limit must be positive")
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown or not solvers:
        parser.error(f"unknown solver(s) {unknown}; choose from {', '.join(SOLVERS)}")
    data = args.data.resolve()
    if not data.is_dir():
        parser.error(f"benchmark folder {data} not found")
    specs = parse_specs(args.instances, data)
    bks = load_bks(data)

    rows: list[dict] = []
    print(f"time limit {args.time_limit:g} s per run, seed {args.seed}, one run at a time")
    if OURS_PARAMS:
        print(f"our extra SolveParams: {OURS_PARAMS}")
    print_header(solvers)
    for spec in specs:
        row: dict = {
            "instance": spec.name,
            "format": spec.fmt,
            "m": spec.paths,
            "bks": bks.get((spec.name.upper() if spec.fmt == "solomon" else spec.name, spec.paths)),
            "outcomes": {},
            "gaps": {},
        }
        for s in solvers:
            try:
                out = SOLVERS[s](spec, args.time_limit, args.seed)
                verify(spec, out)
            except Exception as exc:  # noqa: BLE001 - one failing run must not stop the sweep
                out = Outcome(s, error=f"{type(exc).__name__}: {exc}")
            row["outcomes"][s] = out
            row["gaps"][s] = gap(spec, out.value, row["bks"]) if out.feasible else None
        rows.append(row)
        print_row(row, solvers)
        for s, out in row["outcomes"].items():
            if out.violations:
                print(f"    {s}: {len(out.violations)} violations, e.g. {out.violations[:2]}")
            if out.core_check not in ("", "ok", "n/a"):
                print(f"    {s}: planning-core check: {out.core_check}")
    print()
    for line in summarise(rows, solvers):
        print(line)
    if args.json:
        payload = [
            {**{k: v for k, v in r.items() if k != "outcomes"},
             "outcomes": {s: asdict(o) for s, o in r["outcomes"].items()}}
            for r in rows
        ]  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
