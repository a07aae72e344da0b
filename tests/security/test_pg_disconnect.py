"""PostgreSQL connections killed between requests (a restart, a failover): the next request
still works, because the engine pings pooled connections before use (issue 12).

Runs only against PostgreSQL (CI's run with ``DATABASE_URL``); on SQLite it is skipped.
"""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import NullPool

from outreach.extensions import db
from outreach.models import Role
from tests.factories import login, make_hotspot, make_office, make_user

pytestmark = [
    pytest.mark.pg,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL"),
        reason="needs PostgreSQL: set DATABASE_URL (CI's PostgreSQL run); SQLite has no server "
        "connections to kill",
    ),
]


def test_next_request_succeeds_after_the_apps_connections_are_killed(app, client):
    """pg_terminate_backend on every connection of the app's pool between two requests: the
    second request answers 200 on a new connection (SECURITY row 44)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping") is True
    office = make_office()
    make_hotspot(office, name="SMA Negeri 3 Medan")
    user = make_user(Role.COORDINATOR, office_id=office.id)
    login(client, user)
    db.session.commit()
    db.session.close()

    backends: list[int] = []

    def on_connect(dbapi_connection, _record):  # noqa: ANN001
        backends.append(dbapi_connection.info.backend_pid)

    db.engine.dispose()  # every connection from here on is recorded
    event.listen(db.engine, "connect", on_connect)
    try:
        first = client.get("/coord/hotspots")
        assert first.status_code == 200 and "SMA Negeri 3 Medan" in first.get_data(as_text=True)
        db.session.close()
        victims = sorted(set(backends))
        assert victims
        # Autocommit: pg_stat_activity is a snapshot per transaction, so each poll needs its own.
        killer = sa.create_engine(db.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with killer.connect() as conn:
                for pid in victims:
                    conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                deadline = time.monotonic() + 10
                while conn.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                    {"pids": victims},
                ).scalar():
                    assert time.monotonic() < deadline, "killed backends did not go away"
                    time.sleep(0.1)
        finally:
            killer.dispose()

        second = client.get("/coord/hotspots")
        assert second.status_code == 200, second.get_data(as_text=True)[:500]
        assert "SMA Negeri 3 Medan" in second.get_data(as_text=True)
        assert set(backends) - set(victims), "the second request did not reconnect"
    finally:
        event.remove(db.engine, "connect", on_connect)
