"""Login, logout, lockout, session lifetime and password rules (SECURITY rows 1–6, 8)."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.auth import sessions as sessions_module
from outreach.auth.accounts import change_password, create_user, deactivate_user
from outreach.auth.passwords import PasswordRejected, password_problems
from outreach.auth.views import safe_next
from outreach.extensions import db
from outreach.models import AuditEvent, Role, User, UserSession, utcnow
from tests.factories import PASSWORD, make_office, make_user, post_login

COOKIE = "session"


def is_logged_in(client) -> bool:
    """Probe a page every role may see: the password form answers 200 only when logged in."""
    return client.get("/account/password").status_code == 200


def translated(client, msgid: str) -> str:
    """Return ``msgid`` as the default locale shows it (HTML-escaped like the template)."""
    from flask_babel import gettext
    from markupsafe import escape

    with client.application.test_request_context():
        return str(escape(gettext(msgid)))


def _strip_nonces(html: str) -> str:
    return re.sub(r'nonce="[^"]*"', 'nonce=""', html)


@pytest.fixture
def field_user(app):
    user = make_user(Role.FIELD, username="petugas")
    db.session.commit()
    return user


def test_login_page_renders(client):
    """GET /login shows a form with username and password fields."""
    resp = client.get("/login")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'name="username"' in html and 'type="password"' in html


def test_coordinator_login_lands_on_dashboard(client, coordinator):
    """A coordinator is redirected to the coordinator dashboard after login."""
    resp = post_login(client, "koordinator")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/coord/"
    assert client.get("/coord/").status_code == 200


def test_admin_login_lands_on_dashboard(client, app):
    """An admin is redirected to the coordinator dashboard after login."""
    make_user(Role.ADMIN, username="admin1")
    db.session.commit()
    assert post_login(client, "admin1").headers["Location"] == "/coord/"


def test_field_login_lands_on_team_page(client, field_user):
    """A field member is redirected to the field team page after login."""
    resp = post_login(client, "petugas")
    assert resp.headers["Location"] == "/field/"
    assert client.get("/field/").status_code == 200


def test_wrong_password_is_refused(client, coordinator):
    """A wrong password gives 401 with a generic message and no session (SECURITY row 1)."""
    resp = post_login(client, "koordinator", "not the password")
    assert resp.status_code == 401
    assert translated(client, "Wrong username or password.") in resp.get_data(as_text=True)
    assert not is_logged_in(client)


def test_unknown_user_gets_the_same_answer(client, coordinator):
    """An unknown username gets the same status and message as a wrong password (SECURITY row 1)."""
    known = post_login(client, "koordinator", "wrong-password-1")
    unknown = post_login(client, "nobody-here", "wrong-password-1")
    assert known.status_code == unknown.status_code == 401
    body_known = known.get_data(as_text=True).replace("koordinator", "NAME")
    body_unknown = unknown.get_data(as_text=True).replace("nobody-here", "NAME")
    assert _strip_nonces(body_known) == _strip_nonces(body_unknown)


def test_inactive_user_cannot_log_in(client, coordinator):
    """A deactivated account with the right password is refused like a wrong password
    (SECURITY row 6)."""
    coordinator.active = False
    db.session.commit()
    assert post_login(client, "koordinator").status_code == 401
    assert not is_logged_in(client)


def test_logout_revokes_copied_cookie(client, coordinator):
    """A cookie copied before logout no longer authenticates after logout (SECURITY row 5)."""
    post_login(client, "koordinator")
    stolen = client.get_cookie(COOKIE).value
    resp = client.post("/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert client.get("/coord/").status_code == 302

    client.set_cookie(COOKIE, stolen)
    resp = client.get("/coord/")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login")
    row = db.session.scalar(sa.select(UserSession))
    assert row.revoked_at is not None


def test_logout_by_get_does_nothing(client, coordinator):
    """GET /logout is not allowed and leaves the session alive (SECURITY rows 5 and 16)."""
    post_login(client, "koordinator")
    assert client.get("/logout").status_code == 405
    assert client.get("/coord/").status_code == 200


def test_session_fixation_prevented(client, coordinator):
    """Login issues a new session cookie; the pre-login cookie stays anonymous (SECURITY row 4)."""
    client.get("/login?lang=en")  # puts something in the pre-login session
    before = client.get_cookie(COOKIE).value
    post_login(client, "koordinator")
    after = client.get_cookie(COOKIE).value
    assert after != before
    client.set_cookie(COOKIE, before)
    assert client.get("/coord/").status_code == 302


def test_each_login_gets_its_own_server_session(app, coordinator):
    """Two logins create two server-side session rows storing only hashes (SECURITY row 5)."""
    c1, c2 = app.test_client(), app.test_client()
    post_login(c1, "koordinator")
    post_login(c2, "koordinator")
    rows = db.session.scalars(sa.select(UserSession)).all()
    assert len(rows) == 2
    cookie = c1.get_cookie(COOKIE).value
    assert all(len(r.token_hash) == 64 and r.token_hash not in cookie for r in rows)


def test_lockout_after_max_failures(app, client, coordinator, caplog):
    """After N failures the N+1th attempt is 429 even with the right password, and logged
    (SECURITY row 1)."""
    limit = app.config["LOGIN_MAX_FAILURES"]
    caplog.set_level(logging.INFO, logger="outreach.auth")
    for _ in range(limit):
        assert post_login(client, "koordinator", "bad-guess-123").status_code == 401
    resp = post_login(client, "koordinator", PASSWORD)
    assert resp.status_code == 429
    assert translated(client, "Too many failed attempts. Try again later.") in resp.get_data(
        as_text=True
    )
    assert not is_logged_in(client)

    fails = [r for r in caplog.records if "event=auth_fail" in r.getMessage()]
    assert len(fails) == limit
    assert all("bad-guess-123" not in r.getMessage() for r in caplog.records)
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


def test_lockout_body_identical_for_unknown_user(app, client, coordinator):
    """The 429 answer for an unknown user is byte-identical to that for a real account
    (SECURITY row 1)."""
    limit = app.config["LOGIN_MAX_FAILURES"]
    for name in ("koordinator", "no-such-user"):
        for _ in range(limit):
            post_login(client, name, "bad-guess-123")
    real = post_login(client, "koordinator", "bad-guess-123")
    ghost = post_login(client, "no-such-user", "bad-guess-123")
    assert real.status_code == ghost.status_code == 429
    assert _strip_nonces(real.get_data(as_text=True)) == _strip_nonces(ghost.get_data(as_text=True))


def test_lockout_is_per_address(app, coordinator):
    """Failures from one IP do not lock the account for another IP (SECURITY row 1)."""
    limit = app.config["LOGIN_MAX_FAILURES"]
    attacker = app.test_client()
    for _ in range(limit + 1):
        attacker.post(
            "/login",
            data={"username": "koordinator", "password": "bad-guess-123"},
            environ_base={"REMOTE_ADDR": "10.0.0.66"},
        )
    owner = app.test_client()
    resp = owner.post(
        "/login",
        data={"username": "koordinator", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert resp.status_code == 302


def test_lockout_expires(app, client, coordinator):
    """Failures older than the lockout window no longer count (SECURITY row 1)."""
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        post_login(client, "koordinator", "bad-guess-123")
    old = utcnow() - timedelta(minutes=app.config["LOGIN_LOCKOUT_MINUTES"] + 1)
    db.session.execute(sa.update(AuditEvent).values(at=old))
    db.session.commit()
    assert post_login(client, "koordinator").status_code == 302


def test_success_resets_failure_count(app, client, coordinator):
    """A successful login resets the count, so N-1 failures later do not lock (SECURITY row 1)."""
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        post_login(client, "koordinator", "bad-guess-123")
    assert post_login(client, "koordinator").status_code == 302
    client.post("/logout")
    for _ in range(limit - 1):
        assert post_login(client, "koordinator", "bad-guess-123").status_code == 401
    assert post_login(client, "koordinator").status_code == 302


def test_login_rate_limited_per_ip(app_config):
    """Flask-Limiter caps login POSTs per IP with a 429 (SECURITY row 1)."""
    from outreach import create_app

    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    application = create_app(app_config)
    with application.app_context():
        client = application.test_client()
        codes = [
            client.post(
                "/login",
                data={"username": "x"},
                environ_base={"REMOTE_ADDR": "10.9.9.9"},
            ).status_code
            for _ in range(4)
        ]
        db.engine.dispose()
    assert codes[:3] == [400, 400, 400]
    assert codes[3] == 429


def test_deactivation_ends_sessions(app, client, field_user):
    """Deactivating a user ends their live session at once and revokes the row (SECURITY row 6)."""
    post_login(client, "petugas")
    assert client.get("/field/").status_code == 200
    deactivate_user(db.session.get(User, field_user.id))
    db.session.commit()
    assert client.get("/field/").status_code == 302
    assert db.session.scalar(sa.select(UserSession.revoked_at)) is not None


def test_deactivation_stays_effective_after_reactivation(app, client, field_user):
    """Sessions revoked by deactivation do not come back when the account is reactivated
    (SECURITY row 6)."""
    post_login(client, "petugas")
    field_user.active = False
    db.session.commit()
    field_user.active = True
    db.session.commit()
    assert client.get("/field/").status_code == 302


def test_password_change_ends_other_sessions(app, coordinator):
    """Changing the password via the form ends other sessions and keeps this browser in
    (SECURITY row 6)."""
    this, other = app.test_client(), app.test_client()
    post_login(this, "koordinator")
    post_login(other, "koordinator")
    new = "a brand new passphrase 42"
    resp = this.post("/account/password", data={"current": PASSWORD, "new": new, "confirm": new})
    assert resp.status_code == 302
    assert this.get("/coord/").status_code == 200
    assert other.get("/coord/").status_code == 302
    fresh = app.test_client()
    assert post_login(fresh, "koordinator", PASSWORD).status_code == 401
    assert post_login(fresh, "koordinator", new).status_code == 302


def test_password_change_needs_current_password(client, coordinator):
    """The password form refuses a wrong current password and changes nothing (SECURITY row 6)."""
    post_login(client, "koordinator")
    new = "a brand new passphrase 42"
    resp = client.post("/account/password", data={"current": "nope", "new": new, "confirm": new})
    assert resp.status_code == 400
    assert db.session.get(User, coordinator.id).check_password(PASSWORD)


def test_password_form_locks_after_max_failures(app, client, coordinator):
    """Guessing the current password on the change form hits the same lockout as login
    (SECURITY row 1)."""
    post_login(client, "koordinator")
    limit = app.config["LOGIN_MAX_FAILURES"]
    new = "a brand new passphrase 42"
    data = {"current": "guess-123", "new": new, "confirm": new}
    for _ in range(limit):
        assert client.post("/account/password", data=data).status_code == 400
    data["current"] = PASSWORD
    assert client.post("/account/password", data=data).status_code == 429
    assert db.session.get(User, coordinator.id).check_password(PASSWORD)


def test_password_change_outside_the_web_ends_sessions(app, client, coordinator):
    """change_password() from any code path ends every session at commit (SECURITY row 6)."""
    post_login(client, "koordinator")
    change_password(db.session.get(User, coordinator.id), "another long passphrase")
    db.session.commit()
    assert client.get("/coord/").status_code == 302


def test_idle_session_expires(app, client, coordinator, monkeypatch):
    """A session idle longer than SESSION_IDLE_MINUTES needs a new login (SECURITY row 8)."""
    post_login(client, "koordinator")
    assert client.get("/coord/").status_code == 200
    later = utcnow() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    monkeypatch.setattr(sessions_module, "utcnow", lambda: later)
    resp = client.get("/coord/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_active_session_survives_within_idle_limit(app, client, coordinator, monkeypatch):
    """A session used within the idle limit stays valid (SECURITY row 8)."""
    post_login(client, "koordinator")
    later = utcnow() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 5)
    monkeypatch.setattr(sessions_module, "utcnow", lambda: later)
    assert client.get("/coord/").status_code == 200


def test_absolute_session_lifetime(app, client, coordinator):
    """A session older than SESSION_ABSOLUTE_HOURS ends even if it was used recently
    (SECURITY row 8)."""
    post_login(client, "koordinator")
    created = utcnow() - timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"], minutes=1)
    db.session.execute(sa.update(UserSession).values(created_at=created, last_seen_at=utcnow()))
    db.session.commit()
    assert client.get("/coord/").status_code == 302


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/coord/plans?x=1", "/coord/plans?x=1"),
        ("//evil.example/", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("coord", None),
        ("/coord/\r\nSet-Cookie: x=1", None),
        ("", None),
    ],
)
def test_safe_next(target, expected):
    """Only same-site paths are accepted as a post-login target."""
    assert safe_next(target) == expected


def test_login_follows_safe_next(client, coordinator):
    """A same-site next parameter is honoured after login."""
    resp = post_login(client, "koordinator", next="/coord/?tab=map")
    assert resp.headers["Location"] == "/coord/?tab=map"


def test_login_ignores_offsite_next(client, coordinator):
    """An off-site next parameter is replaced by the role's home page."""
    resp = post_login(client, "koordinator", next="https://evil.example/phish")
    assert resp.headers["Location"] == "/coord/"


