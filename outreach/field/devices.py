"""A field member's own devices: where they are signed in, and revoking a lost tablet.

Every sign-in of a field member is a device session (see :mod:`outreach.auth.sessions`). This page
lists the member's live ones with their name and when they were last seen, marks the device in
hand, and revokes any of them (a POST with the CSRF token). Revoking the device in hand logs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm

from ..auth.sessions import device_label, is_current, live_sessions, revoke
from ..extensions import db
from ..models import UserSession, audit
from . import bp


class RevokeForm(FlaskForm):
    """An empty form: its only job is the CSRF token of the revoke POST."""


@dataclass(frozen=True)
class DeviceView:
    """One live session as its owner sees it."""

    id: int
    name: str
    last_seen: str
    signed_in: str
    current: bool
    device: bool  # a named device session (long limits), not a short browser session


def _when(dt: datetime) -> str:
    return format_datetime(dt if dt.tzinfo else dt.replace(tzinfo=UTC), "medium")


def device_views(user: object) -> list[DeviceView]:
    """The live sessions of ``user``, the one in hand first."""
    rows = live_sessions(user)  # type: ignore[arg-type]
    views = [
        DeviceView(
            id=row.id,
            name=device_label(row),
            last_seen=_when(row.last_seen_at),
            signed_in=_when(row.created_at),
            current=is_current(row, user),
            device=row.device_name is not None,
        )
        for row in rows
    ]
    return sorted(views, key=lambda v: not v.current)


@bp.get("/devices")
def devices():
    """List the signed-in member's devices with a revoke button each."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    return render_template("field/devices.html", devices=device_views(user), form=RevokeForm())


@bp.post("/devices/<int:session_id>/revoke")
def device_revoke(session_id: int):
    """Revoke one of the member's own device sessions; another person's is a 404."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400)
    row = db.session.scalar(
        sa.select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    )
    if row is None:
        abort(404)
    current = is_current(row, user)
    if revoke(row):
        audit("session.revoke", row, user=user, by="self", current=current)
    db.session.commit()
    if current:
        logout_user()
        session.clear()
        flash(_("This device is signed out."), "info")
        return redirect(url_for("auth.login"))
    flash(_("The device is signed out. It must log in again to be used."), "success")
    return redirect(url_for("field.devices"))
