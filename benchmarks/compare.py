"""Compare our planning engine with PyVRP on Solomon VRPTW and TOPTW benchmarks.

Runs each instance with each solver and seed at the same time limit, strictly one run at a
time (the machine has two cores and other work shares them), checks every solution against
the raw file alone, prints a table with the gap to the best-known solution, and ends with
a summary per solver and instance class that says whether the targets are met.

Usage (from the repository root)::

    .venv/bin/python benchmarks/compare.py --time-limit 10
    .venv/bin/python benchmarks/compare.py --instances C101,R101 --solvers ours
    .venv/bin/python benchmarks/compare.py --instances toptw --json results.json
    .venv/bin/python benchmarks/compare.py --instances pr01:2,pr05:4,c101:3
    .venv/bin/python benchmarks/compare.py --instances families --seeds 1,2,3 --json all.json
    .venv/bin/python benchmarks/compare.py --instances families --half tune --solvers ours
    .venv/bin/python benchmarks/compare.py --instances families --half holdout --list

Instance specs: a Solomon name (``C101``), a TOPTW name with the number of paths
(``pr01:2``; without ``:m`` it means m = 1..4), or a set: ``solomon`` (the 12 reference
instances), ``solomon56`` (all 56 Solomon instances), ``toptw`` (pr01-pr10 × m = 1..4),
``all`` (solomon + toptw, the default) and ``families`` (solomon56 + toptw). A run that
appears twice is run once.

Halves (``--half tune|holdout|all``, default all), fixed so that a tuning run never sees
the holdout half; the filter applies to every spec, named ones included:

* Solomon: the 56 names sorted (C101..C109, C201..C208, R101..R112, R201..R211,
  RC101..RC108, RC201..RC208) alternate tune, holdout, tune, ... Each class is a block of
  that list, so each is split into alternating halves (28 + 28 overall). Tune half:
  C101 C103 C105 C107 C109 | C202 C204 C206 C208 | R102 R104 R106 R108 R110 R112 |
  R202 R204 R206 R208 R210 | RC101 RC103 RC105 RC107 | RC201 RC203 RC205 RC207.
* TOPTW: by instance, all m together: odd numbers (pr01, pr03, ..., pr09) tune, even
  numbers (pr02, ..., pr10) holdout (20 + 20 runs per seed). Other TOPTW files follow the
  same parity of their number.

Seeds: ``--seeds 1,2,3`` runs every instance with every seed (``--seed N`` = one seed).
Each printed row is one (instance, seed) with the solvers side by side; each cell is one
run.

Summary: per solver, per Solomon class (C1, C2, R1, R2, RC1, RC2, from the name prefix,
RC before R) and overall: runs, feasible runs, mean gap over the runs, the worst run
(instance, seed, gap); per TOPTW m and overall: the mean score as % of the best known and
the worst run. Targets (meant for 10 s per run, on the full families; on a subset they
are checked on the runs made): Solomon "mean gap ≤ 1.0 %, none above 3 %, all feasible";
TOPTW "mean ≥ 96 %, none below 90 %, all feasible", printed as MET / NOT MET. Means and
worst runs are over the feasible runs; any infeasible or failed run fails its target.
When both halves are in the run, the summary is printed for the tune half, the holdout
half and both together.

Conventions: Solomon distances are truncated to one decimal and compared with the
distance-only best knowns in ``bks.csv``; TOPTW scores with ``toptw/bks_toptw.csv``.
The Solomon gap is ``(distance - bks) / bks``; the TOPTW gap ``(bks - score) / bks``, so a
positive gap is always worse than the best known. PyVRP is a development-only dependency.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
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
SOLOMON_CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
_CLASS_SIZES = {"C1": 9, "C2": 8, "R1": 12, "R2": 11, "RC1": 8, "RC2": 8}
SOLOMON_56 = tuple(sorted(f"{c}{i:02d}" for c, n in _CLASS_SIZES.items() for i in range(1, n + 1)))
TOPTW_PR = tuple(f"pr{i:02d}" for i in range(1, 11))
PATHS = (1, 2, 3, 4)
SETS = ("solomon", "solomon56", "toptw", "all", "families")
HALVES = ("tune", "holdout")

SOLOMON_MEAN_MAX, SOLOMON_RUN_MAX = 1.0, 3.0
"""Solomon target: mean gap ≤ 1.0 %, no run above 3 %, every run feasible."""
TOPTW_MEAN_MIN, TOPTW_RUN_MIN = 96.0, 90.0
"""TOPTW target: mean ≥ 96 % of the best-known score, no run below 90 %, all feasible."""
SOLOMON_TARGET = "mean gap ≤ 1.0 %, none above 3 %, all feasible"
TOPTW_TARGET = "mean ≥ 96 %, none below 90 %, all feasible"
_EPS = 1e-9  # gaps of values truncated to 0.1 land a hair off the thresholds


@dataclass
class Spec:
    """One benchmark run: a file, its format and (TOPTW) the number of paths."""

    name: str
    fmt: str
    path: Path
    paths: int | None = None

    @property
    def label(self) -> str:
        """``C101`` or ``pr01:2``."""
        return self.name if self.paths is None else f"{self.name}:{self.paths}"

    @property
    def cls(self) -> str:
        """Solomon class (``RC2``) or ``toptw``."""
        return (solomon_class(self.name) or "?") if self.fmt == "solomon" else "toptw"

    @property
    def half(self) -> str:
        """``tune`` or ``holdout`` (see the module docstring)."""
        return half_of(self.name, self.fmt)


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


def solomon_class(name: str) -> str | None:
    """Class of a Solomon name from its prefix, RC before R: ``RC208`` -> ``RC2``."""
    m = re.fullmatch(r"(RC|R|C)([12])\d\d", name.strip().upper())
    return f"{m.group(1)}{m.group(2)}" if m else None


def half_of(name: str, fmt: str) -> str:
    """The fixed tune/holdout half of an instance (see the module docstring)."""
    if fmt == "solomon" and name.upper() in SOLOMON_56:
        return HALVES[SOLOMON_56.index(name.upper()) % 2]
    digits = re.search(r"(\d+)$", name)
    return "tune" if digits is None or int(digits.group(1)) % 2 == 1 else "holdout"


def _find_toptw(name: str, data: Path) -> Path:
    hits = sorted((data / "toptw").glob(f"*/{name.lower()}.txt"))
    if not hits:
        raise SystemExit(f"error: no TOPTW file named {name!r} under {data / 'toptw'}")
    return hits[0]


def _solomon_spec(name: str, data: Path) -> Spec:
    path = data / "solomon" / f"{name}.txt"
    if not path.exists():
        raise SystemExit(f"error: Solomon file {path} not found")
    return Spec(name, "solomon", path)


def parse_specs(text: str, data: Path) -> list[Spec]:
    """Turn ``--instances`` into run specs, duplicates dropped (see the module docstring)."""
    specs: list[Spec] = []
    for raw in (t.strip() for t in text.split(",")):
        if not raw:
            continue
        key = raw.lower()
        if key in ("solomon", "all"):
            specs += [_solomon_spec(n, data) for n in SOLOMON_12]
        if key in ("solomon56", "families"):
            specs += [_solomon_spec(n, data) for n in SOLOMON_56]
        if key in ("toptw", "all", "families"):
            specs += [Spec(n, "toptw", _find_toptw(n, data), m) for n in TOPTW_PR for m in PATHS]
        if key in SETS:
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
    seen: set[tuple[str, str, int | None]] = set()
    unique = []
    for spec in specs:
        key3 = (spec.name, spec.fmt, spec.paths)
        if key3 not in seen:
            seen.add(key3)
            unique.append(spec)
    return unique


def select_half(specs: list[Spec], half: str) -> list[Spec]:
    """Keep the specs of one half (``tune``/``holdout``) or all of them (``all``)."""
    if half == "all":
        return list(specs)
    if half not in HALVES:
        raise ValueError(f"half must be tune, holdout or all, got {half!r}")
    return [s for s in specs if s.half == half]


def parse_params(items: Iterable[str]) -> dict[str, object]:
    """``--param KEY=JSON`` items as SolveParams overrides (``KEY`` alone: ``None``).

    Raises ``ValueError`` naming the item whose value is not JSON.
    """
    params: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            params[key.strip()] = json.loads(value) if sep else None
        except json.JSONDecodeError:
            raise ValueError(f"--param {item!r}: the value must be JSON (quote strings)") from None
    return params


def parse_seeds(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]`` (order kept, duplicates dropped)."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            seed = int(part)
        except ValueError:
            raise ValueError(f"seed {part!r} is not an integer") from None
        if seed not in seeds:
            seeds.append(seed)
    if not seeds:
        raise ValueError("no seed given")
    return seeds


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
    head = f"{'instance':<8} {'m':>2} {'seed':>4} " + " ".join(f"{s:<30}" for s in solvers)
    head += f" {'best':>8} " + " ".join(f"{'gap% ' + s:>11}" for s in solvers)
    print(head)
    print("-" * len(head))


def print_row(row: dict, solvers: list[str]) -> None:
    line = f"{row['instance']:<8} {row['m'] or '':>2} {row.get('seed', ''):>4} "
    line += " ".join(_cell(row["outcomes"].get(s)) for s in solvers)
    best = row["bks"]
    line += f" {best if best is not None else '-':>8} "
    line += " ".join(f"{_fmt_gap(row['gaps'].get(s)):>11}" for s in solvers)
    print(line, flush=True)


# --------------------------------------------------------------------------- summary


def run_records(rows: list[dict]) -> list[dict]:
    """One flat record per (instance, solver, seed) run: what the summary works on."""
    runs = []
    for row in rows:
        label = row["instance"] if row["m"] is None else f"{row['instance']}:{row['m']}"
        for s, out in row["outcomes"].items():
            runs.append(
                {
                    "instance": label,
                    "format": row["format"],
                    "class": row["class"],
                    "half": row["half"],
                    "m": row["m"],
                    "seed": row["seed"],
                    "solver": s,
                    "value": out.value,
                    "bks": row["bks"],
                    "feasible": bool(out.feasible and not out.error),
                    "gap": row["gaps"].get(s),
                    "error": out.error,
                }
            )
    return runs


def group_stats(runs: list[dict]) -> dict:
    """Runs, feasible runs, mean and worst gap over the feasible runs with a best known."""
    feasible = [r for r in runs if r["feasible"]]
    scored = [r for r in feasible if r["gap"] is not None]
    gaps = [r["gap"] for r in scored]
    worst = max(scored, key=lambda r: r["gap"]) if scored else None
    return {
        "runs": len(runs),
        "instances": len({r["instance"] for r in runs}),
        "feasible": len(feasible),
        "scored": len(scored),
        "mean_gap": statistics.fmean(gaps) if gaps else None,
        "max_gap": worst["gap"] if worst else None,
        "worst": None
        if worst is None
        else {"instance": worst["instance"], "seed": worst["seed"], "gap": worst["gap"]},
        "failed": [
            {"instance": r["instance"], "seed": r["seed"], "error": r["error"]}
            for r in runs
            if not r["feasible"]
        ],
    }


def _unmet_common(st: dict) -> list[str]:
    why = []
    if st["runs"] == 0:
        why.append("no runs")
    if st["feasible"] < st["runs"]:
        why.append(f"{st['runs'] - st['feasible']} infeasible or failed run(s)")
    if st["scored"] < st["feasible"]:
        why.append(f"{st['feasible'] - st['scored']} run(s) without a best known")
    return why


def solomon_target(st: dict) -> dict:
    """Solomon target on one group's stats: mean gap ≤ 1 %, none above 3 %, all feasible."""
    why = _unmet_common(st)
    if st["mean_gap"] is not None and st["mean_gap"] > SOLOMON_MEAN_MAX + _EPS:
        why.append(f"mean gap {st['mean_gap']:.2f} % > {SOLOMON_MEAN_MAX:g} %")
    if st["max_gap"] is not None and st["max_gap"] > SOLOMON_RUN_MAX + _EPS:
        w = st["worst"]
        why.append(f"{w['instance']} seed {w['seed']} at {w['gap']:.2f} % > {SOLOMON_RUN_MAX:g} %")
    return {"target": SOLOMON_TARGET, "met": not why, "why": why}


