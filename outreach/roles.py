"""Role checks: every blueprint but ``public`` and ``auth`` denies by default.

A blueprint calls :func:`protect_blueprint` once; each request into it then needs a logged-in,
active user with one of the blueprint's roles. Views that need a narrower role add
:func:`roles_required`. ``public_view`` marks the rare view that is open on purpose.

Tenancy: several offices share one database, and a coordinator or field member reads and writes
only their own office's rows. :func:`office_scope` and :func:`current_office` are the one place
that says which office that is; no view falls back to "the first office" or "every office" for
anyone but an admin without an office.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_login import current_user

from .errors import DomainError
from .extensions import db, login_manager
from .models import Office, Role

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ATTR = "_jb_public"
ROLES_ATTR = "_jb_roles"


def public_view(view: F) -> F:
    """Mark a view as intentionally open to anonymous users."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Restrict a view to users with one of ``roles``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, ROLES_ATTR, tuple(roles))
        return wrapped  # type: ignore[return-value]

    return decorator


def protect_blueprint(bp: Blueprint, *roles: Role) -> None:
    """Require one of ``roles`` for every view of ``bp`` (deny by default)."""

    @bp.before_request
    def _check_role() -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in roles:
            abort(403)
        return None

    bp.jb_roles = tuple(roles)  # type: ignore[attr-defined]
    _ = request  # the check runs per request, not at import


# -- tenancy: the signed-in user's office ------------------------------------------------------


class NoOffice(DomainError):
    """The account is not attached to an (existing) office: 403, as a page or as API JSON."""

    status = 403
    code = "forbidden"


def _no_office() -> NoOffice:
    return NoOffice(_("Your account is not attached to an office."))


def office_scope() -> int | None:
    """The id of the one office whose data the signed-in user may read and write.

    ``None`` only for an admin without an office: each screen then does what it does for
    admins (see :func:`current_office`). A coordinator or field member without an office gets
    403: no code path may widen their view to another office.
    """
    office_id = getattr(current_user, "office_id", None)
    if office_id is None and getattr(current_user, "role", None) != Role.ADMIN:
        raise _no_office()
    return office_id


def user_office(*, admin_first: bool = False) -> Office | None:
    """The signed-in user's office (403 for a coordinator or field member without one).

    An admin without an office gets the first office when ``admin_first`` (``None`` while no
    office exists), otherwise ``None``.
    """
    office_id = office_scope()
    if office_id is not None:
        office = db.session.get(Office, office_id)
        if office is None:  # the account points at an office that no longer exists
            raise _no_office()
        return office
    if admin_first:
        return db.session.scalar(sa.select(Office).order_by(Office.id).limit(1))
    return None


def current_office(*, admin_first: bool = False) -> Office:
    """Like :func:`user_office`, but 403 (:class:`NoOffice`) instead of ``None``."""
    office = user_office(admin_first=admin_first)
    if office is None:
        raise _no_office()
    return office
