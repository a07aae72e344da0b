"""CPU per field-tablet POST (check-in + outcome pairs), Flask test client (issue 13 item 5).

    .venv/bin/python benchmarks/field_post_cpu.py [--db sqlite|pg] [--repeats 5]
        [--pairs 100] [--profile out.prof] [--queries]

--db pg uses postgresql+psycopg://postgres@127.0.0.1:5432/fieldprof (createdb it first, drop after;
the schema is dropped and recreated). Reports CPU (process_time) and wall ms per POST, the median
over repeats of each repeat's mean, for check-ins and outcomes separately.
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sqlalchemy as sa  # noqa: E402
from field_sync import build, outbox  # noqa: E402  (the same tablets and bodies)

from outreach import create_app  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.models import HotspotDemand, VisitOutcome  # noqa: E402

STOPS_PER_TEAM = 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite", choices=["sqlite", "pg"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--profile", default=None)
    ap.add_argument("--queries", action="store_true")
    args = ap.parse_args()
    teams_per_repeat = max(1, args.pairs // STOPS_PER_TEAM)
    with tempfile.TemporaryDirectory() as tmp:
        uri = (
            "postgresql+psycopg://postgres@127.0.0.1:5432/fieldprof"
            if args.db == "pg"
            else f"sqlite:///{tmp}/prof.sqlite3"
        )
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
            teams = build(teams_per_repeat * (args.repeats + 1), STOPS_PER_TEAM)  # +1 warm-up round
            db.session.remove()
        client = app.test_client()
        nq = [0]
        if args.queries:
            with app.app_context():
                sa.event.listen(
                    db.engine, "before_cursor_execute", lambda *a, **k: nq.__setitem__(0, nq[0] + 1)
                )

        def run(chunk):
            ci_cpu = oc_cpu = ci_wall = oc_wall = 0.0
            n = 0
            for token, stops in chunk:
                h = {"Authorization": f"Bearer {token}"}
                items = outbox(stops)  # check-in, outcome, check-in, outcome, ...
                for (ci_path, ci_body), (oc_path, oc_body) in zip(
                    items[::2], items[1::2], strict=True
                ):
                    c0, w0 = time.process_time(), time.perf_counter()
                    r = client.post(ci_path, json=ci_body, headers=h)
                    c1, w1 = time.process_time(), time.perf_counter()
                    assert r.status_code == 201, (r.status_code, r.get_json())
                    r = client.post(oc_path, json=oc_body, headers=h)
                    c2, w2 = time.process_time(), time.perf_counter()
                    assert r.status_code == 201, (r.status_code, r.get_json())
                    ci_cpu += c1 - c0
                    oc_cpu += c2 - c1
                    ci_wall += w1 - w0
                    oc_wall += w2 - w1
                    n += 1
            return ci_cpu / n * 1e3, oc_cpu / n * 1e3, ci_wall / n * 1e3, oc_wall / n * 1e3

        chunks = [
            teams[i * teams_per_repeat : (i + 1) * teams_per_repeat]
            for i in range(args.repeats + 1)
        ]
        run(chunks[0])  # warm-up (first token touch etc.)
        if args.queries:
            nq[0] = 0
        results = []
        prof = cProfile.Profile(time.process_time) if args.profile else None
        for chunk in chunks[1:]:
            if prof:
                prof.enable()
            results.append(run(chunk))
            if prof:
                prof.disable()
        if prof:
            prof.dump_stats(args.profile)
        med = [statistics.median(r[i] for r in results) for i in range(4)]
        print(
            f"{args.db}: {args.repeats} repeats x {teams_per_repeat * STOPS_PER_TEAM} pairs; "
            f"median ms/POST  CPU checkin {med[0]:.2f} outcome {med[1]:.2f} "
            f"(mean {(med[0] + med[1]) / 2:.2f}) | wall checkin {med[2]:.2f} outcome {med[3]:.2f} "
            f"(mean {(med[2] + med[3]) / 2:.2f})"
        )
        if args.queries:
            total_pairs = args.repeats * teams_per_repeat * STOPS_PER_TEAM
            print(f"queries per pair: {nq[0] / total_pairs:.2f}")
        with app.app_context():
            n_out = db.session.scalar(sa.select(sa.func.count()).select_from(VisitOutcome))
            rem = db.session.scalar(sa.select(sa.func.sum(HotspotDemand.remaining)))
            print(f"check: outcomes {n_out}, remaining demand sum {rem}")
            db.session.remove()


if __name__ == "__main__":
    main()
