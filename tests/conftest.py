"""Shared fixtures: an app per test on SQLite (a temp file) or on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import os
import shutil

import pytest
import sqlalchemy as sa
from flask import g, request_started

from outreach import create_app
from outreach.extensions import db

PG_URL = os.environ.get("DATABASE_URL")


def _test_config(tmp_path) -> dict:
    uri = PG_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}"
    if PG_URL:
        from outreach.config import database_uri_from_env

        uri = database_uri_from_env(PG_URL)
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "MAP_TILES_ENABLED": True,
        "SERVER_NAME": "localhost",
        # Plans are built on fixed dates (tests/factories.monday() = 2026-12-07): the planning
        # clock stays before them, so these tests do not start failing once the date passes.
        "PLANNING_NOW": "2026-12-01T00:00:00+07:00",
    }


_pg_schema_ready = False


def _reset_database() -> None:
    global _pg_schema_ready
    if db.engine.dialect.name == "postgresql":
        if not _pg_schema_ready:
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
            db.create_all()
            _pg_schema_ready = True
        else:
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        db.create_all()


@pytest.fixture
def app_config(tmp_path) -> dict:
    """Settings for the test app; tests may modify them before asking for ``app``."""
    return _test_config(tmp_path)


@pytest.fixture
def app(app_config):
    """A fresh app with an empty schema."""
    application = create_app(app_config)
    with application.app_context():
        _reset_database()
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_g_per_request(request):
    """Start each test-client request with an empty ``g``, as in production.

    The ``app`` fixture keeps one application context pushed for the whole test (so factories
    can use ``db.session``), and Flask reuses a pushed context for test-client requests. Without
    this, ``g`` (Flask-Login's loaded user, the CSP nonce) would leak from one request into the
    next and a revoked session could look alive.
    """
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")

    def _clear(sender, **_extra):
        g._get_current_object().__dict__.clear()

    request_started.connect(_clear, app)
    yield
    request_started.disconnect(_clear, app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_app(app, app_config):
    """An app with CSRF on, sharing the database ``app`` prepared."""
    app_config["WTF_CSRF_ENABLED"] = True
    application = create_app(app_config)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium for Playwright tests; skip with a clear message where it is absent."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return path
