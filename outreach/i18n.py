"""Language and time-zone selection: Bahasa Indonesia first, English on request."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session


def select_locale() -> str:
    """Pick the language: ?lang=, then the session choice, then Indonesian."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and background jobs
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    wanted = request.args.get("lang")
    if wanted in languages:
        session["lang"] = wanted
        return wanted
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    """Show times in the user's office time zone (WIB by default)."""
    from flask_login import current_user

    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_TIMEZONE"]
    office = getattr(getattr(current_user, "team", None), "office", None)
    if office is not None:
        return office.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]