def test_anonymous_redirect_carries_next(client):
    """An anonymous request to a protected page redirects to login with a relative next."""
    resp = client.get("/coord/?tab=map")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/coord/?tab%3Dmap"


@pytest.mark.parametrize(
    "password, ok",
    [
        ("1234567", False),
        ("password123", False),
        ("PASSWORD123", False),
        ("bismillah", False),
        ("12345678", False),
        ("eight ch", True),
        ("x" * 64, True),
        (secrets.token_urlsafe(96)[:128], True),
    ],
)
def test_password_policy(password, ok):
    """Short and common passwords are refused; long ones are accepted (SECURITY row 3)."""
    assert (password_problems(password) == []) is ok


def test_long_and_spaced_passwords_round_trip(app, client):
    """A 128-character password and one with a trailing space are stored exactly as typed
    (SECURITY row 3)."""
    long_pw = secrets.token_urlsafe(96)[:128]
    office_id = make_office().id
    create_user("panjang", Role.COORDINATOR, long_pw, office_id=office_id)
    create_user("spasi", Role.COORDINATOR, "trailing space ", office_id=office_id)
    db.session.commit()
    assert post_login(client, "panjang", long_pw).status_code == 302
    client.post("/logout")
    assert post_login(client, "spasi", "trailing space").status_code == 401
    assert post_login(client, "spasi", "trailing space ").status_code == 302


