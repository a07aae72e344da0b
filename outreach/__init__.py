"""Jemput Bola: planning of e-ID outreach ("jemput bola") for civil registration offices."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import config as config_module

__version__ = "0.1.0"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: Mapping[str, Any] | str | None = None) -> Flask:
    """Build the application: defaults → ``instance/config.py`` → environment → ``test_config``.

    ``test_config`` may be a mapping of settings, or the string ``"production"`` as a shorthand
    for ``{"ENV_NAME": "production"}``.
    """
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    load_config(app, test_config)
    if (app.config.get("LOG_FORMAT") or os.environ.get("LOG_FORMAT")) == "json":
        from .ops.logs import configure

        configure(str(app.config.get("LOG_LEVEL") or "INFO").upper())
    register_extensions(app)
    register_jobs(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_hooks(app)
    register_commands(app)
    trust_proxies(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Take the client address from ``PROXY_FIX_X_FOR`` trusted reverse proxies (if any)."""
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def load_config(app: Flask, test_config: Mapping[str, Any] | str | None) -> None:
    """Resolve settings in order and refuse unsafe production settings.

    Every mode also checks the map tile settings and picks the rate-limit storage (Redis when
    ``REDIS_URL`` is set); see :mod:`outreach.config`.
    """
    app.config.from_mapping(config_module.DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
        app.instance_path, "jemputbola.sqlite3"
    )
    app.config.from_pyfile("config.py", silent=True)
    config_module.apply_environment(app.config, os.environ)
    if isinstance(test_config, str):
        test_config = {"ENV_NAME": test_config}
    if test_config:
        app.config.from_mapping(test_config)
    if app.config["ENV_NAME"] == "production":
        app.config.update(
            {
                k: v
                for k, v in config_module.production_overrides().items()
                if not (test_config and k in test_config)
            }
        )
        config_module.validate_production(app.config)
    elif not app.config.get("SECRET_KEY"):
        # Development only: a per-process random key (sessions end on restart).
        app.config["SECRET_KEY"] = os.urandom(32).hex()
    config_module.validate_map_tiles(app.config)
    config_module.configure_rate_limits(app.config, app.logger)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:"):
        os.makedirs(app.instance_path, exist_ok=True)


def register_extensions(app: Flask) -> None:
    from .extensions import babel, csrf, db, limiter, login_manager, migrate
    from .i18n import select_locale, select_timezone
    from .sqlite import configure_sqlite

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)


def register_jobs(app: Flask) -> None:
    """Give the plan services the background solve queue (they do not import the jobs)."""
    from .jobs import init_app

    init_app(app)


def register_blueprints(app: Flask) -> None:
    from .api import bp as api_bp
    from .api.field import bp as api_field_bp
    from .auth import bp as auth_bp
    from .coordinator import bp as coord_bp
    from .field import bp as field_bp
    from .ops import bp as ops_bp
    from .public import bp as public_bp

    app.register_blueprint(ops_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(coord_bp, url_prefix="/coord")
    app.register_blueprint(field_bp, url_prefix="/field")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(api_field_bp, url_prefix="/api/v1")


def register_errorhandlers(app: Flask) -> None:
    from .errors import register

    register(app)


def register_hooks(app: Flask) -> None:
    from .security import register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
