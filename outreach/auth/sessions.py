"""Server-side login sessions: the cookie carries a random id whose SHA-256 is stored.

Logging out revokes the row, so a cookie copied before logout is useless afterwards.

Device sessions
---------------
A field member signs in once on a team tablet and works with it for the whole week, often
offline. Their session is a *device session*: the row carries a ``device_name`` ("Tablet Tim 1")
and ends after ``FIELD_DEVICE_IDLE_DAYS`` idle or ``FIELD_DEVICE_ABSOLUTE_DAYS`` after sign-in
instead of the short ``SESSION_IDLE_MINUTES`` / ``SESSION_ABSOLUTE_HOURS`` every other role keeps.
The member (``/field/devices``) or the team's coordinator can revoke any device at once; the next
request from it is refused like after a logout.

The Flask cookie has to outlive the browser session on such a device. Flask's
``PERMANENT_SESSION_LIFETIME`` is app-wide and is also the maximum age of *any* signed session
cookie when it is read back, so raising it would lengthen every role's cookie. Instead
:class:`DeviceAwareSessionInterface` gives a permanent, device-marked cookie the device lifetime
and keeps ``PERMANENT_SESSION_LIFETIME`` (12 h) for every other cookie. The server-side row stays
the real limit either way.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Request

from ..config import device_session_days
from ..extensions import db, login_manager
from ..models import Role, User, UserSession, hash_token, utcnow

DEVICE_NAME_MAX = 80
# Marks the signed cookie of a device session (see DeviceAwareSessionInterface).
DEVICE_COOKIE_KEY = "_device"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _aware(dt: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone=True columns; they are UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Device names
# ---------------------------------------------------------------------------------------------


def default_device_name(user_agent: str) -> str:
    """Return a readable name for a device from its User-Agent ("Android tablet", "iPhone")."""
    ua = user_agent or ""
    if "iPad" in ua:
        return _("iPad")
    if "iPhone" in ua:
        return _("iPhone")
    if "Android" in ua:
        # Android phones say "Mobile"; tablets do not.
        return _("Android phone") if "Mobile" in ua else _("Android tablet")
    return _("Browser")


def clean_device_name(text: str | None) -> str:
    """Return a typed device name trimmed, with inner whitespace collapsed and no control chars."""
    text = _CONTROL.sub(" ", text or "")
    return " ".join(text.split())[:DEVICE_NAME_MAX]


def device_label(row: UserSession) -> str:
    """The name to show for a session: its device name, else one derived from the User-Agent."""
    return row.device_name or default_device_name(row.user_agent)


# ---------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------


def is_device_session(row: UserSession) -> bool:
    """Whether ``row`` gets the long device limits: a named session of a field member."""
    return row.device_name is not None and row.user is not None and row.user.role == Role.FIELD


def session_limits(row: UserSession) -> tuple[timedelta, timedelta]:
    """Return ``(idle, absolute)`` of ``row``: days for field devices, else the short limits."""
    config = current_app.config
    if is_device_session(row):
        idle_days, absolute_days = device_session_days(config)
        return timedelta(days=idle_days), timedelta(days=absolute_days)
    return (
        timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]),
    )


def is_expired(row: UserSession, now: datetime | None = None) -> bool:
    """Whether ``row`` is past its idle or absolute limit."""
    now = now or utcnow()
    idle, absolute = session_limits(row)
    return now - _aware(row.last_seen_at) > idle or now - _aware(row.created_at) > absolute


def live_sessions(user: User) -> list[UserSession]:
    """Return ``user``'s sessions that are neither revoked nor expired, most recent first."""
    rows = db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).all()
    now = utcnow()
    return [row for row in rows if not is_expired(row, now)]


def is_current(row: UserSession, user: Any) -> bool:
    """Whether ``row`` is the session this request runs in."""
    token = getattr(user, "session_token", None)
    return bool(token) and row.token_hash == hash_token(token)


def current_session_row(user: Any) -> UserSession | None:
    """Return the row of the session this request runs in, if any."""
    token = getattr(user, "session_token", None)
    if not token:
        return None
    return db.session.scalar(sa.select(UserSession).filter_by(token_hash=hash_token(token)))


# ---------------------------------------------------------------------------------------------
# Starting and ending sessions
# ---------------------------------------------------------------------------------------------


