"""Backups, restores and the restore drill (SQLite and PostgreSQL).

A backup nobody has restored is a hope, not a backup. This module makes three things one
command each:

``flask backup PATH``
    SQLite: the online backup API (:meth:`sqlite3.Connection.backup`), which copies a
    consistent snapshot while the app keeps writing. PostgreSQL: ``pg_dump --format=custom``.
    The file is written next to ``PATH`` and renamed into place, so a crash never leaves a
    half-written backup under the final name.
``flask backup-drill``
    Backs up the configured database, restores the backup into a fresh scratch database
    (a temp file, or ``CREATE DATABASE`` on the same PostgreSQL server), compares every
    table row by row with the source, prints the counts and drops the scratch database.
    Exit status 1 on any difference.
``flask backup-check DIR``
    Exit status 1 when the newest backup in ``DIR`` is older than ``--max-age-hours``
    (24 by default): for the monitoring that must notice a backup job that stopped.

The comparison reads both databases with SQLAlchemy, table by table in primary-key order,
so it checks what a restore is for: the same rows with the same values, not the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.engine import URL, make_url

BACKUP_SUFFIXES = (".sqlite3", ".dump")
"""File endings ``backup-check`` looks at (SQLite copies and ``pg_dump`` archives)."""


class BackupError(RuntimeError):
    """A backup, restore or comparison could not be done (the message says why)."""


# ------------------------------------------------------------------------------ urls


def _url(uri: str | URL) -> URL:
    return uri if isinstance(uri, URL) else make_url(uri)


def _libpq(url: URL) -> str:
    """A ``postgresql://`` URL the PostgreSQL client programs understand."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _run(args: list[str]) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError as exc:
        raise BackupError(f"{args[0]} is not installed (PostgreSQL client programs)") from exc
    if done.returncode != 0:
        # the client's message names the problem; it holds no row data
        raise BackupError(f"{args[0]} failed: {done.stderr.strip()[:500]}")


# ---------------------------------------------------------------------------- backup


def backup(uri: str | URL, dest: Path) -> Path:
    """Write a backup of the database at ``uri`` to ``dest`` (atomically) and return it."""
    url = _url(uri)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")
    try:
        if url.get_backend_name() == "sqlite":
            src = sqlite3.connect(_sqlite_path(url))
            try:
                dst = sqlite3.connect(tmp)
                try:
                    # pages=0: one step, a consistent snapshot even while the app writes
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
        elif url.get_backend_name() == "postgresql":
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={tmp}",
                    f"--dbname={_libpq(url)}",
                ]
            )
        else:
            raise BackupError(f"no backup method for {url.get_backend_name()!r} databases")
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest


def _is_empty(engine: sa.Engine) -> bool:
    return not sa.inspect(engine).get_table_names()


def restore(backup_file: Path, target_uri: str | URL) -> None:
    """Restore ``backup_file`` into the empty database at ``target_uri``.

    Refuses a target that already has tables: a restore never overwrites live data.
    """
    url = _url(target_uri)
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise BackupError(f"no backup file at {backup_file}")
    engine = sa.create_engine(url)
    try:
        if not _is_empty(engine):
            raise BackupError("the target database is not empty; restore into a new one")
    finally:
        engine.dispose()
    if url.get_backend_name() == "sqlite":
        src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(_sqlite_path(url))
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    elif url.get_backend_name() == "postgresql":
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={_libpq(url)}",
                str(backup_file),
            ]
        )
    else:
        raise BackupError(f"no restore method for {url.get_backend_name()!r} databases")


# --------------------------------------------------------------------------- compare


@dataclass
class TableReport:
    name: str
    rows_source: int
    rows_copy: int
    first_difference: str | None = None


