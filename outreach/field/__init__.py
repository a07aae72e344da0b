"""Field-team pages (tablet): today's route, check-in/out, outcomes."""

from flask import Blueprint

from ..models import Role
from ..roles import protect_blueprint

bp = Blueprint("field", __name__)
protect_blueprint(bp, Role.FIELD, Role.COORDINATOR, Role.ADMIN)

from . import devices, views  # noqa: E402,F401