def toptw_target(st: dict) -> dict:
    """TOPTW target on one group's stats: mean ≥ 96 %, none below 90 %, all feasible."""
    why = _unmet_common(st)
    if st["mean_gap"] is not None and 100 - st["mean_gap"] < TOPTW_MEAN_MIN - _EPS:
        why.append(f"mean {100 - st['mean_gap']:.2f} % < {TOPTW_MEAN_MIN:g} %")
    if st["max_gap"] is not None and 100 - st["max_gap"] < TOPTW_RUN_MIN - _EPS:
        w = st["worst"]
        why.append(
            f"{w['instance']} seed {w['seed']} at {100 - w['gap']:.2f} % < {TOPTW_RUN_MIN:g} %"
        )
    return {"target": TOPTW_TARGET, "met": not why, "why": why}


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _group(run: dict) -> str:
    """Summary group of a run: its Solomon class, or ``m=2`` for TOPTW."""
    return run["class"] if run["format"] == "solomon" else f"m={run['m']}"


def summarise(runs: list[dict], solvers: list[str] | None = None) -> dict:
    """Per scope (halves and together), solver, format and group: stats and targets.

    Scopes: ``all`` always (every run); ``tune`` and ``holdout`` as well when both halves
    are among the runs. Solomon groups: the classes present and ``overall``; TOPTW groups:
    ``m=1`` .. ``m=4`` present and ``overall``. The target is judged on ``overall``.
    """
    solvers = solvers or _ordered(r["solver"] for r in runs)
    halves = [h for h in HALVES if any(r["half"] == h for r in runs)]
    scopes = {"all": runs}
    if len(halves) > 1:
        scopes.update({h: [r for r in runs if r["half"] == h] for h in halves})
    result: dict = {}
    for scope, scope_runs in scopes.items():
        entry: dict = {"halves": [h for h in halves if any(r["half"] == h for r in scope_runs)]}
        for fmt in ("solomon", "toptw"):
            fmt_runs = [r for r in scope_runs if r["format"] == fmt]
            if not fmt_runs:
                continue
            present = {_group(r) for r in fmt_runs}
            if fmt == "solomon":
                keys = [c for c in SOLOMON_CLASSES if c in present]
                keys += sorted(present - set(SOLOMON_CLASSES))
            else:
                keys = sorted(present, key=lambda k: int(k.removeprefix("m=")))
            per_solver = {}
            for s in solvers:
                mine = [r for r in fmt_runs if r["solver"] == s]
                if not mine:
                    continue
                groups = {k: group_stats([r for r in mine if _group(r) == k]) for k in keys}
                groups = {k: v for k, v in groups.items() if v["runs"]}
                groups["overall"] = group_stats(mine)
                judge = solomon_target if fmt == "solomon" else toptw_target
                per_solver[s] = {"groups": groups, "target": judge(groups["overall"])}
            entry[fmt] = per_solver
        result[scope] = entry
    return result


