"""SQLite under write contention: WAL, a busy timeout and BEGIN IMMEDIATE (issue 12).

The web app and the solve worker write to one SQLite file at the same time. Eight threads,
each with its own app context (so its own session and pooled connection), write through the
app's ``db.session`` as requests do; no write may fail with "database is locked" and none may
be lost. PostgreSQL runs (``DATABASE_URL`` set) skip this file: it is about SQLite.
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import HotspotDemand, OutcomeResult, VisitOutcome
from tests.factories import make_hotspot, make_office, make_team, today_wib

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="SQLite contention: this run uses PostgreSQL"
)

THREADS = 8


def run_threads(app, work, per_thread: int) -> list[str]:
    """Run ``work(i)`` ``per_thread`` times in each of THREADS threads started together;
    return the errors (empty when every call succeeded)."""
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def target() -> None:
        with app.app_context():
            barrier.wait()
            for i in range(per_thread):
                try:
                    work(i)
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    db.session.rollback()
                    errors.append(f"{type(exc).__name__}: {exc}")
            db.session.remove()

    threads = [threading.Thread(target=target) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return errors


@pytest.fixture
def site(app):
    office = make_office()
    team = make_team(office)
    hotspot = make_hotspot(office, demand={"ktp_record": 1000})
    db.session.commit()
    ids = {"team": team.id, "hotspot": hotspot.id}
    db.session.close()  # hold no connection or transaction while the threads write
    return ids


def test_the_app_uses_wal_on_a_file_database(app, site):
    """The test database is a file and the app's connections run in WAL mode with a busy
    timeout (what the threads below rely on)."""
    assert db.engine.url.database not in (None, "", ":memory:")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_eight_threads_insert_400_outcomes_without_a_lock_error(app, site):
    """8 threads × 50 outcome inserts, one transaction each, at once: all 400 rows are
    committed and no write fails with "database is locked" (SECURITY row 35)."""
    day = today_wib()

    def insert(_i: int) -> None:
        db.session.add(
            VisitOutcome(
                client_uuid=str(uuid.uuid4()),
                hotspot_id=site["hotspot"],
                team_id=site["team"],
                day=day,
                result=OutcomeResult.SERVED,
                present=1,
                recorded={"ktp_record": 1},
            )
        )
        db.session.commit()

    errors = run_threads(app, insert, 50)
    assert errors == []
    count = db.session.scalar(sa.select(sa.func.count(VisitOutcome.id)))
    assert count == THREADS * 50
    assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    db.session.rollback()


def test_read_then_write_transactions_lose_no_update(app, site):
    """8 threads × 25 transactions that read the remaining demand and write it back lowered
    by one: with BEGIN IMMEDIATE each transaction holds the write lock from its first read,
    so none fails on the upgrade to a write and none overwrites another (SECURITY row 35)."""

    def take_one(_i: int) -> None:
        row = db.session.scalars(
            sa.select(HotspotDemand).where(HotspotDemand.hotspot_id == site["hotspot"])
        ).one()
        seen = row.remaining
        threading.Event().wait(0.001)  # widen the window between the read and the write
        row.remaining = seen - 1
        db.session.commit()

    errors = run_threads(app, take_one, 25)
    assert errors == []
    db.session.expire_all()
    remaining = db.session.scalar(
        sa.select(HotspotDemand.remaining).where(HotspotDemand.hotspot_id == site["hotspot"])
    )
    db.session.rollback()
    assert remaining == 1000 - THREADS * 25
