"""Server-side login sessions: the cookie carries a random id whose SHA-256 is stored.

Logging out revokes the row, so a cookie copied before logout is useless afterwards.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, request

from ..extensions import db, login_manager
from ..models import User, UserSession, hash_token, utcnow


def _aware(dt: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone=True columns; they are UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def start_session(user: User) -> str:
    """Create a server-side session for ``user`` and return its token."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            token_hash=hash_token(token),
            user=user,
            user_agent=(request.user_agent.string or "")[:200] if request else "",
        )
    )
    user.session_token = token
    return token


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
    row = db.session.scalar(db.select(UserSession).filter_by(token_hash=hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    if now - _aware(row.last_seen_at) > idle or now - _aware(row.created_at) > absolute:
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
