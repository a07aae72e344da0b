"""Configuration: defaults here, then ``instance/config.py``, then the environment.

Production mode (``JEMPUT_ENV=production`` or ``ENV_NAME="production"`` in a test config)
refuses to start without a strong ``SECRET_KEY`` and turns on secure cookies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "development", "test"}
MIN_SECRET_BYTES = 32


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app must not start."""


DEFAULTS: dict[str, Any] = {
    "ENV_NAME": "development",
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": [],
    "SQLALCHEMY_DATABASE_URI": None,  # set from the instance path in load_config
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SQLITE_BUSY_TIMEOUT_MS": 15000,
    # Uploads: hotspot spreadsheets are small; 8 MiB is generous and bounds memory.
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 500 * 1024,
    "MAX_FORM_PARTS": 1000,
    # Uploaded spreadsheets wait here between preview and commit (None: instance/uploads).
    "IMPORT_UPLOAD_DIR": None,
    "IMPORT_UPLOAD_TTL_SECONDS": 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "SESSION_IDLE_MINUTES": 60,
    "SESSION_ABSOLUTE_HOURS": 12,
    # A field member signs in once on a tablet for the whole week (weak network, shared device):
    # such a device session ends after this many idle days or, at the latest, this many days
    # after sign-in. The member or the coordinator can revoke it at any time. Other roles keep
    # the short limits above. The device's cookie lives FIELD_DEVICE_ABSOLUTE_DAYS (see
    # outreach.auth.sessions.DeviceAwareSessionInterface); the server-side row is the real limit.
    "FIELD_DEVICE_IDLE_DAYS": 14,
    "FIELD_DEVICE_ABSOLUTE_DAYS": 30,
    "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
    "WTF_CSRF_ENABLED": True,
    # Field tablets keep forms open for hours on weak networks: tie the token to the session.
    "WTF_CSRF_TIME_LIMIT": None,
    "BABEL_DEFAULT_LOCALE": "id",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Jakarta",
    "LANGUAGES": ["id", "en"],
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_RATE_LIMIT": "30 per minute",  # per client IP, on login POSTs
    "LOGIN_LOCKOUT_MINUTES": 15,
    # Home-visit requests from residents (public form, no login): POSTs per client IP.
    "HOME_VISIT_RATE_LIMIT": "5 per hour",
    # Status look-ups by code: POSTs per client IP (slows down guessing; codes have 80 bits).
    "REQUEST_STATUS_RATE_LIMIT": "30 per hour",
    # UU PDP retention: a request's personal data is kept this many days after the visit is
    # closed (the request marked done), then purged.
    "HOME_VISIT_RETENTION_DAYS": 90,
    # Behind a reverse proxy every request comes from the proxy's address, so per-IP rate limits
    # (login, home-visit form) would count all residents together. Set this to the number of
    # proxies in front of the app (usually 1) to take the client address from X-Forwarded-For;
    # 0 (the default) ignores that header, which a client could otherwise forge.
    "PROXY_FIX_X_FOR": 0,
    "REDIS_URL": None,
    # Background solves: an in-process thread by default, RQ when REDIS_URL is set.
    "JOB_BACKEND": None,  # "thread" | "rq" | "inline"; None chooses from REDIS_URL
    "RQ_QUEUE": "jemput-solve",
    "JOB_GRACE_SECONDS": 60,  # RQ job timeout = solver time limit + this grace
    "JOB_STALE_SECONDS": 120,  # a running job without a heartbeat this long is failed
    "JOB_QUEUED_STALE_SECONDS": 3600,
    "JOB_PROGRESS_INTERVAL_S": 0.5,
    "PLAN_MAX_HOTSPOTS": 2000,
    # Dashboard: a stop without a check-in this many minutes after its planned start is late.
    "FIELD_LATE_GRACE_MINUTES": 30,
    # Field teams record outcomes for visits from this many days ago up to today.
    "FIELD_OUTCOME_MAX_AGE_DAYS": 7,
    "SOLVER_MAX_SECONDS": 600,
    # The planning clock ("now": no plan starts before today, today's routes start from now):
    # None is the real clock; tests set an ISO instant so fixed-date plans stay in the future.
    "PLANNING_NOW": None,
    "MAP_TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "MAP_TILE_ATTRIBUTION": "&copy; OpenStreetMap contributors",
    "MAP_TILES_ENABLED": True,
    # Nominatim-compatible geocoder, off by default; <= 1 request/s with our own User-Agent.
    "GEOCODER_URL": None,
    "GEOCODER_TIMEOUT": 5.0,
    "GEOCODER_MIN_DELAY": 1.0,
    "GEOCODER_CONTACT": "dukcapil@example.go.id",
    "APP_VERSION": "0.1.0",
    "OSRM_URL": None,
}

ENV_KEYS = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "MAP_TILE_URL": str,
    "GEOCODER_URL": str,
    "OSRM_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "FIELD_DEVICE_IDLE_DAYS": int,
    "FIELD_DEVICE_ABSOLUTE_DAYS": int,
    "PROXY_FIX_X_FOR": int,
}

# Whole-day settings: (smallest, largest) accepted value.
DAY_LIMITS = {
    "FIELD_DEVICE_IDLE_DAYS": (1, 90),
    "FIELD_DEVICE_ABSOLUTE_DAYS": (1, 180),
}


def database_uri_from_env(url: str) -> str:
    """Route ``postgres://`` and ``postgresql://`` URLs through the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def apply_environment(config: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Overlay settings given as environment variables."""
    for key in ENV_KEYS:
        value = environ.get(key)
        if not value:
            continue
        if key == "DATABASE_URL":
            config["SQLALCHEMY_DATABASE_URI"] = database_uri_from_env(value)
        elif ENV_KEYS[key] is int:
            value = value.strip()
            if not value.isascii() or not value.isdigit():
                raise ConfigError(f"{key} must be a whole number, got {value!r}")
            config[key] = int(value)
        else:
            config[key] = value
    if environ.get("JEMPUT_ENV"):
        config["ENV_NAME"] = environ["JEMPUT_ENV"]


def device_session_days(config: Mapping[str, Any]) -> tuple[int, int]:
    """Return ``(idle_days, absolute_days)`` of a field device session; ConfigError if unusable.

    Both must be whole numbers inside :data:`DAY_LIMITS`, and the idle limit cannot exceed the
    absolute one.
    """
    values = []
    for key, (low, high) in DAY_LIMITS.items():
        value = config.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{key} must be a whole number of days from {low} to {high}")
        values.append(value)
    idle, absolute = values
    if idle > absolute:
        raise ConfigError("FIELD_DEVICE_IDLE_DAYS must not exceed FIELD_DEVICE_ABSOLUTE_DAYS")
    return idle, absolute


def validate_production(config: Mapping[str, Any]) -> None:
    """Refuse unsafe production settings."""
    key = config.get("SECRET_KEY")
    if not key or not isinstance(key, str | bytes):
        raise ConfigError("SECRET_KEY is required in production")
    raw = key.encode() if isinstance(key, str) else key
    if key in WEAK_SECRETS or len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"SECRET_KEY is too weak: use at least {MIN_SECRET_BYTES} random bytes, e.g. "
            'python -c "import secrets; print(secrets.token_hex(32))"'
        )
    if config.get("DEBUG"):
        raise ConfigError("DEBUG must be off in production")


def production_overrides() -> dict[str, Any]:
    """Cookie settings for HTTPS deployments."""
    return {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_NAME": "__Host-session",
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": "/",
        "DEBUG": False,
        "TESTING": False,
        "PREFERRED_URL_SCHEME": "https",
    }
