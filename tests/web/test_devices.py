"""Revocable device sessions of field members: limits, "my devices", coordinator revocation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g

from outreach.config import ConfigError
from outreach.extensions import db
from outreach.models import AuditEvent, Role, UserSession, utcnow
from tests.factories import (
    csrf_login,
    csrf_token_in,
    login,
    make_office,
    make_team,
    make_user,
    post_login,
)

TABLET_UA = "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/120 Safari/537.36"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"
AS_TABLET = {"headers": {"User-Agent": TABLET_UA}, "device_name": "Tablet Tim 1"}


def form_login(client, user, device_name: str | None = None, ua: str = TABLET_UA):
    """Log in through the form, as a tablet would (device name, User-Agent); return the
    response, whatever it is."""
    g.pop("_login_user", None)
    extra = {} if device_name is None else {"device_name": device_name}
    return post_login(client, user.username, headers={"User-Agent": ua}, **extra)


def sessions_of(user) -> list[UserSession]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(UserSession).filter_by(user_id=user.id).order_by(UserSession.id)
        )
    )


def age(row: UserSession, *, idle: timedelta, since_login: timedelta | None = None) -> None:
    """Pretend ``row`` was last used ``idle`` ago (and created ``since_login`` ago)."""
    now = utcnow()
    row.last_seen_at = now - idle
    row.created_at = now - (since_login or idle)
    db.session.commit()


@pytest.fixture
def team(office):
    return make_team(office, name="Tim 1 Medan Kota")


@pytest.fixture
def member(team):
    user = make_user(Role.FIELD, team=team, username="petugas1")
    db.session.commit()
    return user


# ---------------------------------------------------------------------------------------------
# Sign-in creates a device session
# ---------------------------------------------------------------------------------------------


def test_field_login_creates_named_device_session_with_lasting_cookie(client, member):
    """A field member's login stores the typed device name and sets a cookie with an expiry."""
    resp = form_login(client, member, device_name="  Tablet   Tim 1 ")
    assert resp.status_code == 302
    (row,) = sessions_of(member)
    assert row.device_name == "Tablet Tim 1"
    cookie = resp.headers["Set-Cookie"]
    expires = re.search(r"Expires=([^;]+)", cookie)
    assert expires is not None  # outlives the browser session
    # The cookie lasts at least as long as the device's absolute limit.
    from email.utils import parsedate_to_datetime

    assert parsedate_to_datetime(expires.group(1)) - utcnow() >= timedelta(days=29, hours=23)
    assert client.get("/field/").status_code == 200


@pytest.mark.parametrize(
    ("ua", "lang", "expected"),
    [
        (TABLET_UA, "en", "Android tablet"),
        (PHONE_UA, "en", "iPhone"),
        ("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "en", "Browser"),
    ],
)
def test_device_name_defaults_from_user_agent(client, member, ua, lang, expected):
    """Without a typed name the device is named after its User-Agent, in the UI language."""
    client.get(f"/login?lang={lang}")
    form_login(client, member, ua=ua)
    assert sessions_of(member)[0].device_name == expected


def test_login_form_offers_device_name_and_limits_length(client, member):
    """The login form shows the "Device name" field; more than 80 characters is refused."""
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert 'name="device_name"' in page and "Device name" in page
    resp = form_login(client, member, device_name="x" * 81)
    assert resp.status_code == 400
    assert sessions_of(member) == []


def test_coordinator_login_is_not_a_device_session(client, office):
    """Other roles keep a browser-session cookie and no device name."""
    coord = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    resp = form_login(client, coord, device_name="Laptop")
    assert resp.status_code == 302
    assert "Expires=" not in resp.headers["Set-Cookie"]
    assert sessions_of(coord)[0].device_name is None


# ---------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------


def test_device_cookie_outlives_flask_lifetime_but_others_do_not(app, monkeypatch, office, member):
    """A cookie signed 3 days ago still works for a field device; a coordinator's is refused.

    Flask checks every session cookie's signature age against PERMANENT_SESSION_LIFETIME (12 h);
    only a device session's cookie may be older, up to the device's absolute limit.
    """
    import time

    from itsdangerous.timed import TimestampSigner

    coord = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    signed = int(time.time()) - 3 * 24 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: signed)
    tablet, laptop = app.test_client(), app.test_client()
    form_login(tablet, member, device_name="Tablet Tim 1")
    form_login(laptop, coord)
    monkeypatch.undo()
    # Keep the old cookies: the responses below must not re-sign them first.
    g.pop("_login_user", None)
    assert laptop.get("/coord/teams").status_code == 302
    g.pop("_login_user", None)
    assert tablet.get("/field/").status_code == 200


