"""Public pages for residents (phone, no login). Never shows a person."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import requests, views  # noqa: E402,F401
