"""Login, logout and session handling."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import sessions, views  # noqa: E402,F401
