"""Restore drill (SECURITY row 47; scale-out issue, item 6): back up, restore into a fresh
database, compare every table row by row.

Seeds the Kota Medan demo, plans and publishes next Monday–Friday (``--solve-seconds``),
optionally adds a synthetic busy office (``--busy N`` published visits), then runs
:func:`outreach.backup.drill` on it: SQLite's online backup API or ``pg_dump -Fc`` →
restore into a scratch database (temp file, or ``CREATE DATABASE`` on the same server) →
every table compared in primary-key order. Prints per-table row counts, the times and the
backup size; exits 1 on any difference. Run from the repository root::

    .venv/bin/python benchmarks/restore_drill.py [--busy 3000] [--solve-seconds 5]
    # PostgreSQL: the database is emptied first (DROP SCHEMA public), use a throw-away one
    .venv/bin/python benchmarks/restore_drill.py --database-url postgresql://postgres@127.0.0.1:5432/bench

The same drill on a live installation is ``flask backup-drill`` (no seeding).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sqlalchemy as sa  # noqa: E402
from public_schedule import add_busy_office, prepare  # noqa: E402

from outreach import create_app  # noqa: E402
from outreach.backup import drill  # noqa: E402
from outreach.config import database_uri_from_env  # noqa: E402
from outreach.extensions import db  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (emptied first)")
    parser.add_argument("--solve-seconds", type=int, default=5)
    parser.add_argument("--busy", type=int, default=0, help="synthetic published visits")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="jb-drill-")
    uri = (
        database_uri_from_env(args.database_url)
        if args.database_url
        else f"sqlite:///{os.path.join(folder, 'drill.sqlite3')}"
    )
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": uri,
            "SECRET_KEY": "restore-drill-secret-key-0123456789abcdef",
            "RATELIMIT_ENABLED": False,
            "JOB_BACKEND": "inline",
            "SERVER_NAME": "localhost",
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        db.create_all()
        t0 = time.perf_counter()
        prepare(args.solve_seconds, 5)
        if args.busy:
            add_busy_office(args.busy)
        db.session.commit()
        db.session.remove()
        print(f"seeded in {time.perf_counter() - t0:.1f} s ({db.engine.dialect.name})")
        url = db.engine.url
        db.engine.dispose()
    report = drill(url)
    rows = 0
    for t in report.comparison.tables:
        same = t.first_difference is None and t.rows_source == t.rows_copy
        rows += t.rows_source
        if t.rows_source or not same:
            print(
                f"  {t.name:28} {t.rows_source:>9,} / {t.rows_copy:>9,}  {'ok' if same else 'DIFF'}"
            )
    print(
        f"{rows:,} rows in {len(report.comparison.tables)} tables; backup {report.backup_s:.2f} s "
        f"({report.backup_bytes / 1e6:.1f} MB), restore {report.restore_s:.2f} s, compare "
        f"{report.compare_s:.2f} s -> "
        + ("every table equal" if report.comparison.equal else "DIFFERENCES")
    )
    return 0 if report.comparison.equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
