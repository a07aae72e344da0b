"""The factory and its configuration: production refusals, database URLs, limits, map tiles and
the rate-limit storage (SECURITY rows 3, 9, 18, 31, 33)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach import create_app
from outreach.config import ConfigError, database_uri_from_env, map_tile_origin
from outreach.extensions import db

STRONG = secrets.token_hex(32)


@pytest.fixture
def clean_env(monkeypatch):
    """No configuration leaks in from the environment running the tests."""
    for key in (
        "SECRET_KEY",
        "JEMPUT_ENV",
        "DATABASE_URL",
        "REDIS_URL",
        "RATELIMIT_STORAGE_URI",
        "MAP_TILE_URL",
        "MAP_TILE_ATTRIBUTION",
        "MAP_TILES_ENABLED",
    ):
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
    """Production mode refuses to start without a strong SECRET_KEY (SECURITY row 9)."""
    with pytest.raises(ConfigError):
        create_app(prod_config(tmp_path, SECRET_KEY=key))


def test_production_refuses_secret_key_missing_entirely(tmp_path, clean_env):
    """With no SECRET_KEY anywhere (JEMPUT_ENV=production), the app does not start
    (SECURITY row 9)."""
    clean_env.setenv("JEMPUT_ENV", "production")
    with pytest.raises(ConfigError):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"})


def test_production_refuses_debug(tmp_path, clean_env):
    """DEBUG cannot be switched on in production (SECURITY row 10)."""
    with pytest.raises(ConfigError):
        create_app(prod_config(tmp_path, DEBUG=True))


def test_production_starts_with_strong_key(tmp_path, clean_env):
    """A 32-byte random key starts the app with secure settings and DEBUG off
    (SECURITY rows 7, 9, 10)."""
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
    """Without a key, development mode makes a random per-process key, never a fixed one
    (SECURITY row 9)."""
    uri = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    a = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    b = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    assert len(a.config["SECRET_KEY"]) >= 32
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]


def test_flask_is_patched():
    """Flask ≥ 3.1.1 and Werkzeug ≥ 3.1 are installed (CVE-2025-47278, CVE-2024-49767;
    SECURITY rows 9, 18)."""
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
    """A file database runs in WAL mode with foreign keys on and a busy timeout
    (SECURITY row 35)."""
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
    """Upload limits, cookie flags and session lifetime have safe defaults
    (SECURITY rows 7, 8, 18)."""
    from outreach.config import DEFAULTS

    assert DEFAULTS["MAX_CONTENT_LENGTH"] == 8 * 1024 * 1024
    assert DEFAULTS["MAX_FORM_MEMORY_SIZE"] <= 1024 * 1024
    assert DEFAULTS["SESSION_COOKIE_HTTPONLY"] is True
    assert DEFAULTS["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert DEFAULTS["PERMANENT_SESSION_LIFETIME"] <= timedelta(hours=12)
    assert DEFAULTS["WTF_CSRF_ENABLED"] is True


# --- map tiles (SECURITY row 31) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
        ("https://tile-{s}.example.go.id/{z}/{x}/{y}.png", "https://*.example.go.id"),
        ("https://tiles.example.go.id/{z}/{x}/{y}.png", "https://tiles.example.go.id"),
        (
            "https://tiles.example.go.id:8443/t/{z}/{x}/{y}.png?k=1",
            "https://tiles.example.go.id:8443",
        ),
        ("http://127.0.0.1:8081/{z}/{x}/{y}.png", "http://127.0.0.1:8081"),
        ("HTTPS://Tiles.Example.GO.ID/{z}/{x}/{y}.png", "https://tiles.example.go.id"),
    ],
)
def test_tile_origin_for_the_csp(url, origin):
    """The CSP source of a tile URL is its origin, {s} a wildcard subdomain (SECURITY row 31)."""
    assert map_tile_origin(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "",
        "tile.openstreetmap.org/{z}/{x}/{y}.png",
        "http://tile.openstreetmap.org/{z}/{x}/{y}.png",  # plain http off this machine
        "https://tile.openstreetmap.org/{z}/{x}.png",  # no {y}
        "ftp://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "https://{s}/{z}/{x}/{y}.png",  # a wildcard for every host
        "https://{s}.org/{z}/{x}/{y}.png",  # a wildcard for a whole top-level domain
        "https://a.{s}.example.org/{z}/{x}/{y}.png",  # {s} past the first label
        "https://user:pw@tiles.example.go.id/{z}/{x}/{y}.png",
        "https://tiles.example.go.id:99999/{z}/{x}/{y}.png",
        "https://tiles example.go.id/{z}/{x}/{y}.png",
    ],
)
def test_unusable_tile_urls_stop_the_app(tmp_path, clean_env, url):
    """A tile URL that is not https (or local http) with {z}/{x}/{y} is refused at startup with
    a ConfigError naming MAP_TILE_URL (SECURITY row 31)."""
    with pytest.raises(ConfigError, match="MAP_TILE_URL"):
        create_app(
            {
                "SECRET_KEY": STRONG,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 't.sqlite3'}",
                "MAP_TILE_URL": url,
            }
        )


@pytest.mark.parametrize("attribution", ["", "   ", None])
def test_tiles_need_an_attribution(tmp_path, clean_env, attribution):
    """Tiles without an attribution are refused at startup (tile terms; Folium would fail on
    every map) (SECURITY row 31)."""
    with pytest.raises(ConfigError, match="MAP_TILE_ATTRIBUTION"):
        create_app(
            {
                "SECRET_KEY": STRONG,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 't.sqlite3'}",
                "MAP_TILE_ATTRIBUTION": attribution,
            }
        )


def test_an_unused_tile_url_is_not_checked(tmp_path, clean_env):
    """With tiles switched off the tile URL is not used, so it cannot stop the app."""
    app = create_app(
        {
            "SECRET_KEY": STRONG,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 't.sqlite3'}",
            "MAP_TILE_URL": "not a url",
            "MAP_TILES_ENABLED": False,
        }
    )
    assert app.config["MAP_TILES_ENABLED"] is False


def test_tile_settings_from_the_environment(tmp_path, clean_env):
    """MAP_TILE_URL, MAP_TILE_ATTRIBUTION and MAP_TILES_ENABLED are read from the environment
    (SECURITY row 31)."""
    clean_env.setenv("MAP_TILE_URL", "https://tiles.example.go.id/{z}/{x}/{y}.png")
    clean_env.setenv("MAP_TILE_ATTRIBUTION", "Peta: Diskominfo Kota Medan")
    clean_env.setenv("MAP_TILES_ENABLED", " Off ")
    app = create_app(
        {"SECRET_KEY": STRONG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 't.sqlite3'}"}
    )
    assert app.config["MAP_TILE_URL"] == "https://tiles.example.go.id/{z}/{x}/{y}.png"
    assert app.config["MAP_TILE_ATTRIBUTION"] == "Peta: Diskominfo Kota Medan"
    assert app.config["MAP_TILES_ENABLED"] is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_map_tiles_enabled_switch_words(tmp_path, clean_env, value, expected):
    """MAP_TILES_ENABLED takes the usual switch words, in any case."""
    clean_env.setenv("MAP_TILES_ENABLED", value)
    app = create_app(
        {"SECRET_KEY": STRONG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 't.sqlite3'}"}
    )
    assert app.config["MAP_TILES_ENABLED"] is expected


@pytest.mark.parametrize("value", ["maybe", "2", "enabled", "ya"])
def test_map_tiles_enabled_refuses_other_words(tmp_path, clean_env, value):
    """Anything else is a ConfigError, not silently true."""
    clean_env.setenv("MAP_TILES_ENABLED", value)
    with pytest.raises(ConfigError, match="MAP_TILES_ENABLED"):
        create_app({"SECRET_KEY": STRONG})


# --- rate-limit storage (SECURITY row 33) --------------------------------------------------


def limiter_config(tmp_path, **overrides) -> dict:
    config = {
        "SECRET_KEY": STRONG,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rl.sqlite3'}",
        "RATELIMIT_ENABLED": True,
    }
    config.update(overrides)
    return config


def test_redis_url_selects_redis_for_rate_limits(tmp_path, clean_env):
    """With REDIS_URL set, rate limits are counted in that Redis (shared by every worker
    process), with 1 s socket timeouts, a key prefix and the in-memory fallback
    (SECURITY row 33). Nothing connects at startup."""
    from limits.storage import RedisStorage

    from outreach.extensions import limiter

    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    app = create_app(prod_config(tmp_path, RATELIMIT_ENABLED=True))
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://")
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/15"
    options = app.config["RATELIMIT_STORAGE_OPTIONS"]
    assert options["socket_timeout"] == 1 and options["socket_connect_timeout"] == 1
    assert options["retry"].get_retries() == 0
    assert app.config["RATELIMIT_KEY_PREFIX"]
    assert app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert isinstance(limiter.storage, RedisStorage)


def test_explicit_rate_limit_storage_wins_over_redis_url(tmp_path, clean_env):
    """RATELIMIT_STORAGE_URI set on purpose is kept, even with REDIS_URL (SECURITY row 33)."""
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    clean_env.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/14")
    app = create_app(limiter_config(tmp_path))
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/14"


def test_without_redis_rate_limits_count_in_memory(tmp_path, clean_env, caplog):
    """Without REDIS_URL the limiter counts in memory; development logs no warning
    (SECURITY row 33)."""
    from limits.storage import MemoryStorage

    from outreach.extensions import limiter

    caplog.set_level(logging.WARNING)
    app = create_app(limiter_config(tmp_path))
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert "RATELIMIT_STORAGE_OPTIONS" not in app.config or not app.config[
        "RATELIMIT_STORAGE_OPTIONS"
    ].get("retry")
    assert isinstance(limiter.storage, MemoryStorage)
    assert not [r for r in caplog.records if "rate limits" in r.getMessage()]


def test_production_without_redis_warns_about_in_memory_limits(tmp_path, clean_env, caplog):
    """A single-process production install may count in memory, but the log says so
    (SECURITY row 33)."""
    caplog.set_level(logging.WARNING)
    app = create_app(prod_config(tmp_path))
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    warnings = [r for r in caplog.records if "rate limits are counted in memory" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    caplog.clear()
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    create_app(prod_config(tmp_path))
    assert not [r for r in caplog.records if "counted in memory" in r.getMessage()]


def test_each_app_gets_its_own_limiter_settings(tmp_path, clean_env):
    """The shared limiter takes each new app's key prefix and storage, not the first app's."""
    from outreach.extensions import limiter

    create_app(limiter_config(tmp_path, RATELIMIT_KEY_PREFIX="first"))
    first_storage = limiter.storage
    create_app(limiter_config(tmp_path, RATELIMIT_KEY_PREFIX="second"))
    assert limiter._key_prefix == "second"
    assert limiter.storage is not first_storage
