"""Account operations: create, change password, deactivate.

Whatever code path changes a password or deactivates an account, a flush hook revokes the user's
server-side sessions in the same transaction (and, on deactivation, the API tokens), so no helper
can forget to: a copied cookie or a lost tablet is dead the moment the change commits.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import ApiToken, Office, Role, Team, User, utcnow
from .passwords import validate_password


class AccountError(ValueError):
    """An account operation was refused; the message is fit for the user."""


def create_user(
    username: str,
    role: Role | str,
    password: str,
    *,
    team: Team | None = None,
    office_id: int | None = None,
) -> User:
    """Add a user after checking the username, role/team/office rules and password policy.

    Tenancy: a coordinator or field user belongs to exactly one office (``office_id``, or the
    team's); only an admin may have none. A team of another office is refused. The caller
    commits.
    """
    role = Role(role)
    username = username.strip()
    if not username or len(username) > 80:
        raise AccountError("The username must have 1–80 characters.")
    if db.session.scalar(sa.select(User.id).filter_by(username=username)) is not None:
        raise AccountError(f"The username {username!r} is already taken.")
    if role == Role.FIELD and team is None:
        raise AccountError("A field user must belong to a team (--team).")
    if office_id is None and team is not None:
        office_id = team.office_id
    if team is not None and team.office_id != office_id:
        raise AccountError("The team belongs to another office than --office.")
    if role != Role.ADMIN and office_id is None:
        raise AccountError(
            f"A {role.value} must belong to an office (--office); only an admin may have none."
        )
    if office_id is not None and db.session.get(Office, office_id) is None:
        raise AccountError(f"There is no office with id {office_id}.")
    validate_password(password, username)
    user = User(username=username, role=role, team=team, office_id=office_id)
    user.set_password(password)
    db.session.add(user)
    return user


def change_password(user: User, new_password: str) -> None:
    """Set a new password (policy-checked); every session of the user ends at commit."""
    validate_password(new_password, user.username)
    user.set_password(new_password)


def deactivate_user(user: User) -> None:
    """Deactivate ``user``; their sessions and API tokens are revoked at commit."""
    user.active = False


def _revoke_for(session: Session, user: User, *, tokens: bool) -> None:
    now = utcnow()
    with session.no_autoflush:
        for row in user.sessions:
            # A session started in this same transaction (a password change that keeps the
            # current browser logged in) is pending, not persistent: it stays valid.
            if row.revoked_at is None and sa.inspect(row).persistent:
                row.revoked_at = now
        if tokens:
            for token in session.scalars(
                sa.select(ApiToken).filter_by(user_id=user.id, revoked_at=None)
            ):
                token.revoked_at = now


@event.listens_for(Session, "before_flush")
def _end_sessions_on_credential_change(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty):
        if not isinstance(obj, User) or obj.id is None:
            continue
        state = sa.inspect(obj)
        active = state.attrs.active.history
        pw_hash = state.attrs.pw_hash.history
        # An expired attribute has no old value in its history: treat "unknown" as a change,
        # revoking twice is harmless, missing a revocation is not.
        deactivated = active.added == [False] and list(active.deleted) != [False]
        password_changed = bool(pw_hash.added) and list(pw_hash.deleted) != list(pw_hash.added)
        if deactivated or password_changed:
            _revoke_for(session, obj, tokens=deactivated)
