"""Coordinator screens: dashboard, hotspots, imports, teams, plans, exports (desktop)."""

from flask import Blueprint

from ..models import Role
from ..roles import protect_blueprint

bp = Blueprint("coord", __name__)
protect_blueprint(bp, Role.COORDINATOR, Role.ADMIN)

# Each module registers its views on bp.
from . import exports, hotspots, imports, office, plans, requests, teams, views  # noqa: E402,F401
