"""Plan quality: served residents per priority, utilisation and idle waiting per team-day.

Two instances:

* ``demo``: the Kota Medan demo (``outreach.demo.seed_demo``) in a temporary SQLite file,
  planned for next Monday to Friday with every team, built exactly as the background solve
  builds it (``adapter.problem_for_plan(..., live_demand=True)`` and
  ``SolveParams(time_limit_s, seed)``);
* ``medan``: the synthetic instance of ``benchmarks/medan_scale.py`` (500 sites, 8 teams,
  10 working days by default).

Per team-day and in total: route time (leaving the office to coming back), service time
(setup + serving), travel time, break time inside the route, waiting (route time minus
service, travel and breaks: a team standing idle, e.g. in front of a site not open yet),
utilisation (service / route time), served residents per priority and blank cards used.
Every plan is verified with the independent checker. Run from the repository root::

    .venv/bin/python benchmarks/plan_quality.py --instance demo --time-limit 20
    .venv/bin/python benchmarks/plan_quality.py --instance medan --time-limit 60 --json out.json
    .venv/bin/python benchmarks/plan_quality.py --instance demo --no-gapfill   # search only
    .venv/bin/python benchmarks/plan_quality.py --instance medan --no-repair   # no priority repair
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from outreach.planning.checker import check  # noqa: E402
from outreach.planning.domain import Problem  # noqa: E402
from outreach.planning.result import Result, Route  # noqa: E402
from outreach.planning.solver import DEFAULT_WEIGHTS, SolveParams, solve  # noqa: E402


def demo_problem(days: int = 5) -> tuple[Problem, dict[str, str]]:
    """The demo's problem for ``days`` days from next Monday, every team (as the app builds
    it), and the team names by id."""
    import sqlalchemy as sa

    from outreach import create_app
    from outreach.demo import seed_demo
    from outreach.extensions import db
    from outreach.models import Office, Team, User
    from outreach.plans import adapter, service
    from outreach.public.schedule import office_today

    tmp = tempfile.mkdtemp(prefix="jb-quality-")
    app = create_app(
        {
            "SECRET_KEY": "benchmark-secret-key-0123456789abcdef0123456789",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
            "JOB_BACKEND": "inline",
            "SERVER_NAME": "localhost",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo(db.session)
        office = db.session.scalar(sa.select(Office))
        today = office_today(office)
        start = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
        user = db.session.scalar(sa.select(User).where(User.username == "koordinator"))
        teams = list(db.session.scalars(sa.select(Team).where(Team.office_id == office.id)))
        plan = service.create_plan(
            office,
            user,
            name="Quality",
            start_date=start,
            end_date=start + timedelta(days=days - 1),
            team_ids=[t.id for t in teams],
        )
        built = adapter.problem_for_plan(plan, with_locks=True, live_demand=True)
        names = {str(t.id): t.name for t in teams}
        db.session.remove()
    return built.problem, names


def medan(sites: int, teams: int, days: int, seed: int) -> tuple[Problem, dict[str, str]]:
    from outreach.planning.synthetic import medan_problem

    problem = medan_problem(sites, teams, days, seed=seed)
    return problem, {t.id: t.name for t in problem.teams}


def route_times(route: Route) -> dict[str, int]:
    """Seconds of one team-day: route, service, travel, breaks inside the route, waiting."""
    total = route.arrive - route.depart
    service = route.service_s
    breaks = sum(
        max(0, min(b.end, route.arrive) - max(b.start, route.depart)) for b in route.breaks
    )
    waiting = max(0, total - service - route.travel_s - breaks)
    return {
        "route_s": total,
        "service_s": service,
        "travel_s": route.travel_s,
        "break_s": breaks,
        "waiting_s": waiting,
    }


def stop_waits(route: Route) -> list[int]:
    """Seconds each stop's team waits between arriving and starting, breaks excluded."""
    out = []
    for s in route.stops:
        idle = s.start - s.arrival
        idle -= sum(max(0, min(b.end, s.start) - max(b.start, s.arrival)) for b in route.breaks)
        out.append(max(0, idle))
    return out


