"""The RQ backend against the real Redis at 127.0.0.1:6379 (skipped when unreachable)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach import jobs
from outreach.extensions import db
from outreach.jobs import rq_backend
from outreach.models import JobStatus, Plan, PlanStatus, SolveJob
from outreach.plans import service
from tests.checked_plans import assert_solved_plan_passes_the_checker
from tests.jobs.conftest import job_row, wait_for

pytestmark = pytest.mark.redis

REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]
RQ = str(Path(sys.executable).with_name("rq"))


@pytest.fixture
def redis_ok():
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except (RedisError, OSError):
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable")


@pytest.fixture
def app_config(app_config, redis_ok):
    """Point the app at Redis with a queue of its own (other tests share the server)."""
    app_config["REDIS_URL"] = REDIS_URL
    app_config["RQ_QUEUE"] = f"test-solve-{uuid.uuid4().hex[:10]}"
    return app_config


def _worker(app, *, burst: bool, log: Path | None = None, flask: bool = False) -> subprocess.Popen:
    """Start ``rq worker`` (or ``flask --app outreach worker``) in its own process group,
    configured like the app through the environment only."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "REDIS_URL": REDIS_URL,
        "PYTHONPATH": str(ROOT),
    }
    if flask:
        flask_bin = str(Path(sys.executable).with_name("flask"))
        args = [flask_bin, "--app", "outreach", "worker", "--queue", app.config["RQ_QUEUE"]]
    else:
        args = [RQ, "worker", "--url", REDIS_URL, "-q", app.config["RQ_QUEUE"]]
    if burst:
        args.append("--burst")
    log = log or Path(app.instance_path) / "rq-worker.log"
    with open(log, "ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=out
        )


def _plan(plan_id: int) -> Plan:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Plan, plan_id)


def test_rq_job_runs_in_a_worker_to_done(app, office_data, make_plan_for):
    """Enqueue with a deterministic id and a timeout above the limit; a burst worker solves
    (SECURITY row 40)."""
    from rq.job import Job

    plan = make_plan_for(1)
    plan_id = plan.id
    job_id = service.start_solve(plan, office_data["user"]).id
    db.session.rollback()
    rq_job = Job.fetch(rq_backend.rq_job_id(job_id), connection=rq_backend.connection(app))
    assert rq_job.timeout == 1 + jobs.DEFAULT_GRACE_S
    proc = _worker(app, burst=True)
    try:
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    job = job_row(job_id)
    assert job.status == JobStatus.DONE, job.error
    assert job.backend == "rq"
    assert_solved_plan_passes_the_checker(plan_id)


def test_killed_worker_is_reconciled_and_a_retry_succeeds(app, office_data, make_plan_for):
    """SIGKILL mid-solve: the reconciler fails job and plan; a new solve then finishes
    (SECURITY row 39)."""
    plan = make_plan_for(40)
    plan_id = plan.id
    job_id = service.start_solve(plan, office_data["user"]).id
    db.session.rollback()
    proc = _worker(app, burst=False)
    try:
        running = wait_for(
            job_id,
            {JobStatus.RUNNING},
            timeout=60,
            predicate=lambda j: "elapsed_s" in (j.progress or {}),
        )
        horse = running.progress["pid"]
        assert horse != proc.pid  # the solve runs in RQ's forked work horse
        os.kill(horse, signal.SIGKILL)  # out of memory, say
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # and the worker itself
        proc.wait(timeout=10)
    time.sleep(1.5)
    assert job_id in jobs.reconcile_stuck_jobs(stale_after_s=1)
    assert job_row(job_id).status == JobStatus.FAILED
    plan = _plan(plan_id)
    assert plan.status == PlanStatus.FAILED
    assert not plan.publications

    plan.params = {**plan.params, "time_limit_s": 1}
    db.session.commit()
    retry_id = service.start_solve(_plan(plan_id), office_data["user"]).id
    db.session.rollback()
    proc = _worker(app, burst=True, flask=True)  # the documented entry point
    try:
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert job_row(retry_id).status == JobStatus.DONE
    assert _plan(plan_id).status == PlanStatus.SOLVED
    db.session.rollback()


def test_redis_down_fails_fast_with_503_and_changes_nothing(app, office_data, make_plan_for):
    """A closed port: QueueUnavailable (503) in under 3 s; the plan stays draft, no job row
    (SECURITY row 45)."""
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    plan = make_plan_for(1)
    version = plan.version_id
    t0 = time.monotonic()
    with pytest.raises(jobs.QueueUnavailable) as err:
        service.start_solve(plan, office_data["user"])
    assert time.monotonic() - t0 < 3
    assert err.value.status == 503 and "coba lagi" in err.value.message
    plan = _plan(plan.id)
    assert (plan.status, plan.version_id) == (PlanStatus.DRAFT, version)
    assert db.session.scalar(sa.select(sa.func.count(SolveJob.id))) == 0
