"""Extension singletons, bound to the app in ``create_app``."""

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class AppLimiter(Limiter):
    """Flask-Limiter's ``Limiter``, configured afresh from each app's config.

    Flask-Limiter treats the key prefix, storage options, in-memory fallback and error
    swallowing as set for good by the first ``init_app``; one process here builds many apps
    (tests, CLI commands), so each ``init_app`` starts again from the constructor's values and
    reads them from that app's ``RATELIMIT_*`` settings (``outreach.config`` sets them).
    """

    # Attributes (Flask-Limiter 4.1) that init_app only fills while unset, with the values the
    # constructor gives them here.
    _PER_APP = {
        "enabled": True,
        "_key_prefix": "",
        "_storage_options": None,  # a fresh dict
        "_in_memory_fallback_enabled": False,
        "_fallback_limiter": None,
        "_storage_dead": False,
        "_swallow_errors": None,
        "_headers_enabled": None,
    }

    def init_app(self, app: Flask) -> None:
        for name, value in self._PER_APP.items():
            if not hasattr(self, name):  # a Flask-Limiter upgrade renamed it: fail loudly
                raise RuntimeError(f"Flask-Limiter has no attribute {name!r}; check AppLimiter")
            setattr(self, name, {} if name == "_storage_options" else value)
        super().init_app(app)


# The key is the direct peer address: X-Forwarded-For is ignored unless a proxy is configured
# with ProxyFix, so a client cannot dodge the limit by spoofing the header.
limiter = AppLimiter(key_func=get_remote_address, default_limits=[])
