"""Production serving (scale-out issue, item 2 and 3): health endpoints, JSON logs without
personal data, the gunicorn configuration, and sessions shared by separate gunicorn
processes (logout on one revokes the cookie on the other)."""

from __future__ import annotations

import json
import logging
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from outreach import create_app
from outreach.extensions import db
from outreach.ops.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[1]
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def test_healthz_answers_without_touching_dependencies(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_checks_the_database(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["checks"] == {"database": "ok"}


def test_readyz_is_503_quickly_when_redis_is_down(app_config):
    """SECURITY row 45: a closed Redis port makes the process not ready, fast, not hung."""
    app_config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app = create_app(app_config)
    with app.app_context():
        from tests.conftest import _reset_database

        _reset_database()
        started = time.monotonic()
        response = app.test_client().get("/readyz")
        db.session.remove()
        db.engine.dispose()
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "redis": "unavailable"}


def test_readyz_is_503_when_the_database_is_unreachable(app_config, tmp_path):
    app_config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'missing-dir' / 'x.sqlite3'}"
    app = create_app(app_config)
    response = app.test_client().get("/readyz")
    with app.app_context():
        db.engine.dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == "unavailable"
    assert "missing-dir" not in response.get_data(as_text=True)  # no internals exposed


def _record(msg, *args, exc_info=None, **extra):
    record = logging.LogRecord("outreach.test", logging.ERROR, __file__, 1, msg, args, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_log_lines_keep_allowed_fields_and_drop_the_rest(app):
    """SECURITY row 50: only allow-listed extras are written; an exception's message (which
    may quote input) and the query string never reach the line."""
    try:
        raise ValueError("Ibu ZZNAMEZZ, +6281200000000")
    except ValueError:
        exc_info = sys.exc_info()
    record = _record(
        "solve failed for job %s", "j1", exc_info=exc_info, job_id="j1", phone="+6281200000000"
    )
    with app.test_request_context("/coord/plans/3?name=ZZNAMEZZ", method="POST"):
        line = JsonFormatter().format(record)
    data = json.loads(line)
    assert data["msg"] == "solve failed for job j1"
    assert data["job_id"] == "j1" and data["level"] == "error"
    assert data["path"] == "/coord/plans/3" and data["method"] == "POST"
    assert data["exc_type"] == "ValueError" and data["stack"]
    assert "phone" not in data
    assert "ZZNAMEZZ" not in line and "6281200000000" not in line


def test_gunicorn_config_logs_no_client_address_or_query():
    """SECURITY row 50: the access line has the path without its query string and no client
    address, referrer or user agent; it is valid JSON once gunicorn fills it in."""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    fmt = conf["access_log_format"]
    for atom in ("%(h)s", "%(q)s", "%(r)s", "%(a)s", "%(f)s", "%(u)s"):
        assert atom not in fmt
    sample = fmt % {"m": "GET", "U": "/stop/1", "s": "200", "B": "512", "M": "12"}
    assert json.loads(sample) == {
        "event": "access",
        "method": "GET",
        "path": "/stop/1",
        "status": 200,
        "bytes": "512",
        "duration_ms": 12,
    }
    assert conf["workers"] >= 1 and conf["timeout"] > 0 and conf["preload_app"] is True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_gunicorn(env: dict, port: int, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "outreach:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def _wait_ready(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start in 30 s")


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs on its own SQLite file")
def test_logout_on_one_gunicorn_revokes_the_cookie_on_another(tmp_path):
    """SECURITY row 5, across processes: two gunicorn servers (2 workers each, as two
    machines would run them) share one database; a cookie copied before logout on one is
    refused by the other."""
    db_file = tmp_path / "shared.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_file}",
        "SECRET_KEY": "gunicorn-test-secret-key-0123456789abcdef0123",
        "LOG_FORMAT": "json",
        "JEMPUT_ENV": "development",
    }
    env.pop("REDIS_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "outreach"]
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    seeded = subprocess.run(
        [*flask, "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
    ).stdout.decode()
    password = next(
        line.split()[2] for line in seeded.splitlines() if line.split()[1:2] == ["koordinator"]
    )
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_start_gunicorn(env, p, log) for p, log in zip(ports, logs, strict=True)]
    try:
        for port, proc, log in zip(ports, procs, logs, strict=True):
            _wait_ready(port, proc, log)
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        s = requests.Session()
        token = CSRF.search(s.get(f"{a}/login", timeout=10).text).group(1)
        login = s.post(
            f"{a}/login",
            data={"username": "koordinator", "password": password, "csrf_token": token},
            timeout=10,
            allow_redirects=False,
        )
        assert login.status_code in (302, 303), login.text[:500]
        copied = dict(s.cookies)
        assert requests.get(f"{b}/coord/", cookies=copied, timeout=10).status_code == 200
        token = CSRF.search(s.get(f"{a}/coord/", timeout=10).text).group(1)
        assert s.post(f"{a}/logout", data={"csrf_token": token}, timeout=10).ok
        after = requests.get(f"{b}/coord/", cookies=copied, timeout=10, allow_redirects=False)
        assert after.status_code in (302, 401), after.status_code
        assert "/login" in after.headers.get("Location", "/login")
        lines = [ln for log in logs for ln in log.read_text(errors="replace").splitlines()]
        records = [json.loads(ln) for ln in lines if ln.startswith("{")]
        assert records and len(records) == len(lines)  # every line is one JSON object
        access = [r for r in records if r.get("event") == "access"]
        assert {"/healthz", "/login", "/logout", "/coord/"} <= {r["path"] for r in access}
        assert all(r["status"] in (200, 302, 303) for r in access)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def test_gunicorn_warms_the_preloaded_app_without_the_database(app):
    """Before forking, the master compiles the templates and loads the catalogues (every
    worker starts warm), reads nothing from the database, and freezes the loaded objects out
    of the garbage collector's reach. The login's stand-in hash for unknown names is made
    there too, so no worker's first unknown name takes longer than a known one."""
    import gc

    import sqlalchemy as sa

    from outreach.auth.views import _dummy_hash

    _dummy_hash.cache_clear()
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    statements: list[str] = []

    def listen(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        statements.append(statement)

    app.jinja_env.cache.clear()
    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        conf["when_ready"](type("Server", (), {"app": type("App", (), {"callable": app})})())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert statements == []
    names = {key[1] for key in app.jinja_env.cache.keys()}
    assert {"base.html", "coordinator/plans/review.html", "public/schedule.html"} <= names
    assert _dummy_hash.cache_info().currsize == 1
