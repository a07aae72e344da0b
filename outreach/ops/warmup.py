"""Warm a preloaded app before gunicorn forks its workers (``gunicorn.conf.py``: ``when_ready``).

With ``preload_app`` the app is built once in the master and every worker is a fork of it, so
whatever the master has loaded, every worker starts with. Without this, each worker pays on
its first requests for what is the same in every process: compiling each Jinja template it
renders (the plan review page and its layout take ~100 ms), reading the translation catalogues
and Babel's locale data, configuring the ORM mappers, and icalendar's VTIMEZONE of the office
zones (~10 ms each), and the login's stand-in scrypt hash for unknown names (~70 ms, see
``outreach.auth.views._dummy_hash``: computed on the first unknown name, that attempt would
take twice as long as one with a real account's name). With four workers, and workers
recycled by ``max_requests``, those first requests are a visible share of the slow ones on
pages that are opened less often (the plan review, the dashboard, the login page).

Nothing here touches the database, Redis or the network, or writes anything: templates and
catalogues are read from disk, the rest is computed.
"""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa
from flask import Flask

log = logging.getLogger(__name__)

# Indonesia's zones (WIB, WITA, WIT, and Pontianak's WIB): offices pick one of these.
OFFICE_ZONES = ("Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")


def warm_up(app: Flask) -> None:
    """Load in this process what every request-serving process needs anyway (no I/O but disk).

    Safe to call more than once; a failure is logged and ignored (the worker then simply
    loads the same things on its first requests, as it would without warming).
    """
    try:
        _warm(app)
    except Exception:  # noqa: BLE001 - warming is an optimisation, never a reason not to start
        log.warning("warm-up skipped", exc_info=True, extra={"event": "warmup"})


def _warm(app: Flask) -> None:
    from flask_babel import format_date, format_decimal, get_translations

    from ..auth.views import _dummy_hash
    from ..exporting.ical import _vtimezone

    sa.orm.configure_mappers()
    env = app.jinja_env
    for name in env.list_templates(filter_func=lambda n: n.endswith((".html", ".txt"))):
        env.get_template(name)
    with app.app_context():
        for code in app.config.get("LANGUAGES") or ():
            # a bare request context in the language: catalogues and CLDR data get cached
            with app.test_request_context(f"/?lang={code}"):
                get_translations()
                format_date(date(2000, 1, 1), "full")
                format_date(date(2000, 1, 1), "EEE, d MMM")
                format_decimal(1234.5)
    zones = {*OFFICE_ZONES, str(app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Jakarta")}
    for zone in sorted(zones):
        _vtimezone(zone)
    _dummy_hash()