def test_create_user_refuses_common_password(app):
    """create_user raises PasswordRejected for a common password and adds nothing
    (SECURITY row 3)."""
    with pytest.raises(PasswordRejected):
        create_user("lemah", Role.COORDINATOR, "password123", office_id=make_office().id)
    assert db.session.scalar(sa.select(User).filter_by(username="lemah")) is None


def test_hashes_are_scrypt_and_salted(app):
    """Password hashes use scrypt, never contain the password, and differ per user
    (SECURITY row 2)."""
    office_id = make_office().id
    a = create_user("satu", Role.COORDINATOR, "same passphrase here", office_id=office_id)
    b = create_user("dua", Role.COORDINATOR, "same passphrase here", office_id=office_id)
    db.session.commit()
    assert a.pw_hash.startswith("scrypt:")
    assert "same passphrase here" not in a.pw_hash
    assert a.pw_hash != b.pw_hash


def test_anonymous_post_redirects_without_next(client):
    """An anonymous POST to a protected URL goes to the login page without a POST-only next."""
    resp = client.post("/coord/plans/1/publish")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"


def test_cookie_from_fallback_key_still_works(app, app_config, coordinator):
    """After a key rotation, a cookie signed with the old key (in SECRET_KEY_FALLBACKS) works
    (SECURITY row 9)."""
    from outreach import create_app

    client = app.test_client()
    post_login(client, "koordinator")
    cookie = client.get_cookie(COOKIE).value
    old_key = app.config["SECRET_KEY"]

    rotated = create_app(
        {**app_config, "SECRET_KEY": secrets.token_hex(32), "SECRET_KEY_FALLBACKS": [old_key]}
    )
    other = create_app({**app_config, "SECRET_KEY": secrets.token_hex(32)})
    # Commit the test's transaction first: the other apps use their own connections.
    db.session.commit()
    for application, expected in ((rotated, 200), (other, 302)):
        probe = application.test_client()
        probe.set_cookie(COOKIE, cookie)
        assert probe.get("/coord/").status_code == expected
        with application.app_context():
            db.engine.dispose()
