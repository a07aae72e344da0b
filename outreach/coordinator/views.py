"""Coordinator dashboard."""

from flask import render_template

from . import bp


@bp.get("/")
def dashboard():
    """Show remaining residents per kecamatan and the hotspot map."""
    return render_template("coordinator/dashboard.html")