def _scope_title(scope: str, entry: dict) -> str:
    if scope != "all":
        return f"{scope} half"
    if len(entry["halves"]) > 1:
        return "tune + holdout together"
    return f"all runs ({entry['halves'][0]} half only)" if entry["halves"] else "all runs"


def format_summary(summary: dict) -> list[str]:
    """The summary as printed lines: the halves first, then everything together."""
    lines: list[str] = []
    order = [s for s in ("tune", "holdout", "all") if s in summary]
    for scope in order:
        entry = summary[scope]
        lines.append(f"== summary: {_scope_title(scope, entry)} ==")
        for fmt, title, measure in (
            ("solomon", "Solomon VRPTW", "mean gap"),
            ("toptw", "TOPTW", "mean % best"),
        ):
            per_solver = entry.get(fmt)
            if not per_solver:
                continue
            lines.append(
                f"{title:<16} {'solver':<6} {'runs':>5} {'feas':>5} {measure:>11}   worst run"
            )
            keys = _ordered(k for s in per_solver.values() for k in s["groups"])
            keys = [k for k in keys if k != "overall"] + ["overall"]
            for key in keys:
                for s, data in per_solver.items():
                    st = data["groups"].get(key)
                    if st is None:
                        continue
                    lines.append(f"  {key:<14} {s:<6} {_stats_text(st, fmt)}")
            lines.append(f"  target ({per_solver[next(iter(per_solver))]['target']['target']}):")
            for s, data in per_solver.items():
                t, st = data["target"], data["groups"]["overall"]
                verdict = "MET" if t["met"] else "NOT MET"
                extra = f": {'; '.join(t['why'])}" if t["why"] else ""
                lines.append(
                    f"    {s:<6} {verdict}{extra} ({st['instances']} instances, {st['runs']} runs)"
                )
        lines.append("")
    return lines