def test_field_device_survives_13_idle_days(client, member):
    """A field device idle for 13 days (and signed in 20 days ago) is still signed in."""
    form_login(client, member, device_name="Tablet Tim 1")
    age(sessions_of(member)[0], idle=timedelta(days=13), since_login=timedelta(days=20))
    assert client.get("/field/").status_code == 200
    assert sessions_of(member)[0].revoked_at is None


def test_field_device_refused_after_15_idle_days(client, member):
    """After 15 idle days the device must log in again (SECURITY row 8)."""
    form_login(client, member, device_name="Tablet Tim 1")
    age(sessions_of(member)[0], idle=timedelta(days=15))
    resp = client.get("/field/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert sessions_of(member)[0].revoked_at is not None


def test_field_device_refused_after_absolute_limit(client, member):
    """Even a device used every day ends 30 days after sign-in (SECURITY row 8)."""
    form_login(client, member, device_name="Tablet Tim 1")
    age(sessions_of(member)[0], idle=timedelta(hours=2), since_login=timedelta(days=31))
    assert client.get("/field/").status_code == 302


def test_coordinator_session_still_ends_after_61_idle_minutes(client, office):
    """The short limits still apply to coordinators (SECURITY row 8)."""
    coord = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    form_login(client, coord)
    assert client.get("/coord/teams").status_code == 200
    age(sessions_of(coord)[0], idle=timedelta(minutes=61))
    resp = client.get("/coord/teams")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_device_limits_follow_configuration(app_config, client, member):
    """FIELD_DEVICE_IDLE_DAYS is read from the configuration."""
    from outreach import create_app

    app_config["FIELD_DEVICE_IDLE_DAYS"] = 0
    with pytest.raises(ConfigError):
        create_app(app_config)
    app_config.update(FIELD_DEVICE_IDLE_DAYS=20, FIELD_DEVICE_ABSOLUTE_DAYS=10)
    with pytest.raises(ConfigError):
        create_app(app_config)


def test_device_days_from_environment_must_be_whole_numbers():
    """Environment values are typed: "14" becomes 14, "two weeks" stops the start."""
    from outreach.config import apply_environment

    config: dict = {}
    apply_environment(config, {"FIELD_DEVICE_IDLE_DAYS": "7"})
    assert config["FIELD_DEVICE_IDLE_DAYS"] == 7
    with pytest.raises(ConfigError):
        apply_environment(config, {"FIELD_DEVICE_ABSOLUTE_DAYS": "two weeks"})


# ---------------------------------------------------------------------------------------------
# The member's own devices
# ---------------------------------------------------------------------------------------------


def test_member_sees_devices_and_this_device(app, member):
    """/field/devices lists each live device with its name and marks the one in hand."""
    tablet, phone = app.test_client(), app.test_client()
    form_login(phone, member, device_name="HP Budi", ua=PHONE_UA)
    form_login(tablet, member, device_name="Tablet Tim 1")
    body = tablet.get("/field/devices?lang=en").get_data(as_text=True)
    assert "Tablet Tim 1" in body and "HP Budi" in body
    badge = '<span class="badge badge-ok">this device</span>'
    assert body.count(badge) == 1
    assert body.index("Tablet Tim 1") < body.index(badge) < body.index("HP Budi")
    assert "Last seen" in body


def test_member_revokes_another_device(app, member):
    """Revoking the phone from the tablet signs the phone out; the tablet keeps working
    (SECURITY row 6)."""
    tablet, phone = app.test_client(), app.test_client()
    form_login(phone, member, device_name="HP Budi", ua=PHONE_UA)
    form_login(tablet, member, device_name="Tablet Tim 1")
    phone_row = next(r for r in sessions_of(member) if r.device_name == "HP Budi")
    resp = tablet.post(f"/field/devices/{phone_row.id}/revoke")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/field/devices")
    assert tablet.get("/field/").status_code == 200
    g.pop("_login_user", None)
    resp = phone.get("/field/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="session.revoke"))
    assert event.object_id == str(phone_row.id)


def test_revoking_the_current_device_logs_out(client, member):
    """Signing out "this device" ends the session and returns to the login page (SECURITY row 6)."""
    form_login(client, member, device_name="Tablet Tim 1")
    (row,) = sessions_of(member)
    resp = client.post(f"/field/devices/{row.id}/revoke")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert sessions_of(member)[0].revoked_at is not None
    assert client.get("/field/").status_code == 302


def test_revoked_device_gets_401_from_the_api(app, office, member):
    """A revoked session is refused by the API with 401 (not just a redirect) (SECURITY row 6)."""
    coord = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    laptop = app.test_client()
    form_login(laptop, coord)
    assert laptop.get("/api/v1/hotspots").status_code == 200
    row = sessions_of(coord)[0]
    row.revoked_at = utcnow()
    db.session.commit()
    g.pop("_login_user", None)
    assert laptop.get("/api/v1/hotspots").status_code == 401
    # A field device revoked by its member: same answer.
    tablet = app.test_client()
    form_login(tablet, member, device_name="Tablet Tim 1")
    (device,) = sessions_of(member)
    tablet.post(f"/field/devices/{device.id}/revoke")
    g.pop("_login_user", None)
    assert tablet.get("/api/v1/hotspots").status_code == 401


def test_another_member_cannot_revoke(app, office, team, member):
    """A teammate or a member of another team gets 404 and the device stays signed in
    (SECURITY row 11)."""
    form_login(app.test_client(), member, device_name="Tablet Tim 1")
    (row,) = sessions_of(member)
    teammate = make_user(Role.FIELD, team=team)
    stranger = make_user(Role.FIELD, team=make_team(office, name="Tim 2"))
    db.session.commit()
    for other in (teammate, stranger):
        client = app.test_client()
        login(client, other, lang="en")
        assert client.post(f"/field/devices/{row.id}/revoke").status_code == 404
        assert "Tablet Tim 1" not in client.get("/field/devices").get_data(as_text=True)
    assert sessions_of(member)[0].revoked_at is None


# ---------------------------------------------------------------------------------------------
# The coordinator
# ---------------------------------------------------------------------------------------------


def two_devices(app, member) -> tuple:
    tablet, phone = app.test_client(), app.test_client()
    form_login(tablet, member, device_name="Tablet Tim 1")
    form_login(phone, member, device_name="HP Budi", ua=PHONE_UA)
    g.pop("_login_user", None)
    return tablet, phone


def test_team_page_lists_members_devices(app, client, coord, team, member):
    """The team page shows each member's devices with their last use."""
    two_devices(app, member)
    body = client.get(f"/coord/teams/{team.id}/edit").get_data(as_text=True)
    assert "petugas1" in body and "Tablet Tim 1" in body and "HP Budi" in body
    assert "Sign out all devices of petugas1" in body


def test_coordinator_revokes_one_device(app, client, coord, team, member):
    """Revoking one device signs out that device only, with an audit row without names
    (SECURITY row 6)."""
    tablet, phone = two_devices(app, member)
    row = next(r for r in sessions_of(member) if r.device_name == "Tablet Tim 1")
    url = f"/coord/teams/{team.id}/members/{member.id}/devices/{row.id}/revoke"
    resp = client.post(url)
    assert resp.status_code == 302
    g.pop("_login_user", None)
    assert tablet.get("/field/").status_code == 302
    g.pop("_login_user", None)
    assert phone.get("/field/").status_code == 200
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="session.revoke"))
    assert event.user_id == coord.id and event.object_id == str(row.id)
    text = repr(event.details)
    assert "petugas1" not in text and "Tablet" not in text and "Android" not in text


