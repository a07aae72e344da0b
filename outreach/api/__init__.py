"""JSON API (bearer tokens), version 1.

Coordinators and admins only; bearer-token requests are CSRF-exempt, cookie-session calls are
CSRF-checked (see :mod:`outreach.auth.tokens`). The OpenAPI document is at
``/api/v1/openapi.json``, a short docs page at ``/api/v1/docs``.
"""

from flask import Blueprint

from ..auth.tokens import protect_api_blueprint
from ..models import Role

bp = Blueprint("api", __name__)
protect_api_blueprint(bp, Role.COORDINATOR, Role.ADMIN)

from . import views  # noqa: E402,F401
