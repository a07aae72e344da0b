"""Field fixtures: two teams of one office and a team of another office, each with a
published route today (office time zone), field members with bearer tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import Office, Plan, PlanStatus, Role, Team, User
from tests.factories import (
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
    today_wib,
)


@dataclass
class Crew:
    """One team with its member, token and today's route."""

    office: Office
    team: Team
    user: User
    token: str
    plan: Plan
    stops: list  # today's stops
    tomorrow: list  # tomorrow's stops
    yesterday: list  # yesterday's stops


def publish(plan: Plan) -> None:
    plan.status = PlanStatus.PUBLISHED
    plan.published_version = 1
    plan.published_at = datetime.now(UTC)


def make_crew(office: Office, plan: Plan, *, demand=None) -> Crew:
    team = make_team(office)
    user = make_user(Role.FIELD, team=team)
    days = {}
    for offset in (-1, 0, 1):
        route = make_route(plan, team, today_wib() + timedelta(days=offset))
        days[offset] = [
            make_stop(
                route,
                make_hotspot(office, demand=demand or {"ktp_record": 40, "kia": 10}),
                persons={"ktp_record": 30, "kia": 10},
                cards=25,
            )
            for _ in range(3)
        ]
    token = create_token(user, "tablet")
    return Crew(office, team, user, token, plan, days[0], days[1], days[-1])


@pytest.fixture
def crews(app):
    """``crews.a`` and ``crews.b`` share an office and a published plan; ``crews.x`` is
    another office's team."""
    office = make_office()
    plan = make_plan(
        office, start_date=today_wib() - timedelta(days=1), end_date=today_wib() + timedelta(days=3)
    )
    a, b = make_crew(office, plan), make_crew(office, plan)
    publish(plan)
    other = make_office(name="Dinas Dukcapil Kabupaten Deli Serdang")
    other_plan = make_plan(other, start_date=plan.start_date, end_date=plan.end_date)
    x = make_crew(other, other_plan)
    publish(other_plan)
    db.session.commit()

    class Crews:
        pass

    c = Crews()
    c.a, c.b, c.x = a, b, x
    return c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def outcome_body(stop, **kw) -> dict:
    """An outcome as a tablet posts it (a fresh ``client_uuid``), ``kw`` changing fields."""
    body = {
        "client_uuid": str(uuid.uuid4()),
        "stop_id": stop.id,
        "present": 35,
        "recorded": {"ktp_record": 30, "kia": 5},
        "cards_carried": 25,
        "cards_used": 0,
    }
    body.update(kw)
    return body