def test_coordinator_revokes_all_devices(app, client, coord, team, member):
    """The "sign out all devices" button ends every session of the member (SECURITY row 6)."""
    tablet, phone = two_devices(app, member)
    resp = client.post(f"/coord/teams/{team.id}/members/{member.id}/devices/revoke")
    assert resp.status_code == 302
    assert all(r.revoked_at is not None for r in sessions_of(member))
    for device in (tablet, phone):
        g.pop("_login_user", None)
        assert device.get("/field/").status_code == 302
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="session.revoke"))
    assert event.details["count"] == 2 and "petugas1" not in repr(event.details)


def test_other_office_coordinator_gets_404(app, team, member):
    """A coordinator of another office cannot see or revoke; nothing changes (SECURITY row 11)."""
    two_devices(app, member)
    row = sessions_of(member)[0]
    other = make_user(Role.COORDINATOR, office_id=make_office(name="Lain").id)
    db.session.commit()
    client = app.test_client()
    login(client, other, lang="en")
    base = f"/coord/teams/{team.id}/members/{member.id}/devices"
    assert client.get(f"/coord/teams/{team.id}/edit").status_code == 404
    assert client.post(f"{base}/{row.id}/revoke").status_code == 404
    assert client.post(f"{base}/revoke").status_code == 404
    assert all(r.revoked_at is None for r in sessions_of(member))
    assert db.session.scalar(sa.select(AuditEvent).filter_by(action="session.revoke")) is None


