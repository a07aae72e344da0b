"""The running app: production cookies, error pages, size limits, headers, CSP and key rotation
(SECURITY rows 7, 9, 10, 18, 29, 31, 32)."""

from __future__ import annotations

import re
import secrets
from http.cookies import SimpleCookie

import pytest
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.test import encode_multipart

from outreach import create_app
from outreach.extensions import db
from outreach.models import Role
from tests.factories import PASSWORD, make_user, post_login

STRONG = secrets.token_hex(32)


@pytest.fixture
def prod_app(app, app_config, monkeypatch):
    """A production-mode app on the test database (``app`` prepared the schema)."""
    monkeypatch.delenv("JEMPUT_ENV", raising=False)
    config = {k: v for k, v in app_config.items() if k != "TESTING"}
    config.update(ENV_NAME="production", SECRET_KEY=STRONG)
    application = create_app(config)

    @application.get("/__boom")
    def boom():
        raise RuntimeError("secret detail: SELECT * FROM user_session")

    @application.get("/api/v1/__boom")
    def api_boom():
        raise RuntimeError("secret detail: SELECT * FROM user_session")

    yield application
    with application.app_context():
        db.engine.dispose()


def set_cookie_headers(resp) -> list[str]:
    return resp.headers.getlist("Set-Cookie")


def test_production_session_cookie_attributes(app, prod_app):
    """After login in production the cookie is __Host-, Secure, HttpOnly, SameSite=Lax
    (SECURITY row 7)."""
    make_user(Role.COORDINATOR, username="koordinator")
    db.session.commit()
    client = prod_app.test_client()
    resp = client.post(
        "/login",
        data={"username": "koordinator", "password": PASSWORD},
        base_url="https://localhost",
    )
    assert resp.status_code == 302
    headers = set_cookie_headers(resp)
    assert len(headers) == 1
    header = headers[0]
    cookie = SimpleCookie()
    cookie.load(header)
    (name,) = cookie.keys()
    morsel = cookie[name]
    assert name.startswith("__Host-")
    assert morsel["secure"] and morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert "remember_token" not in header


def test_production_debug_is_off(prod_app):
    """The production app runs with debug off (SECURITY row 10)."""
    assert prod_app.debug is False
    assert prod_app.config["PROPAGATE_EXCEPTIONS"] in (None, False)


def test_production_500_is_generic(prod_app):
    """A crashing view gives a generic 500 page without traceback or SQL (SECURITY row 10)."""
    resp = prod_app.test_client().get("/__boom", base_url="https://localhost")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "secret detail", "SELECT", "user_session"):
        assert leak not in body


def test_production_api_500_is_generic_json(prod_app):
    """A crashing API view gives the JSON error shape and no details (SECURITY row 10)."""
    resp = prod_app.test_client().get("/api/v1/__boom", base_url="https://localhost")
    assert resp.status_code == 500
    assert resp.get_json()["error"]["code"] == "internal_error"
    assert "secret detail" not in resp.get_data(as_text=True)


def test_hsts_in_production(prod_app):
    """Production responses carry HSTS of at least a year with subdomains (SECURITY row 32)."""
    resp = prod_app.test_client().get("/login", base_url="https://localhost")
    hsts = resp.headers["Strict-Transport-Security"]
    max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))
    assert max_age >= 31536000 and "includeSubDomains" in hsts


def test_hsts_on_errors_in_production(prod_app):
    """HSTS is also set on 404 and 500 responses (SECURITY row 32)."""
    client = prod_app.test_client()
    for path in ("/no-such-page", "/__boom"):
        resp = client.get(path, base_url="https://localhost")
        assert "Strict-Transport-Security" in resp.headers, path


def test_upload_over_limit_is_413(app_config):
    """A request body over MAX_CONTENT_LENGTH is refused with 413 before any parsing
    (SECURITY row 18)."""
    app_config["MAX_CONTENT_LENGTH"] = 64 * 1024
    application = create_app(app_config)
    resp = application.test_client().post(
        "/login", data={"username": "x", "password": "y" * (100 * 1024)}
    )
    assert resp.status_code == 413
    with application.app_context():
        db.engine.dispose()


def test_default_upload_limit_is_enforced(client):
    """The default 8 MiB limit refuses a 9 MiB upload with 413 (SECURITY row 18)."""
    payload = b"a" * (9 * 1024 * 1024)
    resp = client.post("/login", data=payload, content_type="text/csv")
    assert resp.status_code == 413


