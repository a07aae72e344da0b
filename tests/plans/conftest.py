"""Fixtures for plan tests: a small office (2 teams, 5 hotspots) and a plan solved inline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.extensions import db
from outreach.models import Role
from outreach.plans import service
from tests.checked_plans import (  # noqa: F401 - fixtures
    every_plan_passes_the_checker,
    expect_violations,
)
from tests.factories import make_hotspot, make_office, make_team, make_user, monday


@pytest.fixture
def app_config(app_config):
    """Run solves inline: the job mechanism is tested in tests/jobs."""
    app_config["JOB_BACKEND"] = "inline"
    return app_config


@pytest.fixture
def office_data(app):
    """An office with two teams, five located hotspots and one without a location."""
    office = make_office()
    teams = [make_team(office), make_team(office)]
    hotspots = [make_hotspot(office, demand={"ktp_record": 8 + 4 * i}) for i in range(5)]
    hotspots.append(make_hotspot(office, lat=None, lon=None, status="needs_location"))
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    return {"office": office, "teams": teams, "hotspots": hotspots, "user": user}


@pytest.fixture
def solved_plan(office_data):
    """A plan over Monday-Tuesday 7-8 December 2026, solved with a 1-second limit."""
    plan = service.create_plan(
        office_data["office"],
        office_data["user"],
        name="Rencana uji",
        start_date=monday(),
        end_date=monday() + timedelta(days=1),
        time_limit_s=1,
    )
    job = service.start_solve(plan, office_data["user"])
    db.session.refresh(plan)
    assert job.id
    return plan