def _stats_text(st: dict, fmt: str) -> str:
    if st["mean_gap"] is None:
        mean = "-"
    elif fmt == "solomon":
        mean = f"{st['mean_gap']:.2f} %"
    else:
        mean = f"{100 - st['mean_gap']:.2f} %"
    text = f"{st['runs']:>5} {st['feasible']:>5} {mean:>11}   "
    w = st["worst"]
    if w is not None:
        value = w["gap"] if fmt == "solomon" else 100 - w["gap"]
        text += f"{w['instance']} seed {w['seed']}: {value:.2f} %"
    else:
        text += "-"
    if st["failed"]:
        shown = ", ".join(f"{f['instance']} seed {f['seed']}" for f in st["failed"][:3])
        more = f" +{len(st['failed']) - 3}" if len(st["failed"]) > 3 else ""
        text += f"; infeasible/failed: {shown}{more}"
    return text


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--instances", default="all", help="comma-separated specs (see top)")
    parser.add_argument("--solvers", default="ours,pyvrp", help="comma-separated: ours,pyvrp")
    seeds_group = parser.add_mutually_exclusive_group()
    seeds_group.add_argument("--seed", type=int, help="one seed (default 1)")
    seeds_group.add_argument("--seeds", help="comma-separated seeds, e.g. 1,2,3")
    parser.add_argument(
        "--half",
        choices=("all", *HALVES),
        default="all",
        help="fixed split of each family (see top): tune, holdout or all (default)",
    )
    parser.add_argument("--list", action="store_true", help="print the runs (class, half) and exit")
    parser.add_argument("--data", type=Path, default=DATA, help="shared/benchmarks folder")
    parser.add_argument("--json", type=Path, help="write rows (with routes) and summary as JSON")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="SolveParams field for our engine, e.g. --param restarts=5 "
        "--param 'metaheuristic=\"TABU_SEARCH\"' (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        OURS_PARAMS.update(parse_params(args.param))
    except ValueError as exc:
        parser.error(str(exc))
    if args.time_limit <= 0:
        parser.error("--time-limit must be positive")
    try:
        seeds = (
            parse_seeds(args.seeds)
            if args.seeds is not None
            else [1 if args.seed is None else args.seed]
        )
    except ValueError as exc:
        parser.error(f"--seeds: {exc}")
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown or not solvers:
        parser.error(f"unknown solver(s) {unknown}; choose from {', '.join(SOLVERS)}")
    data = args.data.resolve()
    if not data.is_dir():
        parser.error(f"benchmark folder {data} not found")
    every = parse_specs(args.instances, data)
    specs = select_half(every, args.half)
    if not specs:
        parser.error(f"no instance of --instances {args.instances!r} is in the {args.half} half")
    bks = load_bks(data)

    total = len(specs) * len(seeds) * len(solvers)
    print(
        f"time limit {args.time_limit:g} s per run, seeds {','.join(map(str, seeds))}, "
        f"half {args.half}: {len(specs)} instances × {len(seeds)} seeds × {len(solvers)} "
        f"solvers = {total} runs, one at a time (about {total * args.time_limit / 60:.0f} min)"
    )
    if len(specs) < len(every):
        print(f"({len(every) - len(specs)} instances of the other half left out)")
    if args.list:
        for spec in specs:
            print(f"{spec.label:<8} {spec.fmt:<8} {spec.cls:<6} {spec.half}")
        return 0
    if OURS_PARAMS:
        print(f"our extra SolveParams: {OURS_PARAMS}")
    print_header(solvers)
    rows: list[dict] = []
    interrupted = False
    try:
        for spec in specs:
            for seed in seeds:
                rows.append(_run_row(spec, seed, solvers, args.time_limit, bks))
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted: summary of the {len(rows)} complete rows")
    print()
    runs = run_records(rows)
    summary = summarise(runs, solvers)
    for line in format_summary(summary):
        print(line)
    if args.json:
        payload = {
            "time_limit_s": args.time_limit,
            "seeds": seeds,
            "half": args.half,
            "instances": args.instances,
            "solvers": solvers,
            "ours_params": OURS_PARAMS,
            "interrupted": interrupted,
            "rows": [
                {
                    **{k: v for k, v in r.items() if k != "outcomes"},
                    "outcomes": {s: asdict(o) for s, o in r["outcomes"].items()},
                }
                for r in rows
            ],  # fmt: skip
            "runs": runs,
            "summary": summary,
        }
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 130 if interrupted else 0