@dataclass
class Comparison:
    tables: list[TableReport] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Tables of the source that the copy lacks (or the other way round)."""

    @property
    def equal(self) -> bool:
        return not self.missing and all(
            t.first_difference is None and t.rows_source == t.rows_copy for t in self.tables
        )


def _ordered_rows(conn: sa.Connection, table: sa.Table) -> Iterator[tuple]:
    keys = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(stream_results=True).execute(sa.select(table).order_by(*keys))
    for row in result:
        yield tuple(row)


def _key(table: sa.Table, row: tuple) -> str:
    cols = list(table.columns)
    pk = [c.name for c in table.primary_key.columns]
    if not pk:
        # never print row values (they may be personal data): a digest tells rows apart
        return "row " + hashlib.sha256(repr(row).encode()).hexdigest()[:12]
    values = dict(zip((c.name for c in cols), row, strict=True))
    return ", ".join(f"{name}={values[name]!r}" for name in pk)


def compare(source_uri: str | URL, copy_uri: str | URL) -> Comparison:
    """Compare every table of two databases row by row (same dialect on both sides).

    Rows are read in primary-key order; the report names a table's first differing row by
    its key only, never by its values.
    """
    out = Comparison()
    engines = [sa.create_engine(_url(source_uri)), sa.create_engine(_url(copy_uri))]
    try:
        metas = [sa.MetaData(), sa.MetaData()]
        for meta, engine in zip(metas, engines, strict=True):
            meta.reflect(bind=engine)
        names_a, names_b = set(metas[0].tables), set(metas[1].tables)
        out.missing = sorted(names_a ^ names_b)
        with engines[0].connect() as ca, engines[1].connect() as cb:
            for name in sorted(names_a & names_b):
                ta, tb = metas[0].tables[name], metas[1].tables[name]
                report = TableReport(name, 0, 0)
                rows_a, rows_b = _ordered_rows(ca, ta), _ordered_rows(cb, tb)
                sentinel = object()
                while True:
                    ra = next(rows_a, sentinel)
                    rb = next(rows_b, sentinel)
                    if ra is sentinel and rb is sentinel:
                        break
                    if ra is not sentinel:
                        report.rows_source += 1
                    if rb is not sentinel:
                        report.rows_copy += 1
                    if report.first_difference is None and ra != rb:
                        if ra is sentinel:
                            report.first_difference = f"extra row in the copy: {_key(tb, rb)}"
                        elif rb is sentinel:
                            report.first_difference = f"row missing in the copy: {_key(ta, ra)}"
                        else:
                            report.first_difference = f"row differs: {_key(ta, ra)}"
                out.tables.append(report)
    finally:
        for engine in engines:
            engine.dispose()
    return out


# ----------------------------------------------------------------------------- drill


@dataclass
class DrillReport:
    backup_s: float
    restore_s: float
    compare_s: float
    backup_bytes: int
    comparison: Comparison


@contextlib.contextmanager
def scratch_database(uri: str | URL) -> Iterator[URL]:
    """A fresh, empty database beside ``uri``'s, dropped afterwards."""
    url = _url(uri)
    if url.get_backend_name() == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="jb-restore-"))
        try:
            yield url.set(database=str(folder / "restored.sqlite3"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if url.get_backend_name() != "postgresql":
        raise BackupError(f"no scratch database for {url.get_backend_name()!r}")
    name = f"jb_restore_{secrets.token_hex(6)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def drill(uri: str | URL, workdir: Path | None = None) -> DrillReport:
    """Back up ``uri``, restore into a scratch database, compare every table."""
    url = _url(uri)
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="jb-backup-"))
    suffix = ".sqlite3" if url.get_backend_name() == "sqlite" else ".dump"
    try:
        t0 = time.perf_counter()
        file = backup(url, folder / f"drill{suffix}")
        t1 = time.perf_counter()
        with scratch_database(url) as target:
            restore(file, target)
            t2 = time.perf_counter()
            comparison = compare(url, target)
            t3 = time.perf_counter()
        return DrillReport(t1 - t0, t2 - t1, t3 - t2, file.stat().st_size, comparison)
    finally:
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


def newest_backup_age_hours(folder: Path, now: float | None = None) -> float | None:
    """Age in hours of the newest backup file in ``folder`` (``None``: there is none)."""
    files = [p for p in Path(folder).glob("*") if p.is_file() and p.suffix in BACKUP_SUFFIXES]
    if not files:
        return None
    newest = max(p.stat().st_mtime for p in files)
    return ((time.time() if now is None else now) - newest) / 3600


# ------------------------------------------------------------------------------- cli


def _configured_url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Back up the app's database to PATH (SQLite copy or pg_dump archive)."""
    t0 = time.perf_counter()
    try:
        file = backup(_configured_url(), path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    size = file.stat().st_size
    click.echo(f"Backup written: {file} ({size:,} bytes, {time.perf_counter() - t0:.1f} s)")


@click.command("backup-drill")
def backup_drill_command() -> None:
    """Back up, restore into a scratch database and compare every table row by row."""
    try:
        report = drill(_configured_url())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for t in report.comparison.tables:
        mark = "ok" if t.first_difference is None and t.rows_source == t.rows_copy else "DIFF"
        extra = f"  {t.first_difference}" if t.first_difference else ""
        click.echo(f"  {t.name:32} {t.rows_source:>9,} / {t.rows_copy:>9,}  {mark}{extra}")
    for name in report.comparison.missing:
        click.echo(f"  {name:32} missing on one side  DIFF")
    click.echo(
        f"backup {report.backup_s:.2f} s ({report.backup_bytes:,} bytes), restore "
        f"{report.restore_s:.2f} s, compare {report.compare_s:.2f} s: "
        + ("every table equal" if report.comparison.equal else "DIFFERENCES")
    )
    if not report.comparison.equal:
        raise SystemExit(1)


@click.command("backup-check")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--max-age-hours", default=24.0, show_default=True, type=float)
def backup_check_command(folder: Path, max_age_hours: float) -> None:
    """Exit 1 when the newest backup in FOLDER is missing or older than the limit."""
    age = newest_backup_age_hours(folder)
    if age is None:
        click.echo(f"No backup in {folder}.", err=True)
        raise SystemExit(1)
    if age > max_age_hours:
        click.echo(f"Newest backup is {age:.1f} h old (limit {max_age_hours:g} h).", err=True)
        raise SystemExit(1)
    click.echo(f"Newest backup is {age:.1f} h old.")


def register(app: Flask) -> None:
    for command in (backup_command, backup_drill_command, backup_check_command):
        app.cli.add_command(command)
