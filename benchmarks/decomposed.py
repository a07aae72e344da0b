"""Decomposed solves against one undivided solve (scale-out issue, item 1).

Two seeded synthetic instances:

* ``city``: Medan, 500 sites, 8 teams, 10 working days (:func:`medan_problem`);
* ``province``: North Sumatra, 5,000 sites, 60 teams in 12 offices, 20 working days
  (:func:`province_problem`; offices never share a part).

For each ``--workers`` value the instance is partitioned, the parts are solved in that many
local processes (the same code the job runner uses without Redis), stitched, seam-repaired
and checked by the independent checker; ``--undivided`` adds one undivided solve with the
same time budget (``workers=2``: the second core runs a second search, as in production).
Reported: residents served per priority, weighted residents, km, wall time, peak memory
(this process and the largest child), the checker's verdict, and the decomposed plan's
weighted residents as a share of the undivided one's. Run from the repository root::

    .venv/bin/python benchmarks/decomposed.py --instance city --workers 1 2 --undivided
    .venv/bin/python benchmarks/decomposed.py --instance province --workers 2 --time-limit 480

Targets: the province plan, checked, in under 10 minutes with 2 workers; on the city at
least 97 % of the undivided solve's weighted residents. The instances were developed on
seed 0; report other seeds.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from outreach.planning import SolveParams, check, solve  # noqa: E402
from outreach.planning import decompose as dc  # noqa: E402
from outreach.planning import partition as pt  # noqa: E402
from outreach.planning.synthetic import medan_problem, office_of, province_problem  # noqa: E402

WEIGHTS = (16, 8, 4, 2, 1)


def _peaks() -> tuple[float, float]:
    """Peak resident memory in GB of this process and of the largest child so far."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return round(me, 2), round(kids, 2)


def _report(problem, result, wall: float, label: str, extra: dict) -> dict:
    t = time.perf_counter()
    violations = check(problem, result)
    check_s = time.perf_counter() - t
    by_p = result.served_by_priority()
    weighted = sum(WEIGHTS[p - 1] * a for p, (a, _) in by_p.items())
    me, kids = _peaks()
    out = {
        "run": label,
        "status": result.status,
        "wall_s": round(wall, 1),
        "check_s": round(check_s, 1),
        "check_ok": not violations,
        "violations": [str(v) for v in violations[:5]],
        "persons_served": result.persons_served,
        "persons_requested": result.persons_requested,
        "weighted_served": weighted,
        "served_by_priority": {str(p): a for p, (a, _) in by_p.items()},
        "distance_km": round(result.distance_m / 1000, 1),
        "routes": len(result.routes),
        "peak_gb_self": me,
        "peak_gb_child": kids,
        "timings": {k: round(v, 1) for k, v in result.timings.items()},
        **extra,
    }
    p = out["served_by_priority"]
    print(
        f"{label:>12}: {out['status']}, {wall:6.1f} s, weighted {weighted:,}, "
        f"served {result.persons_served:,} (p1 {p.get('1', 0):,}, p2 {p.get('2', 0):,}, "
        f"p3 {p.get('3', 0):,}, p4 {p.get('4', 0):,}, p5 {p.get('5', 0):,}), "
        f"{out['distance_km']:,} km, peak {me} GB (+ child {kids} GB), "
        f"checker {'OK' if not violations else f'{len(violations)} violations'}",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", choices=("city", "province"), default="city")
    parser.add_argument("--seed", type=int, default=1, help="instance and search seed")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--time-limit", type=float, default=None, help="budget in seconds")
    parser.add_argument("--target-sites", type=int, default=pt.TARGET_SITES)
    parser.add_argument("--undivided", action="store_true", help="also one undivided solve")
    parser.add_argument(
        "--undivided-workers", type=int, choices=(1, 2), default=2, help="its search chains"
    )
    parser.add_argument("--json", type=Path, help="write the measurements as JSON")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    if args.instance == "city":
        problem = medan_problem(500, 8, 10, seed=args.seed)
        offices = None
        budget = args.time_limit or 30.0
    else:
        problem = province_problem(5000, 60, 20, seed=args.seed)
        offices = office_of(problem)
        budget = args.time_limit or 480.0
    print(
        f"{args.instance} seed {args.seed}: {len(problem.sites):,} sites, "
        f"{len(problem.teams)} teams, {len(problem.vehicles):,} team-days, budget {budget:.0f} s"
        f" (instance built in {time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    runs = []
    specs = pt.partition(problem, target_sites=args.target_sites, office_of=offices)
    print(f"{len(specs)} parts: " + ", ".join(f"{len(sp.site_ids)}" for sp in specs), flush=True)
    for w in args.workers:
        t = time.perf_counter()
        result = dc.solve_decomposed(
            problem,
            SolveParams(time_limit_s=budget, seed=args.seed),
            workers=w,
            target_sites=args.target_sites,
            office_of=offices,
        )
        runs.append(
            _report(
                problem,
                result,
                time.perf_counter() - t,
                f"{w} worker(s)",
                {"workers": w, "parts": len(specs)},
            )
        )
    if args.undivided:
        t = time.perf_counter()
        w = args.undivided_workers
        result = solve(problem, SolveParams(time_limit_s=budget, seed=args.seed, workers=w))
        base = _report(problem, result, time.perf_counter() - t, "undivided", {"workers": w})
        runs.append(base)
        for r in runs[:-1]:
            r["share_of_undivided"] = round(r["weighted_served"] / base["weighted_served"], 4)
            print(f"{r['run']:>12}: {100 * r['share_of_undivided']:.1f} % of the undivided plan")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"instance": args.instance, "seed": args.seed, "budget_s": budget, "runs": runs},
                indent=1,
            ),
            encoding="utf-8",
        )
    ok = all(r["check_ok"] for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
