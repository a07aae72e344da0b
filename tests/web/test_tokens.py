"""Bearer tokens for the JSON API: valid, revoked, wrong, missing; CSRF only for cookies."""

from __future__ import annotations

import pytest
from flask import Blueprint, g, jsonify
from flask_login import current_user

from outreach.auth.tokens import api_auth_required, create_token, protect_api_blueprint
from outreach.extensions import db
from outreach.models import ApiToken, Role
from outreach.roles import public_view
from tests.factories import csrf_login, csrf_token_in, make_user


def _probe_blueprint() -> Blueprint:
    """A small API blueprint protected like the real one (a fresh object per app)."""
    bp = Blueprint("apiprobe", __name__)
    protect_api_blueprint(bp, Role.COORDINATOR, Role.ADMIN)

    @bp.get("/whoami")
    def whoami():
        return jsonify(user=current_user.username, via=g.api_auth)

    @bp.post("/echo")
    def echo():
        return jsonify(ok=True, via=g.api_auth)

    @bp.get("/open")
    @public_view
    def open_view():
        return jsonify(ok=True)

    return bp


def _decorated_blueprint() -> Blueprint:
    bp = Blueprint("apiprobe2", __name__)

    @bp.post("/field-only")
    @api_auth_required(Role.FIELD)
    def field_only():
        return jsonify(user=current_user.username)

    return bp


@pytest.fixture
def api_app(app_config):
    """An app with CSRF on and the probe blueprints under /api/probe."""
    from outreach import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    application = create_app(app_config)
    application.register_blueprint(_probe_blueprint(), url_prefix="/api/probe")
    application.register_blueprint(_decorated_blueprint(), url_prefix="/api/probe2")
    return application


@pytest.fixture
def api_client(app, api_app):
    # ``app`` built the schema and holds the test's context; api_app shares the database and,
    # its context not being pushed, gets a fresh one (and a fresh ``g``) per request.
    yield api_app.test_client()
    with api_app.app_context():
        db.engine.dispose()


@pytest.fixture
def coordinator_token(app):
    user = make_user(Role.COORDINATOR, username="koor-api")
    token = create_token(user, "test")
    db.session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error_shape(resp, status: int) -> None:
    assert resp.status_code == status
    body = resp.get_json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])


def test_valid_token_authenticates(api_client, coordinator_token):
    """A valid bearer token makes its owner the current user."""
    resp = api_client.get("/api/probe/whoami", headers=bearer(coordinator_token))
    assert resp.status_code == 200
    assert resp.get_json() == {"user": "koor-api", "via": "bearer"}


def test_bearer_request_sets_no_cookie(api_client, coordinator_token):
    """Bearer calls do not create a login session cookie."""
    resp = api_client.get("/api/probe/whoami", headers=bearer(coordinator_token))
    assert "Set-Cookie" not in resp.headers


def test_missing_token_is_401(api_client):
    """No token and no session gives 401 in the API error shape with WWW-Authenticate."""
    resp = api_client.get("/api/probe/whoami")
    assert_error_shape(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer jb_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 500],
)
def test_wrong_token_is_401(api_client, coordinator_token, header):
    """An unknown, empty or non-bearer Authorization header gives 401."""
    resp = api_client.get("/api/probe/whoami", headers={"Authorization": header})
    assert_error_shape(resp, 401)


def test_revoked_token_is_401(app, api_client, coordinator_token):
    """A revoked token no longer authenticates."""
    from outreach.auth.tokens import revoke_token

    revoke_token(db.session.scalar(db.select(ApiToken)))
    db.session.commit()
    assert_error_shape(api_client.get("/api/probe/whoami", headers=bearer(coordinator_token)), 401)


def test_token_of_deactivated_user_is_401(app, api_client, coordinator_token):
    """Deactivating the owner kills the token at once."""
    from outreach.auth.accounts import deactivate_user
    from outreach.models import User

    deactivate_user(db.session.scalar(db.select(User).filter_by(username="koor-api")))
    db.session.commit()
    assert_error_shape(api_client.get("/api/probe/whoami", headers=bearer(coordinator_token)), 401)


def test_wrong_role_is_403(app, api_client):
    """A field member's token is refused by a coordinator-only blueprint with 403 JSON."""
    token = create_token(make_user(Role.FIELD), "tablet")
    db.session.commit()
    assert_error_shape(api_client.get("/api/probe/whoami", headers=bearer(token)), 403)


def test_bearer_post_needs_no_csrf(api_client, coordinator_token):
    """A POST with a valid bearer token is CSRF-exempt."""
    resp = api_client.post("/api/probe/echo", headers=bearer(coordinator_token), json={})
    assert resp.status_code == 200
    assert resp.get_json()["via"] == "bearer"


def test_invalid_bearer_post_is_401_not_400(api_client):
    """A POST with a bad bearer token fails authentication, not CSRF."""
    resp = api_client.post("/api/probe/echo", headers=bearer("jb_wrong"), json={})
    assert_error_shape(resp, 401)


def _cookie_login(api_client, username: str) -> str:
    """Log in through the form (CSRF on) and return a CSRF token of the new session."""
    csrf_login(api_client, username)
    # The login started a new session, so the pre-login token is void; take a fresh one.
    return csrf_token_in(api_client.get("/account/password").get_data(as_text=True))


def test_cookie_api_post_needs_csrf(app, api_client):
    """An API POST riding on the login cookie without a CSRF token is refused with 400 JSON."""
    make_user(Role.COORDINATOR, username="koor-cookie")
    db.session.commit()
    csrf = _cookie_login(api_client, "koor-cookie")
    resp = api_client.post("/api/probe/echo", json={})
    assert_error_shape(resp, 400)
    ok = api_client.post("/api/probe/echo", json={}, headers={"X-CSRFToken": csrf})
    assert ok.status_code == 200 and ok.get_json()["via"] == "session"


def test_cookie_api_get_works(app, api_client):
    """A logged-in browser can read the API with its cookie."""
    make_user(Role.COORDINATOR, username="koor-cookie")
    db.session.commit()
    _cookie_login(api_client, "koor-cookie")
    resp = api_client.get("/api/probe/whoami")
    assert resp.get_json() == {"user": "koor-cookie", "via": "session"}


def test_public_api_view_stays_open(api_client):
    """A view marked public_view in a protected API blueprint needs no token."""
    assert api_client.get("/api/probe/open").status_code == 200


def test_decorator_protects_single_view(app, api_client, coordinator_token):
    """api_auth_required checks role and token on one view and exempts bearer calls from CSRF."""
    field_token = create_token(make_user(Role.FIELD, username="lap-api"), "tablet")
    db.session.commit()
    assert_error_shape(api_client.post("/api/probe2/field-only"), 401)
    assert_error_shape(
        api_client.post("/api/probe2/field-only", headers=bearer(coordinator_token)), 403
    )
    resp = api_client.post("/api/probe2/field-only", headers=bearer(field_token))
    assert resp.status_code == 200 and resp.get_json() == {"user": "lap-api"}


def test_token_last_used_is_recorded(app, api_client, coordinator_token):
    """Using a token stamps last_used_at."""
    api_client.get("/api/probe/whoami", headers=bearer(coordinator_token))
    assert db.session.scalar(db.select(ApiToken.last_used_at)) is not None
