"""Medan-scale planning run: 500 sites, 8 teams, 10 working days, checked.

Builds the seeded synthetic Medan instance (:func:`outreach.planning.synthetic.medan_problem`),
solves it with the production settings, verifies the plan with the independent checker and
reports wall times, residents served and the checker's verdict. The target (issue 3) is a
checked plan within 60 s end to end on the project's 2-core machine.

Usage (from the repository root)::

    .venv/bin/python benchmarks/medan_scale.py
    .venv/bin/python benchmarks/medan_scale.py --time-limit 30 --seed 2 --json medan.json
    .venv/bin/python benchmarks/medan_scale.py --build-only --sites 2000 --teams 60 --days 20

``--build-only`` measures the province-size core without a search: time of the instance,
the travel matrices over the places, the visit nodes (splitting, start windows) and the
OR-Tools model, the node count and the process's peak memory (``ru_maxrss``). Run each
size in its own process (the peak is the process's); ``--memory-gb`` caps the address space
so a model that does not fit ends with a MemoryError instead of swapping the machine.
``model_s`` is the whole build as the solver runs it (matrices, visits, the model) and is
the number the issue's "< 30 s" target is about; ``matrices_s`` and ``visits_s`` time
those two stages again on their own. ``--param`` sets ``SolveParams`` fields (JSON values),
e.g. ``--param exact_kit_windows=false --param 'transits="matrix"'`` for the old model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from outreach.planning.checker import check  # noqa: E402 - needs the repo on sys.path
from outreach.planning.solver import SolveParams, solve  # noqa: E402
from outreach.planning.synthetic import medan_problem  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--teams", type=int, default=8)
    parser.add_argument("--days", type=int, default=10, help="working days in the horizon")
    parser.add_argument("--seed", type=int, default=0, help="instance and search seed")
    parser.add_argument(
        "--time-limit", type=float, default=45.0, help="search seconds (total target: 60 s)"
    )
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1)
    parser.add_argument("--json", type=Path, help="write the measurements as JSON")
    parser.add_argument("--build-only", action="store_true", help="model build only, no search")
    parser.add_argument("--memory-gb", type=float, default=None, help="address-space cap")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="SolveParams field, e.g. --param exact_kit_windows=true (repeatable)",
    )
    args = parser.parse_args(argv)
    args.extra = {}
    for item in args.param:
        key, _, value = item.partition("=")
        try:
            args.extra[key] = json.loads(value)
        except json.JSONDecodeError:
            parser.error(f"--param {item!r}: the value must be JSON (quote strings)")
    if args.memory_gb:
        import resource

        cap = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if args.build_only:
        return build_only(args)

    t0 = time.perf_counter()
    problem = medan_problem(args.sites, args.teams, args.days, seed=args.seed)
    t_build = time.perf_counter() - t0
    params = SolveParams(
        time_limit_s=args.time_limit, seed=args.seed, workers=args.workers, **args.extra
    )
    t1 = time.perf_counter()
    result = solve(problem, params)
    t_solve = time.perf_counter() - t1
    t2 = time.perf_counter()
    violations = check(problem, result)
    t_check = time.perf_counter() - t2
    total = time.perf_counter() - t0

    reasons = Counter(u.reason for u in result.unserved)
    report = {
        "sites": len(problem.sites),
        "teams": len(problem.teams),
        "vehicles": len(problem.vehicles),
        "horizon": [problem.horizon[0].isoformat(), problem.horizon[-1].isoformat()],
        "time_limit_s": args.time_limit,
        "params": args.extra,
        "build_s": round(t_build, 2),
        "solve_s": round(t_solve, 2),
        "check_s": round(t_check, 2),
        "total_s": round(total, 2),
        "status": result.status,
        "feasible": result.is_feasible(),
        "routes": len(result.routes),
        "persons_served": result.persons_served,
        "persons_requested": result.persons_requested,
        "served_by_priority": {
            str(p): {"served": a, "requested": b}
            for p, (a, b) in result.served_by_priority().items()
        },
        "weighted_served": sum(
            params.priority_weights[p - 1] * a for p, (a, _) in result.served_by_priority().items()
        ),
        "distance_km": round(result.distance_m / 1000, 1),
        "unserved_reasons": dict(reasons),
        "check_violations": [str(v) for v in violations[:10]],
        "check_ok": not violations,
    }
    print(result.summary())
    print(
        f"build {t_build:.1f} s, solve {t_solve:.1f} s, check {t_check:.1f} s, "
        f"total {total:.1f} s (target 60 s) -> "
        f"{'checked OK' if not violations else f'{len(violations)} checker violations'}"
    )
    for v in violations[:10]:
        print(f"  {v}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if not violations and total <= 60 else 1


def build_only(args: argparse.Namespace) -> int:
    import dataclasses
    import resource

    from outreach.planning.explain import place_matrices
    from outreach.planning.solver import _build, plan_visits

    report: dict[str, object] = {
        "sites": args.sites,
        "teams": args.teams,
        "days": args.days,
        "params": args.extra,
    }
    stage = "instance"
    try:
        t = time.perf_counter()
        problem = medan_problem(args.sites, args.teams, args.days, seed=args.seed)
        report["instance_s"] = round(time.perf_counter() - t, 2)
        report["vehicles"] = len(problem.vehicles)
        stage = "matrices"
        t = time.perf_counter()
        full = place_matrices(problem)
        report["matrices_s"] = round(time.perf_counter() - t, 2)
        stage = "visits"
        t = time.perf_counter()
        params = SolveParams(**args.extra)
        visits = plan_visits(problem, dataclasses.replace(params, exact_kit_windows=True), full)
        report["visits_s"] = round(time.perf_counter() - t, 2)
        report["visit_nodes"] = len(visits)
        stage = "model"
        t = time.perf_counter()
        model = _build(problem, params)
        report["model_s"] = round(time.perf_counter() - t, 2)
        report["model_nodes"] = len(model.visits)
        report["transits"] = model.transits
        report["ok"] = True
    except MemoryError:
        report["ok"] = False
        report["failed_at"] = f"{stage}: MemoryError (cap {args.memory_gb} GB)"
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
