"""Operations: health endpoints and structured logs for running behind gunicorn.

``/healthz`` answers 200 while the process can serve (no dependency checked: a load
balancer must not take every web process out because the database restarted).
``/readyz`` answers 200 only when the database answers ``SELECT 1`` and, when ``REDIS_URL``
is set, Redis answers ``PING``; otherwise 503 with which part failed. Neither says more than
"ok"/"unavailable" per part: no versions, hosts or errors for an anonymous caller.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from ..extensions import db
from ..roles import public_view

bp = Blueprint("ops", __name__)

CHECK_TIMEOUT_S = 2.0


def _database_ok() -> bool:
    try:
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        db.session.rollback()
        current_app.logger.warning("readyz: database unavailable", extra={"event": "readyz"})
        return False


def _redis_ok(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis.from_url(
            url, socket_connect_timeout=CHECK_TIMEOUT_S, socket_timeout=CHECK_TIMEOUT_S
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (RedisError, OSError):
        current_app.logger.warning("readyz: redis unavailable", extra={"event": "readyz"})
        return False


@bp.get("/healthz")
@public_view
def healthz():
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
@public_view
def readyz():
    started = time.monotonic()
    checks = {"database": "ok" if _database_ok() else "unavailable"}
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        checks["redis"] = "ok" if _redis_ok(redis_url) else "unavailable"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify(
        status="ok" if ready else "unavailable",
        checks=checks,
        ms=round((time.monotonic() - started) * 1000, 1),
    )
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
