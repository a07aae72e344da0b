"""Login, logout and password change."""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from ..extensions import db, limiter
from ..models import Role, User
from ..roles import public_view, roles_required
from . import bp, lockout
from .accounts import change_password
from .forms import LoginForm, PasswordChangeForm
from .passwords import PasswordRejected
from .sessions import current_session_row, end_session, start_session


def _login_rate_limit() -> str:
    return current_app.config.get("LOGIN_RATE_LIMIT", "30 per minute")


@cache
def _dummy_hash() -> str:
    return generate_password_hash("jemput-bola-timing-equaliser", method="scrypt")


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else ``None`` (no open redirects)."""
    if not target or len(target) > 2000:
        return None
    if any(ord(c) < 32 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user: User) -> str:
    """Return the landing page for ``user``'s role."""
    if user.role == Role.FIELD:
        return url_for("field.home")
    return url_for("coord.dashboard")


def _fresh_session() -> None:
    # Session fixation: nothing the pre-login cookie held survives but the language choice.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _client_ip() -> str:
    return request.remote_addr or "-"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
@public_view
def login() -> Response | str | tuple[str, int]:
    """Show the login form and sign the user in."""
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(home_for(current_user))
        form.next.data = safe_next(request.args.get("next")) or ""
        return render_template("auth/login.html", form=form)

    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400

    username, password, ip = form.username.data, form.password.data, _client_ip()
    user = db.session.scalar(sa.select(User).filter_by(username=username))
    if lockout.is_locked(username, ip):
        lockout.record_locked(username, ip, user)
        # Same body whether or not the account exists (the name is not echoed either): no
        # user enumeration.
        form.username.data = ""
        message = _("Too many failed attempts. Try again later.")
        return render_template("auth/login.html", form=form, error=message), 429

    if user is not None:
        ok = user.check_password(password)
    else:
        # Spend the same scrypt work for unknown users so timing does not reveal accounts.
        check_password_hash(_dummy_hash(), password)
        ok = False
    if not ok or not user.active:
        reason = "unknown_user" if user is None else ("bad_password" if not ok else "inactive")
        lockout.record_failure(username, ip, user, reason)
        db.session.commit()
        message = _("Wrong username or password.")
        return render_template("auth/login.html", form=form, error=message), 401

    next_url = safe_next(form.next.data)
    _fresh_session()
    # A field member's sign-in is a device session (named, kept for days, revocable).
    start_session(user, device_name=form.device_name.data)
    lockout.record_success(username, ip, user)
    db.session.commit()
    login_user(user)
    return redirect(next_url or home_for(user))


@bp.post("/logout")
@public_view
def logout() -> Response:
    """End the server-side session, so a copied cookie is useless afterwards."""
    if current_user.is_authenticated:
        end_session(current_user.session_token)
        db.session.commit()
        logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.COORDINATOR, Role.FIELD)
def password() -> Response | str | tuple[str, int]:
    """Change one's own password; every other session of the account ends."""
    form = PasswordChangeForm()
    error = None
    if form.validate_on_submit():
        user = current_user._get_current_object()
        ip = _client_ip()
        # A stolen session must not become a way to guess the password: same lockout as login.
        if lockout.is_locked(user.username, ip):
            lockout.record_locked(user.username, ip, user)
            error = _("Too many failed attempts. Try again later.")
            return render_template("auth/password.html", form=form, error=error), 429
        if not user.check_password(form.current.data):
            lockout.record_failure(user.username, ip, user, "bad_current_password")
            db.session.commit()
            error = _("Your current password is wrong.")
        else:
            row = current_session_row(user)
            device_name = row.device_name if row is not None else None
            try:
                change_password(user, form.new.data)
            except PasswordRejected as exc:
                error = " ".join(exc.reasons)
            else:
                # The flush hook revokes every existing session; this browser gets a new one.
                _fresh_session()
                start_session(user, device_name=device_name)
                db.session.commit()
                login_user(user)
                return redirect(home_for(user))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form, error=error), status


@bp.after_request
def _no_store(response: Response) -> Response:
    # Login and password pages must never be kept by a shared or back-button cache.
    response.headers["Cache-Control"] = "no-store"
    return response
