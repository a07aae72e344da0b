"""Bearer tokens for the JSON API.

A token is shown once when created; only its SHA-256 and a short prefix (to tell tokens apart in
lists) are stored. Requests that carry a valid bearer token are exempt from CSRF, because browsers
never attach an ``Authorization`` header on their own; API calls that ride on the login cookie
are not exempt.

Usage in the API blueprint::

    from ..auth.tokens import protect_api_blueprint
    protect_api_blueprint(bp, Role.ADMIN, Role.COORDINATOR, Role.FIELD)

or per view, ``@api_auth_required(Role.COORDINATOR, Role.ADMIN)``. Views marked with
``roles.public_view`` stay open. Inside a view, ``flask_login.current_user`` is the caller either
way and ``g.api_auth`` says ``"bearer"`` or ``"session"``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, timedelta
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, current_app, g, request
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ..extensions import csrf, db
from ..models import ApiToken, Office, Role, Team, User, hash_token, utcnow
from ..roles import PUBLIC_ATTR, ROLES_ATTR

F = TypeVar("F", bound=Callable[..., Any])

TOKEN_PREFIX = "jb_"  # noqa: S105 - a public marker, not a secret
SHOWN_PREFIX_LENGTH = 10


def create_token(user: User, name: str = "") -> str:
    """Create an API token for ``user`` and return it; it cannot be shown again.

    The caller commits.
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user=user,
            token_hash=hash_token(token),
            prefix=token[:SHOWN_PREFIX_LENGTH],
            name=name[:100],
        )
    )
    return token


def revoke_token(token: ApiToken) -> None:
    """Revoke one token (the caller commits)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def bearer_value() -> str | None:
    """Return the token from an ``Authorization: Bearer ...`` header, if any."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    return value


# One round trip: the owner, their team and its office come with the token (every field API
# view reads them; lazy loads would cost three more queries per tablet request). Built once:
# only the hash is bound per request (the statement holds no data, nothing is cached but SQL).
_TOKEN_WITH_OWNER = (
    sa.select(ApiToken)
    .where(ApiToken.token_hash == sa.bindparam("token_hash"))
    .options(
        joinedload(ApiToken.user)
        .joinedload(User.team)
        .joinedload(Team.office)
        # the field API reads the office's zone (its "today"); the rest loads when read
        .load_only(Office.timezone)
    )
)


def authenticate_bearer() -> User | None:
    """Return the active user owning the request's bearer token, or ``None``."""
    value = bearer_value()
    if value is None:
        return None
    row = db.session.scalar(_TOKEN_WITH_OWNER, {"token_hash": hash_token(value)})
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) > timedelta(
        minutes=1
    ):
        # Touch at most once a minute: no write per API call.
        row.last_used_at = now
        db.session.commit()
    return row.user


def _error(status: int, code: str, message: str):
    from ..errors import error_response

    resp, status = error_response(status, code, message)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="jemput-bola"'
    return resp, status


def _authorize(roles: tuple[Role, ...]) -> Any:
    """Authenticate the API request; return an error response, or ``None`` to proceed."""
    if "Authorization" in request.headers:
        user = authenticate_bearer()
        if user is None:
            return _error(401, "unauthorized", "Token tidak sah, dicabut, atau tidak dikenal.")
        user.session_token = None
        # Flask-Login reads the request's user from g: this makes current_user the token's
        # owner for this request only, without touching the cookie session.
        g._login_user = user
        g.api_auth = "bearer"
    else:
        if not current_user.is_authenticated:
            return _error(401, "unauthorized", "Perlu token atau sesi masuk yang sah.")
        g.api_auth = "session"
        if current_app.config["WTF_CSRF_ENABLED"]:
            # Cookie-authenticated calls get the CSRF check the blueprint exemption skipped.
            csrf.protect()
    if roles and current_user.role not in roles:
        return _error(403, "forbidden", "Peran Anda tidak boleh memakai fungsi ini.")
    return None


def _public_endpoint() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return view is not None and getattr(view, PUBLIC_ATTR, False)


def protect_api_blueprint(bp: Blueprint, *roles: Role) -> None:
    """Require a bearer token or a login session with one of ``roles`` for every view of ``bp``.

    Views marked ``public_view`` stay open (still CSRF-checked for unsafe methods without a
    bearer token).
    """
    csrf.exempt(bp)

    @bp.before_request
    def _api_auth() -> Any:
        if _public_endpoint():
            if "Authorization" not in request.headers and current_app.config["WTF_CSRF_ENABLED"]:
                csrf.protect()
            return None
        return _authorize(tuple(roles))

    bp.jb_roles = tuple(roles)  # type: ignore[attr-defined]


def api_auth_required(*roles: Role) -> Callable[[F], F]:
    """Protect one API view like :func:`protect_api_blueprint` protects a blueprint."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            denied = _authorize(tuple(roles))
            if denied is not None:
                return denied
            return view(*args, **kwargs)

        setattr(wrapped, ROLES_ATTR, tuple(roles))
        csrf.exempt(wrapped)
        return wrapped  # type: ignore[return-value]

    return decorator
