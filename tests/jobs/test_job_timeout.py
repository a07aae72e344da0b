"""A solve that runs past the queue's job timeout (a hung first-solution phase) ends as a
failed job and a failed plan with a message, on a real RQ worker and Redis at 127.0.0.1:6379
(skipped when Redis is unreachable); see issue 12."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from outreach import jobs
from outreach.extensions import db
from outreach.jobs import rq_backend
from outreach.models import JobStatus, Plan, PlanStatus
from outreach.plans import service
from tests.factories import login
from tests.jobs.conftest import job_row

pytestmark = pytest.mark.redis

REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 2  # job timeout = solver limit (1 s) + this
STUB_SLEEP_S = 60  # far past the job timeout

# An RQ worker whose solver hangs: the work horse it forks inherits the stub.
WORKER = r"""
import os, time
from redis import Redis
from rq import Queue, Worker
from outreach.jobs import runner

def hung_solve(*args, **kwargs):
    time.sleep(float(os.environ["JB_STUB_SLEEP_S"]))
    raise AssertionError("the queue's job timeout did not stop the solve")

runner.solve = hung_solve
connection = Redis.from_url(os.environ["REDIS_URL"])
queue = Queue(os.environ["JB_QUEUE"], connection=connection)
Worker([queue], connection=connection).work(burst=True)
"""


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
    """RQ on a queue of its own, with a short grace so the job timeout comes quickly."""
    app_config["REDIS_URL"] = REDIS_URL
    app_config["RQ_QUEUE"] = f"test-timeout-{uuid.uuid4().hex[:10]}"
    app_config["JOB_GRACE_SECONDS"] = GRACE_S
    return app_config


def test_a_solve_past_the_job_timeout_fails_job_and_plan_with_a_message(
    app, client, office_data, make_plan_for, tmp_path
):
    """A stub solver that sleeps far past the job timeout: the worker ends the job at the
    timeout, the job and the plan are failed, the message names the timeout and reaches the
    coordinator's progress JSON, and nothing is published (SECURITY row 40)."""
    from rq.job import Job

    plan = make_plan_for(1)
    plan_id, user = plan.id, office_data["user"]
    job_id = service.start_solve(plan, user).id
    db.session.rollback()
    rq_job = Job.fetch(rq_backend.rq_job_id(job_id), connection=rq_backend.connection(app))
    assert rq_job.timeout == 1 + GRACE_S == jobs.job_timeout_for(1, app)

    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "REDIS_URL": REDIS_URL,
        "PYTHONPATH": str(ROOT),
        "JB_QUEUE": app.config["RQ_QUEUE"],
        "JB_STUB_SLEEP_S": str(STUB_SLEEP_S),
    }
    log = tmp_path / "rq-timeout-worker.log"
    started = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=out,
            stderr=out,
        )
    try:
        proc.wait(timeout=STUB_SLEEP_S - 10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert time.monotonic() - started < STUB_SLEEP_S - 10, "the worker waited for the stub"

    # RQ itself records the failure (not "Job OK"): the runner re-raises the timeout
    from rq import Queue
    from rq.registry import FailedJobRegistry

    queue = Queue(app.config["RQ_QUEUE"], connection=rq_backend.connection(app))
    assert rq_backend.rq_job_id(job_id) in FailedJobRegistry(queue=queue).get_job_ids()

    job = job_row(job_id)
    assert job.status == JobStatus.FAILED, (job.status, log.read_text(errors="replace")[-2000:])
    assert "Timeout" in (job.error or ""), job.error
    db.session.expire_all()
    plan = db.session.get(Plan, plan_id)
    assert plan.status == PlanStatus.FAILED
    assert not plan.publications and plan.published_version == 0
    db.session.rollback()

    login(client, user)
    body = client.get(f"/coord/jobs/{job_id}.json").get_json()
    assert body["status"] == "failed" and body["done"] is True
    assert body["error"] == job.error