def measure(problem: Problem, result: Result) -> dict[str, Any]:
    prio = {s.id: s.priority for s in problem.sites}
    rows = []
    totals = Counter()
    for r in result.routes:
        t = route_times(r)
        totals.update(t)
        served = Counter()
        for s in r.stops:
            served[prio[s.site_id]] += s.total_persons
        rows.append(
            {
                "team": r.team_id,
                "date": r.date.isoformat(),
                **t,
                "stops": len(r.stops),
                "utilisation": round(t["service_s"] / t["route_s"], 4) if t["route_s"] else 0,
                "waiting_share": round(t["waiting_s"] / t["route_s"], 4) if t["route_s"] else 0,
                "served_by_priority": {str(p): served[p] for p in sorted(served)},
                "cards": r.cards,
            }
        )
    route_s = totals["route_s"] or 1
    return {
        "team_days": rows,
        "total": {
            **dict(totals),
            "team_days": len(result.routes),
            "service_share": round(totals["service_s"] / route_s, 4),
            "waiting_share": round(totals["waiting_s"] / route_s, 4),
            "travel_share": round(totals["travel_s"] / route_s, 4),
            "break_share": round(totals["break_s"] / route_s, 4),
            "longest_wait_min": round(
                max((w for r in result.routes for w in stop_waits(r)), default=0) / 60, 1
            ),
            "waits_over_30_min": sum(
                1 for r in result.routes for w in stop_waits(r) if w >= 30 * 60
            ),
            "persons_served": result.persons_served,
            # residents x priority weight (16, 8, 4, 2, 1): what the solver maximises
            "weighted_served": sum(
                DEFAULT_WEIGHTS[p - 1] * a for p, (a, _) in result.served_by_priority().items()
            ),
            "persons_requested": result.persons_requested,
            "served_by_priority": {
                str(p): {"served": a, "requested": b}
                for p, (a, b) in result.served_by_priority().items()
            },
            "cards": sum(r.cards for r in result.routes),
            "card_stock": problem.card_stock,
            "unserved_reasons": dict(Counter(u.reason for u in result.unserved)),
        },
    }


def _hm(seconds: int) -> str:
    seconds %= 86_400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _min(seconds: int) -> str:
    return f"{seconds / 60:6.0f}"


