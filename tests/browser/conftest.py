"""Shared pieces of the browser tests: the app served on 127.0.0.1 and Debian's Chromium.

``browser_app(path, **overrides)`` builds the app as the browser tests want it (a SQLite file,
CSRF on, no rate limits, no map tiles: there is no internet here); ``serve(app)`` runs it in a
background thread (werkzeug ``make_server``) and yields its base URL; ``live_site(path, seed)``
does both with the data ``seed()`` writes; the ``browser`` fixture launches headless Chromium
once per test module (``chromium(path)`` for a test outside tests/browser), skipped with a
message where it is absent. ``open_page`` opens a page
that collects script errors and ``log_in`` signs in through the login form.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from outreach import create_app
from outreach.extensions import db
from tests.factories import PASSWORD

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


@contextmanager
def live_site(
    database_path: Any, seed: Callable[[], Any] | None = None, **overrides: Any
) -> Iterator[tuple[str, Flask, Any]]:
    """``browser_app`` with the data ``seed()`` writes in its app context (committed), served
    on 127.0.0.1; yield the base URL, the app and what ``seed`` returned."""
    app = browser_app(database_path, **overrides)
    with app.app_context():
        seeded = seed() if seed is not None else None
        db.session.commit()
        db.session.remove()
    with serve(app) as base:
        yield base, app, seeded


def open_page(browser, viewport: dict, *, console: bool = False, **context_options: Any):
    """A new browser context and page; the returned list collects the page's script errors
    (and, with ``console``, the errors it logs to the console)."""
    context = browser.new_context(viewport=viewport, **context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    if console:
        page.on(
            "console",
            lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
    return context, page, errors


def log_in(page, base: str, username: str, *, lang: str | None = None) -> None:
    """Sign in through the login form (password ``PASSWORD``; ``lang`` picks the session's
    language) and let the next page settle."""
    page.goto(base + "/login" + (f"?lang={lang}" if lang else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action$='/login'] [type=submit]")
    page.wait_for_load_state("networkidle")


@contextmanager
def chromium(chromium_path: str) -> Iterator[Any]:
    """Launch headless Debian Chromium driven by Playwright; close it afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless Debian Chromium (one per test module)."""
    with chromium(chromium_path) as instance:
        yield instance
