"""Security headers on every response, and a per-response CSP nonce (SECURITY rows 29-32).

The Content-Security-Policy is built once at startup; only the nonce changes per response:

- ``script-src 'self' 'nonce-…'``: our static files and the inline scripts we render ourselves
  (every ``<script>`` of a page, including the Folium map scripts, carries :func:`csp_nonce`).
- ``style-src 'self' 'unsafe-inline'``: kept on purpose. Folium's DivIcon pins, Leaflet itself
  and a few templates set ``style="..."`` attributes, which a nonce cannot cover. Styles cannot
  run code; every user text on a map is escaped by :func:`outreach.maps.map_text`.
- ``img-src 'self' data:`` plus the tile server's origin from ``MAP_TILE_URL`` (``{s}`` becomes
  a ``*.`` wildcard), left out when ``MAP_TILES_ENABLED`` is off.
"""

from __future__ import annotations

import secrets

from flask import Flask, g, request
from flask_login import current_user

from .config import map_tile_origin

# Only these blueprints' pages may be cached (when nobody is signed in): every other one (auth,
# coord, field, api, api_field, and any added later) is private by default.
CACHEABLE_BLUEPRINTS = frozenset({"public"})
# Public pages about one resident's home-visit request: the form (a session-bound CSRF token),
# the page with the status code and the status look-up. Never cached, like private pages.
NO_STORE_ENDPOINTS = frozenset(
    {"public.home_visit", "public.home_visit_done", "public.request_status"}
)
NONCE_PLACEHOLDER = "{nonce}"
HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    """Return this response's CSP nonce (created on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(config) -> str:
    """The CSP of this app with ``{nonce}`` in place of the per-response nonce."""
    img_src = ["'self'", "data:"]
    if config.get("MAP_TILES_ENABLED", True):
        img_src.append(map_tile_origin(config["MAP_TILE_URL"]))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{NONCE_PLACEHOLDER}'",
            # 'unsafe-inline' for style attributes (Folium DivIcons, Leaflet): see the docstring.
            "style-src 'self' 'unsafe-inline'",
            "img-src " + " ".join(img_src),
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
            "form-action 'self'",
        ]
    )


def is_private_response(response) -> bool:
    """Whether a response must never be stored by a cache (``Cache-Control: no-store``).

    Everything outside the public pages (login, coordinator, field and API: they may show
    personal data or plans), anything answered to a signed-in user, the home-visit pages, and
    every error response. Static files are not: they hold no personal data, and field tablets
    on weak networks need them cached.
    """
    if request.endpoint == "static":
        return False
    if response.status_code >= 400:
        return True
    if request.blueprint not in CACHEABLE_BLUEPRINTS or request.endpoint in NO_STORE_ENDPOINTS:
        return True
    return bool(current_user and current_user.is_authenticated)


def register(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    # Computed once: the tile origin is parsed (and was validated) at startup.
    policy = content_security_policy(app.config)
    production = app.config["ENV_NAME"] == "production"

    @app.after_request
    def _headers(response):
        response.headers.setdefault(
            "Content-Security-Policy", policy.replace(NONCE_PLACEHOLDER, csp_nonce())
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # OSM tiles need a Referer: no-referrer would break every tile.
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if is_private_response(response):
            response.headers["Cache-Control"] = "no-store"
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
