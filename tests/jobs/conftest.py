"""Fixtures for job tests: a small office and helpers to poll a job without holding a lock."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from outreach.extensions import db
from outreach.models import JobStatus, Plan, Role, SolveJob
from outreach.plans import service
from tests.checked_plans import (  # noqa: F401 - fixtures
    every_plan_passes_the_checker,
    expect_violations,
)
from tests.factories import make_hotspot, make_office, make_team, make_user, monday

FINISHED = {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED}


@pytest.fixture
def office_data(app):
    """An office with two teams and six hotspots."""
    office = make_office()
    teams = [make_team(office), make_team(office)]
    hotspots = [make_hotspot(office, demand={"ktp_record": 10 + 5 * i}) for i in range(6)]
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    return {"office": office, "teams": teams, "hotspots": hotspots, "user": user}


@pytest.fixture
def make_plan_for(office_data):
    """Create a two-day plan with the given time limit."""

    def build(time_limit_s: int = 2) -> Plan:
        return service.create_plan(
            office_data["office"],
            office_data["user"],
            name="Rencana latar belakang",
            start_date=monday(),
            end_date=monday() + timedelta(days=1),
            time_limit_s=time_limit_s,
        )

    return build


def job_row(job_id: str) -> SolveJob:
    """Re-read a job and end the read transaction at once (SQLite: BEGIN IMMEDIATE locks)."""
    db.session.rollback()
    db.session.expire_all()
    job = db.session.get(SolveJob, job_id)
    assert job is not None
    _ = (job.status, job.progress, job.cancel_requested, job.heartbeat_at, job.error)
    # Detach the copy: touching an expired attribute later would open a new transaction and
    # starve the worker of the SQLite write lock.
    db.session.expunge(job)
    db.session.rollback()
    return job


def wait_for(job_id: str, statuses=FINISHED, timeout: float = 60.0, predicate=None) -> SolveJob:
    """Poll a job every 0.2 s until its status is in ``statuses`` (and ``predicate`` holds)."""
    deadline = time.monotonic() + timeout
    while True:
        job = job_row(job_id)
        if job.status in statuses and (predicate is None or predicate(job)):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout} s")
        time.sleep(0.2)
