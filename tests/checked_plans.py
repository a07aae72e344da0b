"""Every plan a test produces must pass the independent checker.

The API, jobs and plans test packages import the two fixtures below into their conftest;
``assert_plan_passes_the_checker`` checks one plan on the spot.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import Plan, PlanStatus
from outreach.planning import check
from outreach.plans import adapter


def assert_plan_passes_the_checker(plan: Plan) -> None:
    """``plan`` as stored passes the independent checker."""
    built = adapter.problem_for_plan(plan)
    violations = check(built.problem, adapter.result_from_plan(plan, built))
    assert violations == [], f"plan {plan.id} fails the checker: {violations}"


def assert_solved_plan_passes_the_checker(plan_id: int) -> Plan:
    """The plan ``plan_id``, read fresh from the database, is solved, has routes and passes
    the independent checker; returns it (the session is rolled back after)."""
    db.session.rollback()
    db.session.expire_all()
    plan = db.session.get(Plan, plan_id)
    assert plan.status == PlanStatus.SOLVED and plan.routes
    assert_plan_passes_the_checker(plan)
    db.session.rollback()
    return plan


def assert_every_plan_passes_the_checker() -> int:
    """Re-check every solved or published plan in the database; return how many were checked."""
    db.session.rollback()
    db.session.expire_all()
    plans = db.session.scalars(
        sa.select(Plan).where(Plan.status.in_([PlanStatus.SOLVED, PlanStatus.PUBLISHED]))
    ).all()
    checked = 0
    for plan in plans:
        assert_plan_passes_the_checker(plan)
        checked += 1
    db.session.rollback()
    return checked


@pytest.fixture(autouse=True)
def every_plan_passes_the_checker(request, app):
    """After each test, every solved or published plan it left behind passes the checker.

    Tests that create violations on purpose request ``expect_violations``.
    """
    yield
    if "expect_violations" not in request.fixturenames:
        assert_every_plan_passes_the_checker()


@pytest.fixture
def expect_violations():
    """Opt out of the after-test checker pass (the test breaks a rule on purpose)."""
    return True
