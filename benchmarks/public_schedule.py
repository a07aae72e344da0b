"""The residents' pages on the demo data: latency (target p95 < 100 ms) and weight (< 300 KB).

Seeds the Kota Medan demo into a temporary SQLite file (or ``--database-url``), plans next
Monday to Friday with every team (``--solve-seconds``), publishes the plan, then requests each
public page ``--repeat`` times through the WSGI app (no network, no browser cache) and prints
p50/p95/max per page, plus each page's weight: the HTML and every stylesheet and script it
loads from our origin, before map tiles. Run from the repository root::

    .venv/bin/python benchmarks/public_schedule.py [--repeat 200] [--solve-seconds 10] [--days 5]
    # plus a synthetic province-size office with 3,000 published visits over 10 days
    .venv/bin/python benchmarks/public_schedule.py --busy 3000
    # PostgreSQL: the database is emptied first (DROP SCHEMA public), use a throw-away one
    .venv/bin/python benchmarks/public_schedule.py --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from outreach import create_app  # noqa: E402
from outreach.config import database_uri_from_env  # noqa: E402
from outreach.demo import seed_demo  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.models import Office, PublicVisit, Team, User  # noqa: E402
from outreach.plans import service  # noqa: E402
from outreach.public.schedule import office_today  # noqa: E402

ASSET_RE = re.compile(r'(?:href|src)="(/static/[^"?#]+)"')
LIMIT_KB = 300
TARGET_P95_MS = 100


def prepare(solve_seconds: int, days: int) -> dict:
    """Seed the demo, plan ``days`` days from next Monday with every team, publish; return
    what to fetch."""
    seed_demo(db.session)
    office = db.session.scalar(sa.select(Office))
    today = office_today(office)
    start = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    user = db.session.scalar(sa.select(User).where(User.username == "koordinator"))
    teams = [t.id for t in db.session.scalars(sa.select(Team).where(Team.office_id == office.id))]
    plan = service.create_plan(
        office,
        user,
        name="Benchmark",
        start_date=start,
        end_date=start + timedelta(days=days - 1),
        team_ids=teams,
        time_limit_s=solve_seconds,
    )
    service.start_solve(plan, user)
    db.session.refresh(plan)
    service.publish(plan, user, plan.version_id)
    visits = db.session.scalars(
        sa.select(PublicVisit).where(PublicVisit.is_home.is_(False)).order_by(PublicVisit.id)
    ).all()
    busiest = max(
        {v.kelurahan_code for v in visits},
        key=lambda code: sum(v.kelurahan_code == code for v in visits),
    )
    key = office.slug
    return {
        "visits": len(visits),
        "homes": db.session.scalar(
            sa.select(sa.func.count(PublicVisit.id)).where(PublicVisit.is_home.is_(True))
        ),
        "pages": {
            "schedule (next 14 days)": f"/o/{key}",
            "schedule, filtered (kecamatan + service)": f"/o/{key}?kecamatan="
            f"{visits[0].kecamatan_code}&service=ktp_record",
            "schedule, near a kelurahan": f"/o/{key}?near={busiest}",
            "schedule from a week ahead": f"/o/{key}?from={start + timedelta(days=2)}",
            "stop page": f"/stop/{visits[len(visits) // 2].id}",
            "stop calendar (.ics)": f"/stop/{visits[0].id}.ics",
            "kelurahan feed (.ics)": f"/o/{key}/kelurahan/{busiest}.ics",
            "A4 notice": f"/o/{key}/kelurahan/{busiest}/notice",
            "map": f"/o/{key}/map",
            "contact": f"/o/{key}/contact",
            "home-visit form": f"/o/{key}/home-visit",
        },
    }


def add_busy_office(visits: int, days: int = 10) -> str:
    """A second, province-size office with ``visits`` published site visits over ``days``
    days (synthetic, seeded), to show that page weight and latency do not grow with it."""
    import random
    from datetime import UTC, datetime

    from outreach.models import Plan, PlannedRoute, PlannedStop, PlanStatus
    from outreach.plans.service import snapshot_of
    from outreach.public.schedule import sync_publication
    from tests.factories import make_hotspot, make_office, make_team

    rnd = random.Random(11)
    office = make_office(name="Dinas Dukcapil Kota Besar", slug="kota-besar")
    today = office_today(office)
    plan = Plan(
        office_id=office.id,
        name="Besar",
        status=PlanStatus.PUBLISHED,
        start_date=today,
        end_date=today + timedelta(days=days),
    )
    db.session.add(plan)
    teams = [make_team(office, name=f"Tim {i + 1}") for i in range(max(1, visits // days // 5))]
    for n in range(visits):
        day = today + timedelta(days=1 + n % days)
        team = teams[(n // days) % len(teams)]
        route = next((r for r in plan.routes if r.team_id == team.id and r.day == day), None)
        if route is None:
            route = PlannedRoute(plan=plan, team=team, day=day)
            plan.routes.append(route)
        kec = rnd.randint(1, 21)
        hs = make_hotspot(
            office,
            name=f"Sekolah {n + 1}",
            kecamatan_code=f"12.71.{kec:02d}",
            kecamatan_name=f"Kecamatan {kec}",
            kelurahan_code=f"12.71.{kec:02d}.{1000 + rnd.randint(1, 7)}",
            kelurahan_name=f"Kelurahan {kec}-{rnd.randint(1, 7)}",
            lat=3.45 + rnd.random() * 0.35,
            lon=98.55 + rnd.random() * 0.25,
        )
        start = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC) + timedelta(
            minutes=70 * len(route.stops)
        )
        route.stops.append(
            PlannedStop(
                hotspot=hs,
                position=len(route.stops),
                arrival_at=start,
                start_at=start,
                end_at=start + timedelta(minutes=60),
                persons={"ktp_record": 30},
            )
        )
    db.session.flush()
    plan.published_version = 1
    plan.published_at = datetime.now(UTC)
    sync_publication(plan, snapshot_of(plan))
    db.session.commit()
    return office.slug


def measure(client, path: str, repeat: int) -> tuple[list[float], int, bytes]:
    client.get(path)  # warm the template cache
    times = []
    body = b""
    status = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        resp = client.get(path)
        body = resp.get_data()
        times.append((time.perf_counter() - t0) * 1000)
        status = resp.status_code
    return times, status, body


def weight(client, body: bytes) -> tuple[int, int]:
    """Bytes of the page and of every asset it loads from our origin."""
    assets = sorted(set(ASSET_RE.findall(body.decode("utf-8", "replace"))))
    total = 0
    for url in assets:
        resp = client.get(url)
        total += len(resp.get_data())
        resp.close()
    return len(body), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--solve-seconds", type=int, default=10)
    parser.add_argument("--days", type=int, default=5, help="plan length from next Monday")
    parser.add_argument(
        "--busy", type=int, default=0, help="also a synthetic office with this many visits"
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="jb-public-")
    uri = (
        database_uri_from_env(args.database_url)
        if args.database_url
        else f"sqlite:///{tmp}/bench.sqlite3"
    )
    app = create_app(
        {
            "SECRET_KEY": "benchmark-secret-key-0123456789abcdef0123456789",
            "SQLALCHEMY_DATABASE_URI": uri,
            "JOB_BACKEND": "inline",
            "SERVER_NAME": "localhost",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        db.create_all()
        t0 = time.perf_counter()
        setup = prepare(args.solve_seconds, args.days)
        if args.busy:
            key = add_busy_office(args.busy)
            setup["pages"][f"schedule, busy office ({args.busy} visits)"] = f"/o/{key}"
            setup["pages"]["map, busy office"] = f"/o/{key}/map"
        print(
            f"demo seeded, solved ({args.solve_seconds} s) and published in "
            f"{time.perf_counter() - t0:.1f} s: {setup['visits']} public site visits, "
            f"{setup['homes']} home visits; database {db.engine.dialect.name}"
        )
        db.session.remove()
    client = app.test_client()
    print(
        f"\n{'page':42} {'status':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'HTML KB':>8} {'+assets KB':>10}"
    )
    worst_p95 = 0.0
    heaviest = 0
    with app.app_context():
        for name, path in setup["pages"].items():
            times, status, body = measure(client, path, args.repeat)
            times.sort()
            p50 = statistics.median(times)
            p95 = times[int(0.95 * (len(times) - 1))]
            html, assets = weight(client, body)
            total = html + assets
            heaviest = max(heaviest, total)
            if name.startswith("schedule"):
                worst_p95 = max(worst_p95, p95)
            print(
                f"{name:42} {status:>6} {p50:7.1f} {p95:7.1f} {times[-1]:7.1f} "
                f"{html / 1024:8.1f} {total / 1024:10.1f}"
            )
        # A phone coming back: the browser revalidates with the ETag and gets a 304.
        path = setup["pages"]["schedule (next 14 days)"]
        tag = client.get(path).headers["ETag"]
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            resp = client.get(path, headers={"If-None-Match": tag})
            resp.get_data()
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(
            f"{'schedule revalidated (If-None-Match)':42} {resp.status_code:>6} "
            f"{statistics.median(times):7.1f} {times[int(0.95 * (len(times) - 1))]:7.1f} "
            f"{times[-1]:7.1f} {len(resp.get_data()) / 1024:8.1f}"
        )
    print(
        f"\nschedule pages: worst p95 {worst_p95:.1f} ms (target < {TARGET_P95_MS} ms): "
        f"{'OK' if worst_p95 < TARGET_P95_MS else 'MISSED'}"
    )
    print(
        f"heaviest page with its assets: {heaviest / 1024:.1f} KB (limit {LIMIT_KB} KB): "
        f"{'OK' if heaviest < LIMIT_KB * 1024 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