def start_session(user: User, device_name: str | None = None) -> str:
    """Create a server-side session for ``user`` and return its token.

    A field member's session is a device session named ``device_name`` (or after the browser's
    User-Agent); inside a request its cookie is then made to outlive the browser session.
    """
    token = secrets.token_urlsafe(32)
    user_agent = (request.user_agent.string or "")[:200] if has_request_context() else ""
    name = None
    if user.role == Role.FIELD:
        name = clean_device_name(device_name) or default_device_name(user_agent)
    db.session.add(
        UserSession(
            token_hash=hash_token(token),
            user=user,
            user_agent=user_agent,
            device_name=name,
        )
    )
    user.session_token = token
    if has_request_context():
        if name is not None:
            session[DEVICE_COOKIE_KEY] = True
            session.permanent = True
        else:
            session.pop(DEVICE_COOKIE_KEY, None)
            session.permanent = False
    return token


def revoke(row: UserSession) -> bool:
    """Revoke one session row; return whether it was live until now (the caller commits)."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def end_session(token: str | None) -> None:
    """Revoke one session."""
    if not token:
        return
    row = db.session.scalar(db.select(UserSession).filter_by(token_hash=hash_token(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def end_all_sessions(user: User) -> None:
    """Revoke every session of ``user`` (password change, deactivation, lost tablet)."""
    now = utcnow()
    for row in user.sessions:
        if row.revoked_at is None:
            row.revoked_at = now


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Return the user of a live session, enforcing idle and absolute limits."""
    # The user comes with the session row: one query per request instead of two.
    row = db.session.scalar(
        db.select(UserSession)
        .filter_by(token_hash=hash_token(token))
        .options(joinedload(UserSession.user))
    )
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if is_expired(row, now):
        row.revoked_at = now
        db.session.commit()
        return None
    user = row.user
    if not user.active:
        return None
    # Touch at most once a minute: avoids a write on every request.
    if now - _aware(row.last_seen_at) > timedelta(minutes=1):
        row.last_seen_at = now
        db.session.commit()
    user.session_token = token
    return user


# ---------------------------------------------------------------------------------------------
# The cookie
# ---------------------------------------------------------------------------------------------


def device_cookie_lifetime(app: Flask) -> timedelta:
    """How long a device session's cookie lives: the device's absolute limit (at least 12 h)."""
    _idle, absolute_days = device_session_days(app.config)
    return max(timedelta(days=absolute_days), app.permanent_session_lifetime)


class DeviceAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with a longer lifetime for field device sessions only.

    * A permanent session carrying :data:`DEVICE_COOKIE_KEY` gets a cookie that expires
      :func:`device_cookie_lifetime` after the last response (refreshed on each request), and is
      accepted back for that long.
    * Every other cookie is accepted only while its signature is younger than
      ``PERMANENT_SESSION_LIFETIME``, exactly as Flask does.

    The marker sits inside the signed payload, so a client cannot add it to its own cookie.
    A cookie that verifies only with one of ``SECRET_KEY_FALLBACKS`` is re-signed with the
    current key in the same response.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        longest = max(device_cookie_lifetime(app), app.permanent_session_lifetime)
        try:
            data, signed_at = serializer.loads(
                value, max_age=int(longest.total_seconds()), return_timestamp=True
            )
        except BadSignature:
            return self.session_class()
        is_device = isinstance(data, dict) and data.get(DEVICE_COOKIE_KEY) is True
        if not is_device and datetime.now(UTC) - signed_at > app.permanent_session_lifetime:
            return self.session_class()
        session = self.session_class(data)
        if app.config.get("SECRET_KEY_FALLBACKS") and not self._signed_with_current_key(app, value):
            # Accepted only thanks to an old key (rotation, SECURITY row 9): send the cookie
            # back signed with the current key, so the old key can be retired soon. The
            # server-side session row still bounds how long the session lives.
            session.modified = True
        return session

    def _signed_with_current_key(self, app: Flask, value: str) -> bool:
        """Whether the cookie's signature verifies with ``SECRET_KEY`` alone (no fallback)."""
        current = URLSafeTimedSerializer(
            app.secret_key,  # type: ignore[arg-type]
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )
        try:
            current.loads(value)
        except BadSignature:
            return False
        return True

    def get_expiration_time(self, app: Flask, session: Any) -> datetime | None:
        if session.permanent and session.get(DEVICE_COOKIE_KEY) is True:
            return datetime.now(UTC) + device_cookie_lifetime(app)
        return super().get_expiration_time(app, session)