def _run_row(spec: Spec, seed: int, solvers: list[str], time_limit: float, bks: dict) -> dict:
    """Run every solver on one instance with one seed, verify, print the row."""
    row: dict = {
        "instance": spec.name,
        "format": spec.fmt,
        "m": spec.paths,
        "seed": seed,
        "class": spec.cls,
        "half": spec.half,
        "bks": bks.get((spec.name.upper() if spec.fmt == "solomon" else spec.name, spec.paths)),
        "outcomes": {},
        "gaps": {},
    }
    for s in solvers:
        try:
            out = SOLVERS[s](spec, time_limit, seed)
            verify(spec, out)
        except Exception as exc:  # noqa: BLE001 - one failing run must not stop the sweep
            out = Outcome(s, error=f"{type(exc).__name__}: {exc}")
        row["outcomes"][s] = out
        row["gaps"][s] = gap(spec, out.value, row["bks"]) if out.feasible else None
    print_row(row, solvers)
    for s, out in row["outcomes"].items():
        if out.violations:
            print(f"    {s}: {len(out.violations)} violations, e.g. {out.violations[:2]}")
        if out.core_check not in ("", "ok", "n/a"):
            print(f"    {s}: planning-core check: {out.core_check}")
    return row


if __name__ == "__main__":
    raise SystemExit(main())
