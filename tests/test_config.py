"""The factory and its configuration: production refusals, database URLs, limits (rows 3, 9)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach import create_app
from outreach.config import ConfigError, database_uri_from_env
from outreach.extensions import db

STRONG = secrets.token_hex(32)


@pytest.fixture
def clean_env(monkeypatch):
    """No configuration leaks in from the environment running the tests."""
    for key in ("SECRET_KEY", "JEMPUT_ENV", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def prod_config(tmp_path, **overrides):
    config = {
        "ENV_NAME": "production",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "SECRET_KEY": STRONG,
    }
    config.update(overrides)
    return config


@pytest.mark.parametrize(
    "key",
    [None, "", "dev", "secret", "x" * 16, b"0123456789abcdef", secrets.token_hex(8)],
    ids=["unset", "empty", "dev", "secret", "16-chars", "16-bytes", "short-hex"],
)
def test_production_refuses_weak_secret_key(tmp_path, clean_env, key):
    """Production mode refuses to start without a strong SECRET_KEY."""
    with pytest.raises(ConfigError):
        create_app(prod_config(tmp_path, SECRET_KEY=key))


def test_production_refuses_secret_key_missing_entirely(tmp_path, clean_env):
    """With no SECRET_KEY anywhere (JEMPUT_ENV=production), the app does not start."""
    clean_env.setenv("JEMPUT_ENV", "production")
    with pytest.raises(ConfigError):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"})


def test_production_refuses_debug(tmp_path, clean_env):
    """DEBUG cannot be switched on in production."""
    with pytest.raises(ConfigError):
        create_app(prod_config(tmp_path, DEBUG=True))


def test_production_starts_with_strong_key(tmp_path, clean_env):
    """A 32-byte random key starts the app with secure settings and DEBUG off."""
    app = create_app(prod_config(tmp_path))
    assert app.debug is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert app.config["SESSION_COOKIE_DOMAIN"] is None
    assert app.config["TESTING"] is False


def test_secret_key_from_environment(tmp_path, clean_env):
    """SECRET_KEY is read from the environment."""
    clean_env.setenv("SECRET_KEY", STRONG)
    config = prod_config(tmp_path)
    del config["SECRET_KEY"]
    assert create_app(config).config["SECRET_KEY"] == STRONG


def test_development_gets_a_random_key(tmp_path, clean_env):
    """Without a key, development mode makes a random per-process key (never a fixed one)."""
    uri = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    a = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    b = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    assert len(a.config["SECRET_KEY"]) >= 32
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]


def test_flask_is_patched():
    """Flask ≥ 3.1.1 and Werkzeug ≥ 3.1 are installed (CVE-2025-47278, CVE-2024-49767)."""
    from importlib.metadata import version

    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:3])

    assert parts(version("flask")) >= (3, 1, 1)
    assert parts(version("werkzeug")) >= (3, 1, 0)


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "postgresql://postgres@127.0.0.1:5432/test",
            "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        ),
        ("postgres://u:p@db/x", "postgresql+psycopg://u:p@db/x"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
    ],
)
def test_database_url_uses_psycopg3(url, expected):
    """PostgreSQL URLs are routed through the psycopg 3 driver."""
    assert database_uri_from_env(url) == expected


def test_database_url_from_environment(clean_env):
    """DATABASE_URL in the environment selects PostgreSQL through psycopg."""
    clean_env.setenv("DATABASE_URL", "postgresql://someone@127.0.0.1:5999/nowhere")
    app = create_app({"SECRET_KEY": STRONG})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg"


def test_default_database_is_sqlite_in_instance(clean_env):
    """Without DATABASE_URL the database is a SQLite file in the instance folder."""
    app = create_app({"SECRET_KEY": STRONG})
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///") and uri.endswith(".sqlite3")
    assert app.instance_path in uri


def test_sqlite_pragmas_on_file_database(tmp_path, clean_env):
    """A file database runs in WAL mode with foreign keys on and a busy timeout."""
    app = create_app(
        {"SECRET_KEY": STRONG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"}
    )
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert (
                conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                == (app.config["SQLITE_BUSY_TIMEOUT_MS"])
            )
        db.engine.dispose()


def test_sqlite_foreign_keys_enforced(tmp_path, clean_env):
    """A row pointing at a missing parent is refused on SQLite."""
    app = create_app(
        {"SECRET_KEY": STRONG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fk.sqlite3'}"}
    )
    with app.app_context():
        db.create_all()
        from outreach.models import Team

        db.session.add(Team(office_id=999, name="Yatim"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.engine.dispose()


def test_safe_defaults():
    """Upload limits, cookie flags and session lifetime have safe defaults."""
    from outreach.config import DEFAULTS

    assert DEFAULTS["MAX_CONTENT_LENGTH"] == 8 * 1024 * 1024
    assert DEFAULTS["MAX_FORM_MEMORY_SIZE"] <= 1024 * 1024
    assert DEFAULTS["SESSION_COOKIE_HTTPONLY"] is True
    assert DEFAULTS["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert DEFAULTS["PERMANENT_SESSION_LIFETIME"] <= timedelta(hours=12)
    assert DEFAULTS["WTF_CSRF_ENABLED"] is True