def print_report(report: dict[str, Any], result: Result, names: dict[str, str]) -> None:
    print(
        f"{'team':24} {'date':10} {'from':>5} {'to':>5} {'route':>6} {'serve':>6} "
        f"{'travel':>6} {'break':>6} {'wait':>6} {'util':>5} {'cards':>5}  served by priority"
    )
    for row, r in zip(report["team_days"], result.routes, strict=True):
        served = " ".join(f"p{p}:{n}" for p, n in row["served_by_priority"].items())
        print(
            f"{names.get(row['team'], row['team'])[:24]:24} {row['date']:10} "
            f"{_hm(r.depart):>5} {_hm(r.arrive):>5} {_min(row['route_s'])} "
            f"{_min(row['service_s'])} {_min(row['travel_s'])} {_min(row['break_s'])} "
            f"{_min(row['waiting_s'])} {row['utilisation']:5.0%} {row['cards']:5d}  {served}"
        )
    t = report["total"]
    print(
        f"\nTOTAL {t['team_days']} team-days, minutes: route {t['route_s'] / 60:.0f}, "
        f"service {t['service_s'] / 60:.0f} ({t['service_share']:.1%}), "
        f"travel {t['travel_s'] / 60:.0f} ({t['travel_share']:.1%}), "
        f"breaks {t['break_s'] / 60:.0f} ({t['break_share']:.1%}), "
        f"waiting {t['waiting_s'] / 60:.0f} ({t['waiting_share']:.1%})"
    )
    print(
        f"(of working route time, breaks excluded: service "
        f"{t['service_s'] / max(1, t['route_s'] - t['break_s']):.1%}, waiting "
        f"{t['waiting_s'] / max(1, t['route_s'] - t['break_s']):.1%}); longest wait at a stop "
        f"{t['longest_wait_min']} min, waits of 30 min or more: {t['waits_over_30_min']}"
    )
    print(
        f"residents served {t['persons_served']} of {t['persons_requested']} "
        f"(weighted by priority: {t['weighted_served']})"
    )
    for p, v in t["served_by_priority"].items():
        print(f"  priority {p}: {v['served']} of {v['requested']}")
    print(f"blank cards used {t['cards']} (stock {t['card_stock']})")
    print(f"unserved reasons: {t['unserved_reasons']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", choices=("demo", "medan"), default="demo")
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0, help="search seed (and medan instance)")
    parser.add_argument("--days", type=int, default=None, help="demo: 5; medan: 10")
    parser.add_argument("--sites", type=int, default=500, help="medan only")
    parser.add_argument("--teams", type=int, default=8, help="medan only")
    parser.add_argument(
        "--no-gapfill", action="store_true", help="skip the gap-filling step (search only)"
    )
    parser.add_argument(
        "--no-repair", action="store_true", help="skip the priority repair (gap filling only)"
    )
    parser.add_argument("--quiet", action="store_true", help="totals only")
    parser.add_argument("--json", type=Path, help="write the measurements as JSON")
    args = parser.parse_args(argv)

    if args.instance == "demo":
        problem, names = demo_problem(args.days or 5)
    else:
        problem, names = medan(args.sites, args.teams, args.days or 10, args.seed)
    kwargs: dict[str, Any] = {"time_limit_s": args.time_limit, "seed": args.seed}
    if args.no_gapfill and "gap_fill" in {f for f in SolveParams.__dataclass_fields__}:
        kwargs["gap_fill"] = False
    if args.no_repair:
        kwargs["priority_repair"] = False
    params = SolveParams(**kwargs)
    t0 = time.perf_counter()
    result = solve(problem, params)
    wall = time.perf_counter() - t0
    violations = check(problem, result)
    report = measure(problem, result)
    if result.search_routes is not None:
        # the same solve before the gap-filling step (a plan of its own, also checked)
        served = Counter()
        for r in result.search_routes:
            for st in r.stops:
                served[st.site_id] += st.total_persons
        search_only = dataclasses.replace(result, routes=result.search_routes)
        report["search_only"] = measure(problem, search_only)["total"]
        del report["search_only"]["unserved_reasons"]  # the reasons are the filled plan's
    report["instance"] = args.instance
    report["time_limit_s"] = args.time_limit
    report["solve_s"] = round(wall, 2)
    report["timings"] = {k: round(v, 3) for k, v in result.timings.items()}
    report["check_violations"] = [str(v) for v in violations[:20]]
    if args.quiet:
        rows = report["team_days"]
        print_report({**report, "team_days": []}, dataclasses.replace(result, routes=()), names)
        report["team_days"] = rows
    else:
        print_report(report, result, names)
    if "search_only" in report:
        t = report["search_only"]
        print(
            f"search only (same solve, before the gap-filling step): served "
            f"{t['persons_served']} (weighted {t['weighted_served']}), by priority "
            + " ".join(f"p{p}:{v['served']}" for p, v in t["served_by_priority"].items())
            + f"; service {t['service_share']:.1%}, travel {t['travel_share']:.1%}, "
            f"breaks {t['break_share']:.1%}, waiting {t['waiting_share']:.1%} of route time "
            f"({t['route_s'] / 60:.0f} min; of working time: service "
            f"{t['service_s'] / max(1, t['route_s'] - t['break_s']):.1%}), "
            f"longest wait {t['longest_wait_min']} min, waits >= 30 min: "
            f"{t['waits_over_30_min']}, cards {t['cards']}"
        )
    print(
        f"solve {wall:.1f} s (limit {args.time_limit:g} s), timings {report['timings']}, "
        f"checker: {'OK' if not violations else f'{len(violations)} violations'}"
    )
    for v in violations[:10]:
        print(f"  {v}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if not violations else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
