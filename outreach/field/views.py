"""Field team home."""

from flask import render_template

from . import bp


@bp.get("/")
def home():
    """Show the team's route for today."""
    return render_template("field/home.html")
