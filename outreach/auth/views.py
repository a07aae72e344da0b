"""Login and logout views (placeholder until the auth module lands)."""

from flask import render_template

from ..roles import public_view
from . import bp


@bp.route("/login", methods=["GET", "POST"])
@public_view
def login():
    """Show the login form."""
    return render_template("auth/login.html")
