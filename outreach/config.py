"""Configuration: defaults here, then ``instance/config.py``, then the environment.

Production mode (``JEMPUT_ENV=production`` or ``ENV_NAME="production"`` in a test config)
refuses to start without a strong ``SECRET_KEY`` and turns on secure cookies.

Every mode checks the map tile settings (:func:`validate_map_tiles`) and chooses the rate-limit
storage (:func:`configure_rate_limits`): Redis when ``REDIS_URL`` is set, so that every worker
process counts together.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

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
    # Rate-limit counters: None chooses REDIS_URL when set (shared by every worker process), else
    # memory:// (one process only). See configure_rate_limits.
    "RATELIMIT_STORAGE_URI": None,
    "RATELIMIT_KEY_PREFIX": "jemputbola",
    # Redis down: count in memory per process instead of failing every login (SECURITY row 33).
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    # A limiter fault never turns a request into a 500 (it is logged instead).
    "RATELIMIT_SWALLOW_ERRORS": True,
    "RATELIMIT_HEADERS_ENABLED": True,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_RATE_LIMIT": "30 per minute",  # per client IP, on login POSTs
    "LOGIN_LOCKOUT_MINUTES": 15,
    # Home-visit requests from residents (public form, no login): POSTs per client IP.
    "HOME_VISIT_RATE_LIMIT": "5 per hour",
    # Accepted home-visit requests per phone number, whatever the client address; counted under
    # an HMAC of the number, never the number itself.
    "HOME_VISIT_PHONE_RATE_LIMIT": "5 per day",
    # Status look-ups by code: POSTs per client IP (slows down guessing; codes have 130 bits).
    "REQUEST_STATUS_RATE_LIMIT": "30 per hour",
    # UU PDP retention: a request's personal data is kept this many days after the visit is
    # closed (the request marked done), then purged.
    "HOME_VISIT_RETENTION_DAYS": 90,
    # ... and a request nobody closed (still new or accepted) is purged this many days after it
    # was received: a forgotten request must not keep a person's data forever.
    "HOME_VISIT_MAX_AGE_DAYS": 180,
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
    # Decomposed solves (outreach.jobs.parts): plans with more sites than this are cut into
    # parts of about DECOMPOSE_TARGET_SITES sites, solved DECOMPOSE_WORKERS at a time (the
    # part time limits assume that many solver processes); a running part whose heartbeat is
    # older than PART_STALE_SECONDS lost its worker and is queued again (once).
    "DECOMPOSE_ABOVE_SITES": 800,
    "DECOMPOSE_TARGET_SITES": 300,
    "DECOMPOSE_WORKERS": 2,
    "PART_STALE_SECONDS": 30,
    # The planning clock ("now": no plan starts before today, today's routes start from now):
    # None is the real clock; tests set an ISO instant so fixed-date plans stay in the future.
    "PLANNING_NOW": None,
    # XYZ tiles: https (or http on 127.0.0.1 for a local stand-in) with {z}, {x} and {y}; a {s}
    # subdomain is allowed in the first label of the host. Checked by validate_map_tiles.
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
    "MAP_TILE_ATTRIBUTION": str,
    "MAP_TILES_ENABLED": bool,
    "GEOCODER_URL": str,
    "OSRM_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "FIELD_DEVICE_IDLE_DAYS": int,
    "FIELD_DEVICE_ABSOLUTE_DAYS": int,
    "PROXY_FIX_X_FOR": int,
    "DECOMPOSE_ABOVE_SITES": int,
    "DECOMPOSE_TARGET_SITES": int,
    "DECOMPOSE_WORKERS": int,
    "PART_STALE_SECONDS": int,
}

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

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
        elif ENV_KEYS[key] is bool:
            config[key] = parse_bool(key, value)
        elif ENV_KEYS[key] is int:
            value = value.strip()
            if not value.isascii() or not value.isdigit():
                raise ConfigError(f"{key} must be a whole number, got {value!r}")
            config[key] = int(value)
        else:
            config[key] = value
    if environ.get("JEMPUT_ENV"):
        config["ENV_NAME"] = environ["JEMPUT_ENV"]


def parse_bool(key: str, value: object) -> bool:
    """A switch from the environment or a config file: ``1/true/yes/on`` or ``0/false/no/off``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ConfigError(f"{key} must be true or false (1/0, yes/no, on/off), got {value!r}")


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


