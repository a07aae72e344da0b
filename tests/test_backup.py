"""Backups restore, and the drill notices when they do not (SECURITY row 47).

Runs on the test database of the run: a temp SQLite file, or PostgreSQL when
``DATABASE_URL`` is set (CI's second pass), where the drill uses ``pg_dump``/``pg_restore``
and a scratch database on the same server.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from outreach.backup import (
    BackupError,
    backup,
    compare,
    drill,
    newest_backup_age_hours,
    restore,
    scratch_database,
)
from outreach.demo import seed_demo
from outreach.extensions import db
from outreach.models import AuditEvent, Hotspot


@pytest.fixture
def seeded(app):
    seed_demo(db.session)
    db.session.remove()
    return db.engine.url


def _suffix(url) -> str:
    return ".sqlite3" if url.get_backend_name() == "sqlite" else ".dump"


def test_drill_restores_every_table_row_by_row(app, seeded):
    """SECURITY row 47: backup -> restore into a fresh database -> every table equal."""
    report = drill(seeded)
    assert report.comparison.equal, report.comparison
    counts = {t.name: t.rows_source for t in report.comparison.tables}
    assert counts["hotspot"] > 50 and counts["team"] > 0
    assert all(t.rows_copy == t.rows_source for t in report.comparison.tables)
    assert report.backup_bytes > 0


def test_compare_names_the_table_and_key_of_a_changed_row_but_no_values(app, seeded, tmp_path):
    """SECURITY row 47: a restore that lost or changed a row is reported, by key only."""
    file = backup(seeded, tmp_path / f"b{_suffix(seeded)}")
    first = db.session.scalar(sa.select(Hotspot).order_by(Hotspot.id).limit(1))
    secret_name = first.name
    db.session.remove()
    with scratch_database(seeded) as target:
        restore(file, target)
        engine = sa.create_engine(target)
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE hotspot SET name = 'changed' WHERE id = :id"), {"id": first.id}
            )
            conn.execute(sa.text("DELETE FROM audit_event"))
        engine.dispose()
        result = compare(seeded, target)
    assert not result.equal
    by_name = {t.name: t for t in result.tables}
    assert by_name["hotspot"].first_difference == f"row differs: id={first.id!r}"
    assert secret_name not in by_name["hotspot"].first_difference
    if by_name["audit_event"].rows_source:
        assert by_name["audit_event"].rows_copy == 0
        assert by_name["audit_event"].first_difference.startswith("row missing in the copy")
    assert by_name["team"].first_difference is None


def test_restore_never_overwrites_a_database_with_tables(app, seeded, tmp_path):
    """SECURITY row 47: restoring onto live data is refused, the data is untouched."""
    file = backup(seeded, tmp_path / f"b{_suffix(seeded)}")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Hotspot))
    db.session.remove()
    with pytest.raises(BackupError, match="not empty"):
        restore(file, seeded)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Hotspot)) == before


def test_missing_backup_file_and_unknown_database_are_clear_errors(app, tmp_path):
    with pytest.raises(BackupError, match="no backup file"):
        restore(tmp_path / "nothing.dump", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with pytest.raises(BackupError, match="in-memory"):
        backup("sqlite://", tmp_path / "m.sqlite3")


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite online backup only")
def test_sqlite_backup_is_a_consistent_snapshot_while_the_app_writes(app, seeded, tmp_path):
    """SECURITY rows 35, 47: the online backup API copies while another connection keeps
    committing; the copy is intact and holds a prefix of the writes, none half-done."""
    path = seeded.database
    stop = threading.Event()
    written = []

    def writer():
        conn = sqlite3.connect(path, timeout=10)
        k = 0
        while not stop.is_set():
            conn.execute(
                "INSERT INTO audit_event (at, action, object_type, object_id, details) "
                "VALUES (CURRENT_TIMESTAMP, 'drill.write', 'drill', ?, '{}')",
                (k,),
            )
            conn.commit()
            written.append(k)
            k += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        file = backup(seeded, tmp_path / "online.sqlite3")
    finally:
        stop.set()
        thread.join()
    copy = sqlite3.connect(file)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [
        r[0] for r in copy.execute("SELECT object_id FROM audit_event WHERE action = 'drill.write'")
    ]
    copy.close()
    assert len(ids) >= 20
    assert sorted(int(i) for i in ids) == list(range(len(ids)))  # a prefix, no gaps


def test_backup_check_fails_on_a_stale_or_missing_backup(app, tmp_path):
    """SECURITY row 47: the age check monitoring runs exits 1 past the limit."""
    runner = app.test_cli_runner()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(args=["backup-check", str(empty)]).exit_code == 1
    folder = tmp_path / "backups"
    folder.mkdir()
    old = folder / "old.dump"
    old.write_bytes(b"x")
    stale = time.time() - 25 * 3600
    os.utime(old, (stale, stale))
    assert newest_backup_age_hours(folder) == pytest.approx(25, abs=0.1)
    result = runner.invoke(args=["backup-check", str(folder)])
    assert result.exit_code == 1 and "25.0 h old" in result.output
    (folder / "new.sqlite3").write_bytes(b"x")
    assert runner.invoke(args=["backup-check", str(folder)]).exit_code == 0
    assert runner.invoke(args=["backup-check", str(folder), "--max-age-hours", "0"]).exit_code


def test_backup_and_drill_commands(app, seeded, tmp_path):
    """SECURITY row 47: ``flask backup`` writes a file; ``flask backup-drill`` says equal."""
    runner = app.test_cli_runner()
    target = tmp_path / f"nightly{_suffix(seeded)}"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    result = runner.invoke(args=["backup-drill"])
    assert result.exit_code == 0, result.output
    assert "every table equal" in result.output
    assert AuditEvent.__tablename__ in result.output