def test_member_of_another_team_is_404_on_this_team(app, client, coord, office, team, member):
    """Revoking through the wrong team (even of the same office) is a 404 (SECURITY row 11)."""
    two_devices(app, member)
    row = sessions_of(member)[0]
    other_team = make_team(office, name="Tim 2")
    db.session.commit()
    base = f"/coord/teams/{other_team.id}/members/{member.id}/devices"
    assert client.post(f"{base}/{row.id}/revoke").status_code == 404
    assert client.post(f"{base}/revoke").status_code == 404
    # A session id of someone else under this member: 404 too.
    other_member = make_user(Role.FIELD, team=team)
    db.session.commit()
    url = f"/coord/teams/{team.id}/members/{other_member.id}/devices/{row.id}/revoke"
    assert client.post(url).status_code == 404
    assert all(r.revoked_at is None for r in sessions_of(member))


def test_field_member_cannot_use_coordinator_revoke(app, team, member):
    """Field members are denied the coordinator's revoke endpoints (403) (SECURITY row 12)."""
    two_devices(app, member)
    row = sessions_of(member)[0]
    client = app.test_client()
    form_login(client, member, device_name="Tablet 3")
    url = f"/coord/teams/{team.id}/members/{member.id}/devices/{row.id}/revoke"
    assert client.post(url).status_code == 403
    assert sessions_of(member)[0].revoked_at is None


# ---------------------------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------------------------


def session_id_of(user_id: int) -> int:
    row_id = db.session.scalar(sa.select(UserSession.id).filter_by(user_id=user_id))
    db.session.rollback()  # SQLite: release the read so the other app can write
    return row_id


def test_member_revoke_needs_csrf_token(csrf_app, member):
    """Without the token the revoke POST is 400 and the device stays; with it, it works
    (SECURITY row 16)."""
    username, member_id = member.username, member.id
    db.session.rollback()
    client = csrf_app.test_client()
    csrf_login(client, username, **AS_TABLET)
    row_id = session_id_of(member_id)
    assert client.post(f"/field/devices/{row_id}/revoke").status_code == 400
    page = client.get("/field/devices").get_data(as_text=True)
    assert client.get("/field/").status_code == 200
    resp = client.post(f"/field/devices/{row_id}/revoke", data={"csrf_token": csrf_token_in(page)})
    assert resp.status_code == 302
    assert client.get("/field/").status_code == 302


def test_coordinator_revoke_needs_csrf_token(csrf_app, office, team, member):
    """The coordinator's revoke POSTs without a token are 400 and change nothing
    (SECURITY row 16)."""
    coord = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    names, team_id, member_id = (member.username, coord.username), team.id, member.id
    db.session.rollback()
    tablet = csrf_app.test_client()
    csrf_login(tablet, names[0], **AS_TABLET)
    client = csrf_app.test_client()
    csrf_login(client, names[1], **AS_TABLET)
    row_id = session_id_of(member_id)
    base = f"/coord/teams/{team_id}/members/{member_id}/devices"
    assert client.post(f"{base}/{row_id}/revoke").status_code == 400
    assert client.post(f"{base}/revoke").status_code == 400
    assert tablet.get("/field/").status_code == 200
    page = client.get(f"/coord/teams/{team_id}/edit").get_data(as_text=True)
    resp = client.post(f"{base}/{row_id}/revoke", data={"csrf_token": csrf_token_in(page)})
    assert resp.status_code == 302
    assert tablet.get("/field/").status_code == 302