# Hosts a map may fetch tiles from over plain http: a local stand-in on this machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_TILE_EXAMPLE = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def map_tile_origin(url: object) -> str:
    """The CSP source of an XYZ tile URL (``scheme://host[:port]``); ConfigError if unusable.

    Leaflet fills ``{s}`` with a subdomain letter (``a``, ``b``, ``c``), so a ``{s}`` in the
    first label of the host becomes a CSP wildcard: ``https://{s}.tile.openstreetmap.org/...``
    gives ``https://*.tile.openstreetmap.org``. The URL must be ``https://`` (``http://`` only
    on 127.0.0.1/localhost, for a local stand-in) and contain ``{z}``, ``{x}`` and ``{y}``.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("MAP_TILE_URL must be an XYZ tile URL such as " + _TILE_EXAMPLE)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"MAP_TILE_URL is not a valid URL: {exc}") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ConfigError(f"MAP_TILE_URL must contain {', '.join(missing)}, e.g. {_TILE_EXAMPLE}")
    if scheme not in ("https", "http") or not host:
        raise ConfigError(f"MAP_TILE_URL must start with https://, e.g. {_TILE_EXAMPLE}")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ConfigError(
            "MAP_TILE_URL must use https:// (plain http:// only for a stand-in on 127.0.0.1)"
        )
    if "@" in parts.netloc:
        raise ConfigError("MAP_TILE_URL must not carry a user name or password")
    if ":" in host:  # IPv6 literal (only ::1 gets this far)
        source_host = f"[{host}]"
    else:
        first, _dot, rest = host.partition(".")
        if "{s}" in first and rest:
            first = "*"  # the whole first label: CSP wildcards cover whole labels only
        labels = [first, *rest.split(".")] if rest else [first]
        if any(lbl != "*" and not _HOST_LABEL.fullmatch(lbl) for lbl in labels) or (
            labels[0] == "*" and len(labels) < 3
        ):
            raise ConfigError(
                "MAP_TILE_URL has an unusable host: only {s} in its first label is replaced"
            )
        source_host = ".".join(labels)
    return f"{scheme}://{source_host}" + (f":{port}" if port is not None else "")


def validate_map_tiles(config: MutableMapping[str, Any]) -> None:
    """Check the tile settings at startup; ``MAP_TILES_ENABLED`` becomes a real bool."""
    config["MAP_TILES_ENABLED"] = parse_bool(
        "MAP_TILES_ENABLED", config.get("MAP_TILES_ENABLED", True)
    )
    attribution = config.get("MAP_TILE_ATTRIBUTION")
    if attribution is not None and not isinstance(attribution, str):
        raise ConfigError("MAP_TILE_ATTRIBUTION must be text")
    if config["MAP_TILES_ENABLED"]:
        map_tile_origin(config.get("MAP_TILE_URL"))
        if not (attribution or "").strip():
            # Tile servers' terms require it, and Folium refuses custom tiles without one.
            raise ConfigError("MAP_TILE_ATTRIBUTION must name the map data's source")


REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "redis+cluster", "redis+unix")
# Rate-limit checks sit in front of every login: never wait long for Redis. redis-py 6+ also
# retries a failed command up to 10 times with back-off by default; the limiter instead falls
# back to counting in memory at once (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED).
RATELIMIT_REDIS_OPTIONS = {"socket_timeout": 1, "socket_connect_timeout": 1}


def _redis_storage_options() -> dict[str, Any]:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {**RATELIMIT_REDIS_OPTIONS, "retry": Retry(NoBackoff(), 0)}


def configure_rate_limits(
    config: MutableMapping[str, Any], logger: logging.Logger | None = None
) -> None:
    """Choose the rate-limit storage: ``RATELIMIT_STORAGE_URI`` if set, else ``REDIS_URL``,
    else ``memory://``.

    With Redis, the socket timeouts of :data:`RATELIMIT_REDIS_OPTIONS` (and no command retries)
    apply unless ``RATELIMIT_STORAGE_OPTIONS`` sets its own. In production, in-memory counting
    is allowed (a single-process install is legitimate) but logged as a warning: with several
    worker processes each one would count on its own.
    """
    uri = config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL") or "memory://"
    config["RATELIMIT_STORAGE_URI"] = uri
    scheme = uri.split("://", 1)[0].lower()
    if scheme in REDIS_SCHEMES:
        config["RATELIMIT_STORAGE_OPTIONS"] = {
            **_redis_storage_options(),
            **(config.get("RATELIMIT_STORAGE_OPTIONS") or {}),
        }
    if config.get("ENV_NAME") == "production" and scheme == "memory":
        (logger or logging.getLogger(__name__)).warning(
            "rate limits are counted in memory, per process: set REDIS_URL (or "
            "RATELIMIT_STORAGE_URI) when more than one worker process serves the app"
        )
