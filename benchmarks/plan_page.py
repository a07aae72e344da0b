"""Time the coordinator's plan review page for a 500-stop plan (target: under 2 s).

Builds the plan in a temporary SQLite file (5 teams × 10 days × 10 stops, 500 hotspots on the
route plus 300 unplanned ones for the clustered layer), logs a coordinator in and times
``GET /coord/plans/<id>`` a few times. Run from the repository root::

    .venv/bin/python benchmarks/plan_page.py [--stops 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from outreach import create_app  # noqa: E402
from outreach.auth.sessions import start_session  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.models import PlannedRoute, PlannedStop, Role  # noqa: E402
from tests.factories import (  # noqa: E402
    make_hotspot,
    make_office,
    make_plan,
    make_team,
    make_unserved,
    make_user,
)

TEAMS, DAYS = 5, 10


def build(n_stops: int, n_unplanned: int, seed: int = 7) -> tuple[int, int]:
    """Create the office, teams, hotspots and a solved plan; return (plan id, user id)."""
    rnd = random.Random(seed)
    office = make_office()
    teams = [make_team(office, name=f"Tim {i + 1}") for i in range(TEAMS)]
    plan = make_plan(office, name="Rencana benchmark")
    plan.end_date = plan.start_date + timedelta(days=13)
    days = [plan.start_date + timedelta(days=d) for d in range(14) if d % 7 < 5][:DAYS]
    routes = [
        PlannedRoute(plan=plan, team=t, day=d, distance_m=rnd.randint(8_000, 40_000))
        for d in days
        for t in teams
    ]
    db.session.add_all(routes)
    per_route = -(-n_stops // len(routes))
    made = 0
    for route in routes:
        base = datetime(route.day.year, route.day.month, route.day.day, 1, 0, tzinfo=UTC)
        for pos in range(per_route):
            if made == n_stops:
                break
            hs = make_hotspot(
                office,
                name=f"Titik {made + 1} <Kel. {rnd.randint(1, 151)}>",
                lat=3.50 + rnd.random() * 0.15,
                lon=98.60 + rnd.random() * 0.15,
                demand={"ktp_record": rnd.randint(10, 60), "kia": rnd.randint(0, 20)},
            )
            start = base + timedelta(minutes=40 * pos + 10)
            db.session.add(
                PlannedStop(
                    route=route,
                    hotspot=hs,
                    position=pos,
                    arrival_at=start - timedelta(minutes=5),
                    start_at=start,
                    end_at=start + timedelta(minutes=30),
                    persons={d.service: d.remaining for d in hs.demands if d.remaining},
                    cards=0,
                )
            )
            made += 1
    for i in range(n_unplanned):
        hs = make_hotspot(
            office,
            name=f"Belum {i + 1}",
            lat=3.50 + rnd.random() * 0.15,
            lon=98.60 + rnd.random() * 0.15,
        )
        if i % 3 == 0:
            make_unserved(plan, hs)
    plan.params = {"team_ids": [t.id for t in teams]}
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    return plan.id, user.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=500)
    parser.add_argument("--unplanned", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "benchmark-secret-key-0123456789abcdef0123456789",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "MAP_TILES_ENABLED": False,
            }
        )
        with app.app_context():
            db.create_all()
            t0 = time.perf_counter()
            plan_id, user_id = build(args.stops, args.unplanned)
            print(f"built {args.stops}-stop plan in {time.perf_counter() - t0:.1f} s")
            from outreach.models import User

            with app.test_request_context():
                token = start_session(db.session.get(User, user_id))
                db.session.commit()
            db.session.remove()
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"] = token
            sess["_fresh"] = True
        times, cpu, size = [], [], 0
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            resp = client.get(f"/coord/plans/{plan_id}")
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert resp.status_code == 200, resp.status_code
            size = len(resp.data)
        print(
            f"GET /coord/plans/{plan_id} ({args.stops} stops, {args.unplanned} unplanned): "
            f"first {times[0]:.3f} s, median {statistics.median(times):.3f} s, "
            f"max {max(times):.3f} s, {size / 1024:.0f} KiB"
        )
        # CPU time tells the page's own cost apart from a busy machine's waiting time.
        print(f"CPU time per GET: median {statistics.median(cpu):.3f} s, max {max(cpu):.3f} s")
        print("target < 2 s (median wall time):", "OK" if statistics.median(times) < 2 else "SLOW")


if __name__ == "__main__":
    main()
