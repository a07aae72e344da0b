"""Role checks: every blueprint but ``public`` and ``auth`` denies by default.

A blueprint calls :func:`protect_blueprint` once; each request into it then needs a logged-in,
active user with one of the blueprint's roles. Views that need a narrower role add
:func:`roles_required`. ``public_view`` marks the rare view that is open on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, request
from flask_login import current_user

from .extensions import login_manager
from .models import Role

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
