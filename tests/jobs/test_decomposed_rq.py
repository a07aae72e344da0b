"""Decomposed solves on RQ workers with the real Redis (scale-out issue, items 1 and 4):
parts spread over two workers, and a worker SIGKILLed in a decomposed solve costs one retry
of its part, not the plan."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from outreach.extensions import db
from outreach.models import JobStatus
from outreach.plans import service
from tests.checked_plans import assert_solved_plan_passes_the_checker
from tests.jobs.conftest import job_row, wait_for
from tests.jobs.test_decomposed import _parts, _plan, city  # noqa: F401 - fixture
from tests.jobs.test_jobs_rq import REDIS_URL, _worker, redis_ok  # noqa: F401 - fixture

pytestmark = pytest.mark.redis


@pytest.fixture
def app_config(app_config, redis_ok):  # noqa: F811
    app_config["REDIS_URL"] = REDIS_URL
    app_config["RQ_QUEUE"] = f"test-parts-{uuid.uuid4().hex[:10]}"
    app_config["DECOMPOSE_TARGET_SITES"] = 10
    app_config["PART_STALE_SECONDS"] = 3
    return app_config


@pytest.fixture
def workers(app, monkeypatch):
    """Start RQ workers that see the decomposition settings through the environment."""
    monkeypatch.setenv("DECOMPOSE_TARGET_SITES", "10")
    monkeypatch.setenv("PART_STALE_SECONDS", "3")
    started = []

    def start(n: int) -> list:
        for _ in range(n):
            log = Path(app.instance_path) / f"rq-parts-worker-{len(started)}.log"
            started.append(_worker(app, burst=False, log=log))
        return started

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _solve_on_workers(city, workers, n: int, limit: int) -> tuple[int, str]:  # noqa: F811
    """Queue a decomposed solve of ``city``'s plan, then start ``n`` workers: (plan, job)."""
    plan = _plan(city, limit=limit)
    plan_id = plan.id
    job_id = service.start_solve(plan, city["user"]).id
    db.session.rollback()
    workers(n)
    return plan_id, job_id


def test_parts_run_on_two_workers_and_a_killed_part_is_retried_once(app, city, workers):  # noqa: F811
    """Two workers: the parent job and the parts share them. One part's work horse is
    SIGKILLed mid-solve: its heartbeat stops, the parent queues it again (once), it is solved
    on the second attempt, and the stitched plan is stored and passes the checker. No other
    part ran twice."""
    # the parent claims queued parts itself, from the back of the queue, while the second
    # worker's horse (fork, app, database) starts on the front part: that part is its own
    # however slow the start, unless the parent has solved every other part by then
    plan_id, job_id = _solve_on_workers(city, workers, 2, limit=16)
    parent = wait_for(
        job_id, {JobStatus.RUNNING}, timeout=60, predicate=lambda j: "pid" in (j.progress or {})
    )
    parent_pid = parent.progress["pid"]
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        for r in _parts(job_id):
            pid = int((r.progress or {}).get("pid") or 0)
            if r.status == "running" and pid and pid != parent_pid and r.attempts == 1:
                victim = (r.id, pid)
                break
        time.sleep(0.2)
    assert victim is not None, (
        "no part ran on the second worker",
        parent_pid,
        [(r.status, r.attempts, r.worker, r.progress) for r in _parts(job_id)],
        job_row(job_id).status,
    )
    os.kill(victim[1], signal.SIGKILL)  # the work horse solving that part
    final = wait_for(job_id, timeout=120)
    assert final.status == JobStatus.DONE, final.error
    rows = {r.id: r for r in _parts(job_id)}
    assert rows[victim[0]].attempts == 2 and rows[victim[0]].status == "done"
    assert all(r.attempts == 1 for i, r in rows.items() if i != victim[0])
    assert_solved_plan_passes_the_checker(plan_id)


def test_the_parent_alone_takes_the_parts_from_the_back_of_the_queue(app, city, workers):  # noqa: F811
    """One worker: the parent job solves every part itself, last part first, since RQ
    hands a second worker's horse the parts first to last; taking the front part, it would
    take the very part such a horse was starting on. Each part runs once, and the plan is
    stored and checked."""
    plan_id, job_id = _solve_on_workers(city, workers, 1, limit=6)
    final = wait_for(job_id, timeout=120)
    assert final.status == JobStatus.DONE, final.error
    rows = _parts(job_id)
    assert len(rows) >= 2
    assert all(r.status == "done" and r.attempts == 1 for r in rows)
    started = [r.index for r in sorted(rows, key=lambda r: r.started_at)]
    assert started == sorted(started, reverse=True)
    assert_solved_plan_passes_the_checker(plan_id)
