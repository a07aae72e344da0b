"""Shared pieces of the browser tests: the app served on 127.0.0.1 and Debian's Chromium.

``browser_app(path, **overrides)`` builds the app as the browser tests want it (a SQLite file,
CSRF on, no rate limits, no map tiles: there is no internet here); ``serve(app)`` runs it in a
background thread (werkzeug ``make_server``) and yields its base URL; the ``browser`` fixture
launches headless Chromium once per test module (skipped with a message where it is absent).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from outreach import create_app
from outreach.extensions import db

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def browser_app(database_path: Any, **overrides: Any) -> Flask:
    """The app on a SQLite file, CSRF on, no rate limits, no tiles; its schema created."""
    app = create_app(
        {
            "SECRET_KEY": "browser-test-secret-key-0123456789abcdef0123456789",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
            "MAP_TILES_ENABLED": False,
            "PLANNING_NOW": "2026-12-01T00:00:00+07:00",  # see tests/conftest.py
            **overrides,
        }
    )
    with app.app_context():
        db.create_all()
    return app


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yield the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless Debian Chromium driven by Playwright (one per test module)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()
