"""API fixtures: an office with teams and hotspots, coordinator and field tokens."""

from __future__ import annotations

import pytest

from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import Role
from tests.checked_plans import (  # noqa: F401 - fixtures
    every_plan_passes_the_checker,
    expect_violations,
)
from tests.factories import make_hotspot, make_office, make_team, make_user


@pytest.fixture
def app_config(app_config):
    """Solve inline so API tests need no worker; CSRF on (bearer calls are exempt)."""
    app_config["JOB_BACKEND"] = "inline"
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


@pytest.fixture
def api(app, client):
    """Office data plus helpers: ``api.get/post(path, json=..., token=...)``."""
    office = make_office()
    teams = [make_team(office), make_team(office)]
    hotspots = [make_hotspot(office, demand={"ktp_record": 8 + 4 * i}) for i in range(4)]
    coordinator = make_user(Role.COORDINATOR, office_id=office.id)
    field_user = make_user(Role.FIELD, team=teams[0])
    other_office = make_office()
    outsider = make_user(Role.COORDINATOR, office_id=other_office.id)
    token = create_token(coordinator, "test")
    field_token = create_token(field_user, "tablet")
    outsider_token = create_token(outsider, "other")
    db.session.commit()

    class Api:
        def __init__(self):
            self.office, self.teams, self.hotspots = office, teams, hotspots
            self.token, self.field_token, self.outsider_token = token, field_token, outsider_token

        def _headers(self, token):
            return {"Authorization": f"Bearer {token}"} if token else {}

        def get(self, path, token=..., **kw):
            token = self.token if token is ... else token
            return client.get("/api/v1" + path, headers=self._headers(token), **kw)

        def post(self, path, token=..., **kw):
            token = self.token if token is ... else token
            return client.post("/api/v1" + path, headers=self._headers(token), **kw)

    return Api()
