"""Web-test isolation: each request starts with an empty ``g``, as in production.

The ``app`` fixture keeps one application context pushed for the whole test (so factories can
use ``db.session``), and Flask reuses a pushed context for test-client requests instead of
pushing a new one. Without this, ``g`` (Flask-Login's loaded user, the CSP nonce) would leak from
one request into the next and a revoked session could look alive.
"""

from __future__ import annotations

import pytest
from flask import g, request_started


@pytest.fixture(autouse=True)
def _fresh_g_per_request(request):
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")

    def _clear(sender, **_extra):
        g._get_current_object().__dict__.clear()

    request_started.connect(_clear, app)
    yield
    request_started.disconnect(_clear, app)
