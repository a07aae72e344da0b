"""Login, logout, server-side sessions, password policy and API bearer tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..extensions import login_manager

bp = Blueprint("auth", __name__)


def _unauthorized() -> Response | tuple[Response, int]:
    """Send browsers to the login page and API clients a 401 in the API's error shape."""
    from ..errors import error_response, wants_json

    if wants_json():
        resp, status = error_response(401, "unauthorized", "Perlu masuk atau token yang sah.")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="jemput-bola"'
        return resp, status
    if request.method != "GET":
        # After login the browser would GET the target; a POST-only URL would answer 405.
        return redirect(url_for("auth.login"))
    flash(_("Please log in to continue."), "info")
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


@bp.record_once
def _configure_login(state: BlueprintSetupState) -> None:
    from ..config import device_session_days
    from .sessions import DeviceAwareSessionInterface

    login_manager.login_view = "auth.login"
    login_manager.unauthorized_handler(_unauthorized)
    # Refuse to start with unusable FIELD_DEVICE_* settings (ConfigError), like a weak key.
    device_session_days(state.app.config)
    # Field devices keep their cookie for days; every other cookie keeps Flask's lifetime.
    state.app.session_interface = DeviceAwareSessionInterface()


from . import accounts, sessions, tokens, views  # noqa: E402,F401
