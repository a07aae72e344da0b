"""Security headers on every response, and a per-response CSP nonce."""

from __future__ import annotations

import secrets

from flask import Flask, g, request
from flask_login import current_user

PRIVATE_BLUEPRINTS = frozenset({"auth", "coord", "field", "api"})


def csp_nonce() -> str:
    """Return this response's CSP nonce (created on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def register(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response):
        nonce = csp_nonce()
        tiles = app.config["MAP_TILE_URL"].split("/{", 1)[0]
        tile_origin = "/".join(tiles.split("/")[:3]) if "://" in tiles else ""
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: {tile_origin}; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # OSM tiles need a Referer: no-referrer would break every tile.
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        # Pages behind a login may show personal data or plans: never keep them in a cache.
        private = request.blueprint in PRIVATE_BLUEPRINTS or (
            current_user and current_user.is_authenticated
        )
        if private:
            response.headers["Cache-Control"] = "no-store"
        if app.config["ENV_NAME"] == "production":
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
