"""Fixtures for the public pages: offices with slugs and plans published relative to today."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pytest

from outreach.extensions import db
from outreach.models import Office, Plan, PlannedRoute, PlannedStop, PlanStatus, StopStatus
from outreach.plans.service import snapshot_of
from outreach.public.schedule import sync_publication
from tests.factories import WIB, make_office, today_wib

# Kota Medan's office as residents reach it: its public address and contacts.
MEDAN_OFFICE = {
    "name": "Dinas Dukcapil Kota Medan",
    "slug": "kota-medan",
    "phone": "(061) 555-0100",
    "email": "dukcapil@medan.example.go.id",
}


def make_medan_office(**kw) -> Office:
    """The Kota Medan office at ``/o/kota-medan`` with its contacts (``kw`` adds or changes)."""
    return make_office(**{**MEDAN_OFFICE, **kw})


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A local WIB time on ``day``, stored as UTC."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=WIB).astimezone(UTC)


def add_route(plan: Plan, team, day: date, visits) -> PlannedRoute:
    """A route of ``team`` on ``day``; ``visits`` are (hotspot, "HH:MM", minutes[, persons])."""
    route = PlannedRoute(team=team, day=day)
    plan.routes.append(route)
    for position, visit in enumerate(visits):
        hs, hhmm, minutes = visit[:3]
        persons = visit[3] if len(visit) > 3 else {"ktp_record": 20}
        h, m = (int(x) for x in hhmm.split(":"))
        start = at(day, h, m)
        route.stops.append(
            PlannedStop(
                hotspot=hs,
                position=position,
                arrival_at=start,
                start_at=start,
                end_at=start + timedelta(minutes=minutes),
                persons=persons,
                status=StopStatus.PLANNED,
            )
        )
    db.session.flush()
    return route


def new_plan(office, day: date, name: str = "Rencana uji") -> Plan:
    plan = Plan(
        office_id=office.id,
        name=name,
        status=PlanStatus.SOLVED,
        start_date=day,
        end_date=day + timedelta(days=13),
    )
    db.session.add(plan)
    db.session.flush()
    return plan


def publish_plan(office, first_day: date, routes: Iterable, name: str = "Rencana uji") -> Plan:
    """A plan from ``first_day`` with a route per ``(team, day, visits)`` of ``routes`` (see
    :func:`add_route`), published to residents now."""
    plan = new_plan(office, first_day, name)
    for team, day, visits in routes:
        add_route(plan, team, day, visits)
    publish_now(plan)
    return plan


def publish_now(plan: Plan, notice: str = "") -> dict:
    """What ``plans.service.publish`` does for residents, without the checker."""
    plan.published_version += 1
    plan.published_at = datetime.now(UTC)
    plan.status = PlanStatus.PUBLISHED
    counts = sync_publication(plan, snapshot_of(plan), message=notice)
    db.session.commit()
    return counts


@pytest.fixture
def today() -> date:
    return today_wib()
