"""Login throttling per account and client address, recorded as audit events.

Failures are counted per (username, IP) pair so an attacker cannot lock a coordinator out from
everywhere by failing on purpose from one place; Flask-Limiter separately caps login POSTs per IP.
Counting audit rows keeps the state in the database, shared by every worker process, and leaves
the trail that breach triage needs.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import AuditEvent, User, utcnow

log = logging.getLogger("outreach.auth")

KIND = "login"
FAIL = "auth_fail"
OK = "auth_ok"
_UNSAFE = re.compile(r"[^\w.@+-]")


def attempt_key(username: str, ip: str) -> str:
    """Return the opaque key under which failures of ``username`` from ``ip`` are counted."""
    raw = f"{username.casefold()}\x00{ip}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def recent_failures(username: str, ip: str) -> int:
    """Count failures for the pair within the lockout window and since its last success."""
    key = attempt_key(username, ip)
    since = utcnow() - timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
    last_ok = db.session.scalar(
        sa.select(sa.func.max(AuditEvent.at)).where(
            AuditEvent.action == OK, AuditEvent.object_type == KIND, AuditEvent.object_id == key
        )
    )
    if last_ok is not None:
        since = max(since, _aware(last_ok))
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == FAIL,
            AuditEvent.object_type == KIND,
            AuditEvent.object_id == key,
            AuditEvent.at > since,
        )
    )


def is_locked(username: str, ip: str) -> bool:
    """Tell whether the pair has used up its failures."""
    return recent_failures(username, ip) >= current_app.config["LOGIN_MAX_FAILURES"]


def _safe(text: str) -> str:
    # Log lines must not be forgeable with newlines or control characters.
    return _UNSAFE.sub("?", text)[:80]


def record_failure(username: str, ip: str, user: User | None, reason: str) -> None:
    """Add a failure event and log ``event=auth_fail`` (never the password).

    The typed username is logged and stored only when it names a real account: people sometimes
    type their password into the username field.
    """
    db.session.add(
        AuditEvent(
            action=FAIL,
            user_id=user.id if user is not None else None,
            object_type=KIND,
            object_id=attempt_key(username, ip),
            details={"ip": ip, "reason": reason},
        )
    )
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
    log.warning(
        "event=auth_fail reason=%s user=%s ip=%s",
        reason,
        _safe(user.username) if user is not None else "-",
        _safe(ip),
    )


def record_locked(username: str, ip: str, user: User | None) -> None:
    """Log a refused attempt on a locked pair (not counted again)."""
    log.warning(
        "event=auth_locked user=%s ip=%s",
        _safe(user.username) if user is not None else "-",
        _safe(ip),
    )


def record_success(username: str, ip: str, user: User) -> None:
    """Add a success event, which resets the pair's failure count."""
    db.session.add(
        AuditEvent(
            action=OK,
            user_id=user.id,
            object_type=KIND,
            object_id=attempt_key(username, ip),
            details={"ip": ip},
        )
    )
    user.failed_logins = 0
    user.last_login_at = utcnow()
    log.info("event=auth_ok user=%s ip=%s", _safe(user.username), _safe(ip))
