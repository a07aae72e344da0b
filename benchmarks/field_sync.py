"""Field sync under load: many tablets coming back online at once and replaying their outbox.

Builds one office with ``--teams`` teams, each with a field member (bearer token) and a
published route of ``--stops`` stops today. Then:

1. every team posts its check-ins and outcomes once, one request at a time (latency);
2. ``--threads`` threads replay every team's whole outbox ``--replays`` more times at once
   (the offline queue retrying after a dropped response), plus a second device per team
   sending different outcomes for the same stops;

and checks that exactly one outcome per stop exists and that each hotspot's remaining demand
went down exactly once. Run from the repository root (SQLite by default)::

    .venv/bin/python benchmarks/field_sync.py [--teams 60] [--stops 8] [--threads 8]
    # PostgreSQL: the database is emptied first (DROP SCHEMA public), use a throw-away one
    .venv/bin/python benchmarks/field_sync.py --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from outreach import create_app  # noqa: E402
from outreach.auth.tokens import create_token  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.models import HotspotDemand, PlanStatus, Role, VisitOutcome  # noqa: E402
from tests.factories import (  # noqa: E402
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
)


def build(n_teams: int, n_stops: int) -> list[tuple[str, list[tuple[int, int]]]]:
    """Return per team: (token, [(stop id, hotspot id), ...])."""
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    office = make_office()
    plan = make_plan(office, start_date=today, end_date=today + timedelta(days=1))
    out = []
    for t in range(n_teams):
        team = make_team(office, name=f"Tim {t + 1}")
        user = make_user(Role.FIELD, team=team, username=f"tim{t + 1}")
        route = make_route(plan, team, today)
        stops = [
            make_stop(route, make_hotspot(office, demand={"ktp_record": 40, "kia": 10}))
            for _ in range(n_stops)
        ]
        out.append((create_token(user, "tablet"), [(s.id, s.hotspot_id) for s in stops]))
    plan.status = PlanStatus.PUBLISHED
    plan.published_version = 1
    plan.published_at = datetime.now(UTC)
    db.session.commit()
    return out


def outbox(stops: list[tuple[int, int]]) -> list[tuple[str, dict]]:
    items = []
    for stop_id, _ in stops:
        items.append(
            ("/api/v1/field/checkins", {"client_uuid": str(uuid.uuid4()), "stop_id": stop_id})
        )
        items.append(
            (
                "/api/v1/field/outcomes",
                {
                    "client_uuid": str(uuid.uuid4()),
                    "stop_id": stop_id,
                    "present": 35,
                    "recorded": {"ktp_record": 30, "kia": 5},
                    "cards_carried": 10,
                    "cards_used": 0,
                },
            )
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=60)
    parser.add_argument("--stops", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--replays", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        if uri.startswith("postgresql://"):
            uri = uri.replace("postgresql://", "postgresql+psycopg://", 1)
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "benchmark-secret-key-0123456789abcdef0123456789",
                "SQLALCHEMY_DATABASE_URI": uri,
                "WTF_CSRF_ENABLED": True,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
            db.create_all()
            teams = build(args.teams, args.stops)
            db.session.remove()
        print(f"{uri.split(':')[0]}: {args.teams} teams × {args.stops} stops today")
        boxes = [(token, outbox(stops)) for token, stops in teams]

        client = app.test_client()
        latencies = []
        t0 = time.perf_counter()
        for token, items in boxes:
            for path, body in items:
                s = time.perf_counter()
                resp = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
                latencies.append(time.perf_counter() - s)
                assert resp.status_code == 201, (resp.status_code, resp.get_json())
        first = time.perf_counter() - t0
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(
            f"first sync, sequential: {len(latencies)} requests in {first:.1f} s, "
            f"median {statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
        )

        # Replays (same UUIDs) and a second device per team (new UUIDs, same stops).
        work = []
        for token, items in boxes:
            work += [(token, path, body) for _ in range(args.replays) for path, body in items]
            for path, body in items:
                if path.endswith("outcomes"):
                    work.append((token, path, {**body, "client_uuid": str(uuid.uuid4())}))
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def worker(chunk):
            c = app.test_client()
            for token, path, body in chunk:
                resp = c.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
                with lock:
                    statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

        chunks = [work[i :: args.threads] for i in range(args.threads)]
        threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        burst = time.perf_counter() - t0
        print(
            f"burst: {len(work)} replayed/duplicate requests on {args.threads} threads in "
            f"{burst:.1f} s ({len(work) / burst:.0f} req/s), "
            f"statuses {dict(sorted(statuses.items()))}"
        )
        with app.app_context():
            n_out = db.session.scalar(sa.select(sa.func.count(VisitOutcome.id)))
            left = db.session.scalars(
                sa.select(HotspotDemand.remaining).where(HotspotDemand.service == "ktp_record")
            ).all()
            expected = args.teams * args.stops
            ok = n_out == expected and set(left) == {10}
            print(
                f"check: {n_out} outcomes for {expected} stops; remaining ktp_record per site "
                f"{sorted(set(left))} (expected [10]) -> {'OK' if ok else 'FAILED'}"
            )
            db.session.remove()
            db.engine.dispose()
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
