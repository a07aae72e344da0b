"""Coordinator screens: dashboard, hotspots, imports, teams, plans, exports (desktop)."""

from flask import Blueprint

from ..models import Role
from ..roles import protect_blueprint

bp = Blueprint("coord", __name__)
protect_blueprint(bp, Role.COORDINATOR, Role.ADMIN)

# Each module registers its views on bp (plans: the plan screens; plan_edits: the POST handlers
# that change a plan; forms: helpers only).
from . import (  # noqa: E402,F401
    exports,
    hotspots,
    imports,
    office,
    plan_edits,
    plans,
    requests,
    teams,
    views,
)
