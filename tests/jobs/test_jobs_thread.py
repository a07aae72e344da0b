"""The in-process job backend end to end: queue → run → progress → done; cancel; reconcile."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from outreach import jobs
from outreach.extensions import db
from outreach.jobs import thread_backend
from outreach.models import JobStatus, Plan, PlanStatus, SolveJob, utcnow
from outreach.plans import service
from tests.checked_plans import (
    assert_plan_passes_the_checker,
    assert_solved_plan_passes_the_checker,
)
from tests.jobs.conftest import job_row, wait_for


def _plan(plan_id: int) -> Plan:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Plan, plan_id)


def test_thread_backend_is_the_default_and_starts_lazily(app):
    """Without REDIS_URL the backend is the worker thread; the factory starts nothing."""
    assert jobs.backend_name(app) == "thread"
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    assert jobs.backend_name(app) == "rq"


def test_job_lifecycle_end_to_end(office_data, make_plan_for):
    """Create plan → start solve (2 s) → poll progress → done → plan solved and checked."""
    plan = make_plan_for(2)
    plan_id = plan.id
    job_id = service.start_solve(plan, office_data["user"]).id
    db.session.rollback()
    assert thread_backend.is_running()
    first = job_row(job_id)
    assert first.backend == "thread"
    assert first.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DONE)
    running = wait_for(
        job_id,
        {JobStatus.RUNNING, JobStatus.DONE},
        predicate=lambda j: "elapsed_s" in (j.progress or {}),
    )
    assert running.progress["time_limit_s"] == 2
    done = wait_for(job_id)
    assert done.status == JobStatus.DONE, done.error
    assert done.progress["persons_served"] > 0 and done.progress["percent"] == 100
    assert done.heartbeat_at is not None and done.finished_at is not None
    assert_solved_plan_passes_the_checker(plan_id)


def test_second_solve_while_solving_is_a_conflict(office_data, make_plan_for):
    """A plan already solving refuses another solve with PlanConflict (409)."""
    plan = make_plan_for(2)
    plan_id = plan.id
    job_id = service.start_solve(plan, office_data["user"]).id
    try:
        with pytest.raises(service.PlanConflict):
            service.start_solve(db.session.get(Plan, plan_id), office_data["user"])
    finally:
        db.session.rollback()
        wait_for(job_id)


def test_cancel_keeps_the_best_plan_so_far(office_data, make_plan_for):
    """Cancelling a running solve stops it early and stores the best plan found."""
    plan = make_plan_for(30)
    plan_id = plan.id
    job_id = service.start_solve(plan, office_data["user"]).id
    db.session.rollback()
    wait_for(
        job_id,
        {JobStatus.RUNNING},
        predicate=lambda j: (j.progress or {}).get("persons_served", 0) > 0,
    )
    t0 = time.monotonic()
    service.cancel_job(job_row(job_id))
    db.session.rollback()
    job = wait_for(job_id, timeout=15)
    assert time.monotonic() - t0 < 10, "cancel must not wait for the 30 s limit"
    assert job.status == JobStatus.CANCELLED and job.cancel_requested
    plan = _plan(plan_id)
    assert plan.status == PlanStatus.SOLVED and plan.solver_status == "CANCELLED"
    assert plan.routes
    assert_plan_passes_the_checker(plan)
    db.session.rollback()


def test_cancel_a_queued_job_restores_the_plan(office_data, make_plan_for, monkeypatch):
    """A job cancelled before it starts never runs; the plan returns to draft."""
    monkeypatch.setattr(jobs, "_submit", lambda *a, **k: None)  # nothing picks the job up
    plan = make_plan_for(2)
    job = service.start_solve(plan, office_data["user"])
    assert db.session.get(Plan, plan.id).status == PlanStatus.SOLVING
    job = service.cancel_job(job)
    assert job.status == JobStatus.CANCELLED
    assert db.session.get(Plan, plan.id).status == PlanStatus.DRAFT
    # A late delivery of the cancelled job does nothing.
    from outreach.jobs.runner import run_solve_job

    assert run_solve_job(job.id) == "cancelled"


def test_reconciler_fails_stale_jobs_and_a_retry_works(office_data, make_plan_for, app):
    """A running job without heartbeat is failed with its plan; a new solve then succeeds
    (SECURITY row 39)."""
    plan = make_plan_for(1)
    old = utcnow() - timedelta(minutes=10)
    job = SolveJob(
        id="00000000-0000-4000-8000-000000000001",
        plan_id=plan.id,
        status=JobStatus.RUNNING,
        started_at=old,
        heartbeat_at=old,
    )
    fresh = SolveJob(
        id="00000000-0000-4000-8000-000000000002",
        plan_id=plan.id,
        status=JobStatus.RUNNING,
        started_at=utcnow(),
        heartbeat_at=utcnow(),
    )
    plan.status = PlanStatus.SOLVING
    db.session.add_all([job, fresh])
    db.session.commit()
    assert jobs.reconcile_stuck_jobs(stale_after_s=60) == [job.id]
    assert job_row(job.id).status == JobStatus.FAILED
    assert job_row(fresh.id).status == JobStatus.RUNNING
    plan = _plan(plan.id)
    assert plan.status == PlanStatus.FAILED
    fresh.status = JobStatus.FAILED
    db.session.merge(fresh)
    db.session.commit()
    app.config["JOB_BACKEND"] = "inline"
    retry = service.start_solve(_plan(plan.id), office_data["user"])
    assert job_row(retry.id).status == JobStatus.DONE
    assert _plan(plan.id).status == PlanStatus.SOLVED


def test_reconcile_command_reports_failed_jobs(runner, office_data, make_plan_for):
    """``flask reconcile-jobs`` marks stale jobs failed and says how many (SECURITY row 39)."""
    plan = make_plan_for(1)
    old = utcnow() - timedelta(hours=1)
    db.session.add(
        SolveJob(
            id="00000000-0000-4000-8000-000000000003",
            plan_id=plan.id,
            status=JobStatus.RUNNING,
            started_at=old,
            heartbeat_at=old,
        )
    )
    db.session.commit()
    out = runner.invoke(args=["reconcile-jobs"])
    assert out.exit_code == 0, out.output
    assert "1 job(s) marked failed" in out.output


def test_solver_exception_fails_the_job_cleanly(office_data, make_plan_for, app, monkeypatch):
    """An exception inside the solve fails the job with a message; the plan is failed
    (SECURITY row 42)."""
    import outreach.jobs.runner as runner_module

    def broken(*a, **k):
        raise KeyError("garbage in callback")

    monkeypatch.setattr(runner_module, "solve", broken)
    app.config["JOB_BACKEND"] = "inline"
    plan = make_plan_for(1)
    job = service.start_solve(plan, office_data["user"])
    row = job_row(job.id)
    assert row.status == JobStatus.FAILED and "KeyError" in row.error
    assert _plan(plan.id).status == PlanStatus.FAILED


def test_worker_thread_survives_a_crashing_job(office_data, make_plan_for, monkeypatch):
    """A job that raises inside the solver fails; the same worker thread runs the next one
    (SECURITY row 42)."""
    import outreach.jobs.runner as runner_module

    real_solve = runner_module.solve
    calls = []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise OverflowError("value > int64 in a callback")
        return real_solve(*a, **k)

    monkeypatch.setattr(runner_module, "solve", flaky)
    first = make_plan_for(1)
    bad = service.start_solve(first, office_data["user"]).id
    db.session.rollback()
    assert wait_for(bad).status == JobStatus.FAILED
    second = make_plan_for(1)
    good = service.start_solve(second, office_data["user"]).id
    db.session.rollback()
    assert wait_for(good).status == JobStatus.DONE
    assert thread_backend.is_running()


def test_rq_failure_callback_fails_the_job_and_plan(office_data, make_plan_for, app):
    """RQ's failure callback (e.g. a job timeout) marks the row and the plan failed
    (SECURITY rows 39 and 40)."""
    from types import SimpleNamespace

    from outreach.jobs import worker

    plan = make_plan_for(1)
    job = SolveJob(
        id="00000000-0000-4000-8000-000000000009",
        plan_id=plan.id,
        status=JobStatus.RUNNING,
        backend="rq",
    )
    plan.status = PlanStatus.SOLVING
    db.session.add(job)
    job_id, plan_id = job.id, plan.id
    db.session.commit()
    db.session.rollback()  # hold no SQLite lock while the callback writes
    worker.set_app(app)
    try:
        worker.on_rq_failure(
            SimpleNamespace(id=f"solve-{job_id}"), None, TimeoutError, TimeoutError(), None
        )
    finally:
        worker.set_app(None)  # type: ignore[arg-type]
    row = job_row(job_id)
    assert row.status == JobStatus.FAILED and "TimeoutError" in row.error
    assert _plan(plan_id).status == PlanStatus.FAILED


def test_worker_command_needs_redis_url(runner):
    """``flask worker`` refuses to start without REDIS_URL instead of hanging."""
    out = runner.invoke(args=["worker", "--burst"])
    assert out.exit_code == 2 and "REDIS_URL is not set" in out.output
