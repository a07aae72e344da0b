"""Public home page."""

from flask import render_template

from ..roles import public_view
from . import bp


@bp.get("/")
@public_view
def home():
    """Show where and when the service comes next."""
    return render_template("public/home.html")