def test_form_field_over_memory_limit_is_413(app, client):
    """A single form field larger than MAX_FORM_MEMORY_SIZE is refused with 413
    (SECURITY row 18)."""
    big = "x" * (app.config["MAX_FORM_MEMORY_SIZE"] + 1024)
    # Encoded up front: the test client would spool a body this big to a temp file and,
    # the request being refused unread, never close it.
    boundary, body = encode_multipart({"username": big, "password": "y"})
    resp = client.post(
        "/login", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert resp.status_code == 413


def test_too_many_form_parts_is_413(app, client):
    """More multipart parts than MAX_FORM_PARTS are refused with 413 (SECURITY row 18)."""
    data = {f"f{i}": "v" for i in range(app.config["MAX_FORM_PARTS"] + 1)}
    resp = client.post("/login", data=data, content_type="multipart/form-data")
    assert resp.status_code == 413


def _assert_security_headers(resp, where: str) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors"):
        assert directive in csp, (where, directive)
    assert re.search(r"script-src [^;]*'nonce-[A-Za-z0-9_-]{16,}'", csp), where
    assert "unsafe-eval" not in csp, where
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
    content_type = resp.headers.get("Content-Type", "").lower()
    # JSON is UTF-8 by definition (RFC 8259 defines no charset parameter); text needs one.
    assert content_type.startswith("application/json") or "charset=utf-8" in content_type, where


def test_security_headers_on_html(client):
    """An HTML page carries CSP with a nonce, nosniff, the referrer policy and a charset
    (SECURITY rows 29, 31, 32)."""
    _assert_security_headers(client.get("/login"), "html")


def test_security_headers_on_json(client):
    """A JSON API response carries the same headers (SECURITY row 32)."""
    resp = client.get("/api/v1/no-such-thing")
    assert resp.is_json
    _assert_security_headers(resp, "json")


def test_security_headers_on_404(client):
    """A 404 page carries the security headers (SECURITY row 32)."""
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    _assert_security_headers(resp, "404")


def test_security_headers_on_500(prod_app):
    """A 500 page carries the security headers (SECURITY row 32)."""
    resp = prod_app.test_client().get("/__boom", base_url="https://localhost")
    assert resp.status_code == 500
    _assert_security_headers(resp, "500")


def test_security_headers_on_static(client):
    """Static files carry nosniff and the CSP too (SECURITY row 32)."""
    resp = client.get("/static/app.css")
    assert resp.status_code == 200
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    assert "object-src 'none'" in resp.headers.get("Content-Security-Policy", "")
    resp.close()


def test_csp_nonce_differs_per_response(client):
    """Two responses get two different CSP nonces (SECURITY row 29)."""
    nonces = {
        re.search(r"'nonce-([^']+)'", client.get("/login").headers["Content-Security-Policy"])[1]
        for _ in range(2)
    }
    assert len(nonces) == 2


def test_login_page_not_cached(client):
    """The login page is not stored by shared caches (SECURITY row 32)."""
    resp = client.get("/login")
    assert "no-store" in resp.headers.get("Cache-Control", "")


def test_private_pages_are_never_cached(app, client):
    """Coordinator pages (even the login redirect) and API answers carry Cache-Control: no-store
    (SECURITY row 32)."""
    for path in ("/coord/", "/login", "/api/v1/hotspots"):
        resp = client.get(path)
        assert resp.headers.get("Cache-Control") == "no-store", path


def test_public_home_may_be_cached(client):
    """The anonymous public home page is not marked no-store (it shows no person)."""
    assert "no-store" not in (client.get("/").headers.get("Cache-Control") or "")


def test_static_files_stay_cacheable_for_signed_in_users(app, client):
    """Static assets hold no personal data: a signed-in coordinator's tablet may cache them,
    while its pages stay no-store (SECURITY row 32)."""
    make_user(Role.COORDINATOR, username="koordinator")
    db.session.commit()
    assert post_login(client, "koordinator").status_code == 302
    page = client.get("/account/password")
    assert page.headers["Cache-Control"] == "no-store"
    resp = client.get("/static/app.css")
    assert resp.status_code == 200
    assert "no-store" not in (resp.headers.get("Cache-Control") or "")
    resp.close()


def test_error_responses_are_never_cached(client):
    """A 404 of a public URL is no-store, so a proxy cannot keep serving it (SECURITY row 32)."""
    resp = client.get("/o/no-such-office")
    assert resp.status_code == 404
    assert resp.headers["Cache-Control"] == "no-store"


# --- CSP img-src and the tile server (SECURITY rows 29, 31) ---------------------------------


def csp_directives(resp) -> dict[str, list[str]]:
    """The CSP header as {directive: [sources]}."""
    out = {}
    for part in resp.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


@pytest.mark.parametrize(
    ("tile_url", "origin"),
    [
        ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
        ("https://tiles.example.go.id/{z}/{x}/{y}.png", "https://tiles.example.go.id"),
        ("http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8081"),
    ],
    ids=["osm-subdomains", "own-server", "local-stand-in"],
)
def test_csp_img_src_allows_the_configured_tile_origin(app_config, tile_url, origin):
    """The tile server's origin is in img-src, derived properly from MAP_TILE_URL: {s} becomes a
    wildcard subdomain and nothing like "https:/" is left (SECURITY rows 29, 31)."""
    app_config["MAP_TILE_URL"] = tile_url
    application = create_app(app_config)
    resp = application.test_client().get("/login")
    img_src = csp_directives(resp)["img-src"]
    assert img_src == ["'self'", "data:", origin]
    assert all(source.count("/") == 2 for source in img_src if "://" in source)
    with application.app_context():
        db.engine.dispose()


def test_csp_has_no_tile_origin_when_tiles_are_off(app_config):
    """MAP_TILES_ENABLED=False: maps draw no tiles, so img-src names no tile server
    (SECURITY row 29)."""
    app_config["MAP_TILES_ENABLED"] = False
    application = create_app(app_config)
    resp = application.test_client().get("/login")
    assert csp_directives(resp)["img-src"] == ["'self'", "data:"]
    with application.app_context():
        db.engine.dispose()


def test_csp_keeps_unsafe_inline_for_styles_only(client):
    """Folium's DivIcon pins need style attributes: 'unsafe-inline' is allowed for styles, never
    for scripts, and the rest of the policy stays strict (SECURITY row 29)."""
    csp = csp_directives(client.get("/login"))
    assert "'unsafe-inline'" in csp["style-src"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]


# --- key rotation (SECURITY row 9) -----------------------------------------------------------


def _serializer(app, key) -> URLSafeTimedSerializer:
    """A session cookie serializer of ``app`` that knows only ``key``."""
    iface = app.session_interface
    return URLSafeTimedSerializer(
        key,
        salt=iface.salt,
        serializer=iface.serializer,
        signer_kwargs={
            "key_derivation": iface.key_derivation,
            "digest_method": iface.digest_method,
        },
    )


def test_cookie_signed_with_a_fallback_key_is_re_signed_with_the_new_key(app, app_config):
    """After a key rotation a cookie signed with the old key (now in SECRET_KEY_FALLBACKS) is
    accepted and sent back signed with the new key only; the re-signed cookie works once the
    old key is retired (SECURITY row 9)."""
    make_user(Role.COORDINATOR, username="koordinator")
    db.session.commit()
    client = app.test_client()
    assert post_login(client, "koordinator").status_code == 302
    # The page puts its CSRF token in the session: the cookie carries it from now on, so below
    # only the re-signing can make the rotated app send a new cookie.
    assert client.get("/account/password").status_code == 200
    old_cookie = client.get_cookie("session").value
    old_key, new_key = app.config["SECRET_KEY"], secrets.token_hex(32)
    db.session.commit()  # end the test's transaction: the other apps use their own connections

    rotated = create_app({**app_config, "SECRET_KEY": new_key, "SECRET_KEY_FALLBACKS": [old_key]})
    probe = rotated.test_client()
    probe.set_cookie("session", old_cookie)
    resp = probe.get("/account/password")
    assert resp.status_code == 200
    set_cookies = [h for h in set_cookie_headers(resp) if h.startswith("session=")]
    assert len(set_cookies) == 1, "the old-key cookie is re-signed in the same response"
    new_cookie = probe.get_cookie("session").value
    assert new_cookie != old_cookie
    data = _serializer(rotated, new_key).loads(new_cookie)
    assert data["_user_id"]
    with pytest.raises(BadSignature):
        _serializer(rotated, old_key).loads(new_cookie)
    # A cookie already signed with the current key is not re-sent on every request.
    again = probe.get("/account/password")
    assert again.status_code == 200
    assert not [h for h in set_cookie_headers(again) if h.startswith("session=")]

    retired = create_app({**app_config, "SECRET_KEY": new_key})
    for cookie, expected in ((new_cookie, 200), (old_cookie, 302)):
        c = retired.test_client()
        c.set_cookie("session", cookie)
        assert c.get("/account/password").status_code == expected
    for application in (rotated, retired):
        with application.app_context():
            db.engine.dispose()
