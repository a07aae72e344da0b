"""Coordinator screens: dashboard, hotspots, teams, plans (desktop, Dinas office)."""

from flask import Blueprint

from ..models import Role
from ..roles import protect_blueprint

bp = Blueprint("coord", __name__, template_folder="../../templates/coordinator")
protect_blueprint(bp, Role.COORDINATOR, Role.ADMIN)

from . import views  # noqa: E402,F401  (registers the views on bp)
