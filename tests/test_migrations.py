"""Migrations build the models' schema from an empty database (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import os
import secrets

import pytest
import sqlalchemy as sa

from outreach import create_app
from outreach.config import database_uri_from_env
from outreach.extensions import db

PG_URL = os.environ.get("DATABASE_URL")


@pytest.fixture(autouse=True)
def _keep_logging():
    """Alembic's env.py calls logging.fileConfig, which disables existing loggers; undo it."""
    manager = logging.Logger.manager
    disabled = {
        name: lg.disabled for name, lg in manager.loggerDict.items() if hasattr(lg, "disabled")
    }
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for name, lg in manager.loggerDict.items():
        if hasattr(lg, "disabled"):
            lg.disabled = disabled.get(name, False)
    root.handlers[:] = handlers
    root.setLevel(level)


def migrate_and_compare(uri: str, schema: str | None = None) -> None:
    """Run ``flask init-db`` on ``uri`` and compare the result with the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    app = create_app({"SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        inspector = sa.inspect(db.engine)
        tables = set(inspector.get_table_names(schema=schema)) - {"alembic_version"}
        assert tables == set(db.metadata.tables)
        for table in db.metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name, schema=schema)}
            assert columns == {c.name for c in table.columns}, table.name
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() is not None
            diff = compare_metadata(context, db.metadata)
        # Running it again is a no-op.
        assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
        db.engine.dispose()
    assert diff == []


def test_migrations_from_empty_sqlite(tmp_path):
    """init-db on a fresh SQLite file creates exactly the models' tables and columns."""
    migrate_and_compare(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")


@pytest.mark.pg
def test_migrations_from_empty_postgresql():
    """init-db on an empty PostgreSQL schema creates exactly the models' tables and columns."""
    if not PG_URL:
        pytest.skip("DATABASE_URL is not set: PostgreSQL migration test runs in the PG pass")
    base = database_uri_from_env(PG_URL)
    schema = f"migtest_{secrets.token_hex(4)}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    # A private schema via search_path: the shared "public" schema the suite uses stays intact.
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        migrate_and_compare(url.render_as_string(hide_password=False), schema=schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
