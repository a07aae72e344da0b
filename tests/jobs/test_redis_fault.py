"""Fault drill, issue 13 item 4: Redis stopped mid-solve.

Each test runs its own ``redis-server`` (a free port chosen at runtime, ``--save ''
--appendonly no``, in a temporary directory), a SQLite file database and real RQ workers
(``flask --app outreach worker``, started with the helper of ``test_jobs_rq``); nothing is
mocked. The shared Redis at 127.0.0.1:6379 is never touched. Skipped when ``redis-server`` is
not installed.

What really happens when Redis disappears while a work horse solves (RQ 3, redis-py 8):

* The solve needs no Redis: the runner reads the plan, solves, writes progress and heartbeats
  and stores the result in the database only. So the work horse finishes and **stores the
  plan**; only afterwards does RQ's own bookkeeping (job heartbeat, result, registries) fail,
  and the horse exits with status 1 without running the failure callback.
* The worker process quits ("found an unhandled exception, quitting") at its first Redis call
  after the outage: when the horse ends, or at its next job-monitoring heartbeat (30 s) if the
  solve runs longer; the horse is in its own process group and keeps solving. A supervisor
  restarts the worker.
* If the horse dies as well (a host restart, or a supervisor that stops the worker's whole
  control group), the job row keeps ``running`` with a heartbeat that no longer moves, and
  :func:`outreach.jobs.reconcile_stuck_jobs` fails job and plan with an Indonesian message,
  even while Redis is still down.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach import jobs
from outreach.extensions import db
from outreach.models import JobStatus, PlanStatus, SolveJob
from outreach.plans import service
from outreach.plans.service import PlanConflict
from tests.checked_plans import assert_solved_plan_passes_the_checker
from tests.factories import login
from tests.jobs import test_jobs_rq
from tests.jobs.conftest import job_row, wait_for

pytestmark = pytest.mark.slow

FAST_S = 2.0  # "the web answers": every page well under the 3 s a coordinator waits


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """One ``redis-server`` process of the test's own, restartable on the same port."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.dir / "redis.log"
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                raise RuntimeError(
                    f"private redis-server on port {self.port} did not start\n{tail}"
                )
            time.sleep(0.05)

    def answers(self) -> bool:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError
        from redis.retry import Retry

        client = Redis.from_url(
            self.url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        try:
            return bool(client.ping())
        except (RedisError, OSError):
            return False
        finally:
            client.close()

    def stop(self, sig: signal.Signals = signal.SIGKILL) -> None:
        assert self.proc is not None and self.proc.poll() is None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL ends a SIGSTOPped server too
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "redis-server is not installed (Debian: apt-get install redis-server); the Redis "
            "fault drill (issue 13 item 4) starts a private server and stops it"
        )
    server = PrivateRedis(binary, tmp_path / "redis")
    for attempt in range(3):  # the free port may be taken between the probe and the bind
        try:
            server.start()
            break
        except RuntimeError:
            server.close()
            if attempt == 2:
                raise
            server.port = _free_port()
    yield server
    server.close()


@pytest.fixture
def app_config(app_config, private_redis, tmp_path):
    """The app on the private Redis and on a SQLite file (never the shared PostgreSQL)."""
    app_config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'fault.sqlite3'}"
    app_config["REDIS_URL"] = private_redis.url
    app_config["RQ_QUEUE"] = "jemput-solve-fault"
    return app_config


@pytest.fixture
def start_worker(app, private_redis, monkeypatch, tmp_path):
    """Start ``flask --app outreach worker`` on the private Redis (``test_jobs_rq._worker``);
    every worker, and every work horse handed to ``track_horse``, is killed at the end."""
    monkeypatch.setattr(test_jobs_rq, "REDIS_URL", private_redis.url)
    procs: list[subprocess.Popen] = []
    horses: list[int] = []

    def start(*, burst: bool) -> subprocess.Popen:
        proc = test_jobs_rq._worker(app, burst=burst, flask=True, log=tmp_path / "worker.log")
        procs.append(proc)
        return proc

    start.track_horse = horses.append  # type: ignore[attr-defined]
    yield start
    for pid in horses:
        _kill_horse(pid)
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _kill_horse(pid: int) -> None:
    """SIGKILL an RQ work horse (its own process group leader, a child of a worker)."""
    try:
        if os.getpgid(pid) == pid and "worker" in Path(f"/proc/{pid}/cmdline").read_text():
            os.kill(pid, signal.SIGKILL)
    except OSError:
        return
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _get(client, url: str):
    """GET through the test client; return the response and its time. Ends the read
    transaction at once (SQLite: the worker needs the write lock)."""
    t0 = time.monotonic()
    response = client.get(url)
    took = time.monotonic() - t0
    db.session.rollback()
    return response, took


def _assert_web_answers_without_redis(client, plan_id: int, job_id: str) -> dict:
    """The coordinator's pages and the job status answer fast; /readyz says Redis is down
    (503), /healthz stays 200. Returns the job status JSON."""
    for url in (f"/coord/plans/{plan_id}", f"/coord/jobs/{job_id}"):
        response, took = _get(client, url)
        assert response.status_code == 200, url
        assert took < FAST_S, (url, took)
    response, took = _get(client, f"/coord/jobs/{job_id}.json")
    assert response.status_code == 200 and took < FAST_S, took
    status = response.get_json()
    response, took = _get(client, f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200 and took < FAST_S, took
    assert response.get_json()["id"] == job_id
    ready, took = _get(client, "/readyz")
    assert ready.status_code == 503 and took < FAST_S, took
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "unavailable"}
    health, took = _get(client, "/healthz")
    assert health.status_code == 200 and took < FAST_S, took
    return status


def _retry_succeeds(app, client, plan_id: int, user, private_redis, start_worker) -> None:
    """Redis back on the same port (empty), a new worker: a new solve ends solved with routes."""
    private_redis.start()
    assert _get(client, "/readyz")[0].status_code == 200
    plan = test_jobs_rq._plan(plan_id)
    plan.params = {**plan.params, "time_limit_s": 1}
    db.session.commit()
    retry_id = service.start_solve(test_jobs_rq._plan(plan_id), user).id
    db.session.rollback()
    start_worker(burst=True)
    retry = wait_for(retry_id, timeout=40)
    assert retry.status == JobStatus.DONE, retry.error
    assert_solved_plan_passes_the_checker(plan_id)


def test_redis_killed_mid_solve_the_plan_is_stored_and_a_retry_succeeds(
    app, client, office_data, make_plan_for, private_redis, start_worker
):
    """Issue 13 item 4: Redis stopped mid-solve, the work horse survives.

    redis-server is SIGKILLed while the job is ``running`` (progress written). The web keeps
    answering (plan page, job page, job status JSON and API in well under 3 s; /readyz 503
    with Redis unavailable, /healthz 200) and the progress keeps moving.

    Choice, for the coordinator: the solve does not need Redis, so the horse finishes and the
    runner stores its plan; that plan is complete and passes the checker. It is kept: the job
    ends ``done`` without an error and the plan ``solved``. Failing it because the queue's
    bookkeeping was lost would throw away a correct plan and make the coordinator solve again
    for nothing. (When the horse dies with Redis, see the next test: then the plan fails.)

    Redis restarted on the same port and a new worker: a retry (a new solve) ends solved with
    routes.
    """
    user = office_data["user"]
    login(client, user)
    plan = make_plan_for(5)
    plan_id = plan.id
    job_id = service.start_solve(plan, user).id
    db.session.rollback()
    start_worker(burst=False)
    running = wait_for(
        job_id, {JobStatus.RUNNING}, timeout=30, predicate=lambda j: "elapsed_s" in j.progress
    )
    start_worker.track_horse(running.progress["pid"])

    private_redis.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    status = _assert_web_answers_without_redis(client, plan_id, job_id)
    assert status["status"] == "running" and status["error"] is None, status
    # the solve goes on without Redis: its heartbeat and progress keep moving
    later = wait_for(
        job_id,
        {JobStatus.RUNNING, JobStatus.DONE},
        timeout=10,
        predicate=lambda j: j.heartbeat_at > running.heartbeat_at,
    )
    assert later.progress["elapsed_s"] > running.progress["elapsed_s"]

    job = wait_for(job_id, timeout=30)
    assert time.monotonic() - killed_at < 30
    assert job.status == JobStatus.DONE and not job.error, job.error
    assert job.progress["solver_status"] == "ROUTING_SUCCESS"
    assert_solved_plan_passes_the_checker(plan_id)
    body, _ = _get(client, f"/coord/jobs/{job_id}.json")
    assert body.get_json()["status"] == "done" and body.get_json()["error"] is None

    _retry_succeeds(app, client, plan_id, user, private_redis, start_worker)


def test_redis_and_its_worker_lost_mid_solve_fail_the_plan_with_a_message(
    app, client, office_data, make_plan_for, private_redis, start_worker
):
    """Issue 13 item 4: Redis stopped mid-solve, and the worker with it.

    redis-server is SIGKILLed while the job is ``running``, together with the RQ worker and
    its work horse (a host restart, or a supervisor that stops the worker's whole control group
    once the worker quits on the lost connection). The web keeps answering; the job status
    still says ``running`` and a new solve is refused (409) while the plan is ``solving``.

    The reconciler (``flask reconcile-jobs``, here with a 1 s stale setting) fails job and plan
    while Redis is still down, within a few seconds and with a message in Indonesian that
    reaches the coordinator's job status. A solve asked for while Redis is down is refused at
    once (503) and changes nothing; with Redis back on the same port and a new worker, the
    retry ends solved with routes.
    """
    user = office_data["user"]
    login(client, user)
    plan = make_plan_for(30)
    plan_id = plan.id
    job_id = service.start_solve(plan, user).id
    db.session.rollback()
    worker = start_worker(burst=False)
    running = wait_for(
        job_id, {JobStatus.RUNNING}, timeout=30, predicate=lambda j: "elapsed_s" in j.progress
    )
    horse = running.progress["pid"]
    start_worker.track_horse(horse)

    private_redis.stop(signal.SIGKILL)
    _kill_horse(horse)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    lost_at = time.monotonic()

    status = _assert_web_answers_without_redis(client, plan_id, job_id)
    assert status["status"] == "running", status
    with pytest.raises(PlanConflict):
        service.start_solve(test_jobs_rq._plan(plan_id), user)
    db.session.rollback()

    time.sleep(1.2)  # the heartbeat is now older than the stale setting
    t0 = time.monotonic()
    assert jobs.reconcile_stuck_jobs(stale_after_s=1) == [job_id]
    assert time.monotonic() - t0 < FAST_S
    assert time.monotonic() - lost_at < 10
    db.session.rollback()
    job = job_row(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error and "perhitungan" in job.error.lower(), job.error
    plan = test_jobs_rq._plan(plan_id)
    assert plan.status == PlanStatus.FAILED and not plan.publications
    db.session.rollback()
    body, _ = _get(client, f"/coord/jobs/{job_id}.json")
    assert body.get_json()["status"] == "failed" and body.get_json()["error"] == job.error

    t0 = time.monotonic()
    with pytest.raises(jobs.QueueUnavailable) as err:
        service.start_solve(test_jobs_rq._plan(plan_id), user)
    assert time.monotonic() - t0 < FAST_S and err.value.status == 503
    plan = test_jobs_rq._plan(plan_id)
    assert plan.status == PlanStatus.FAILED
    assert db.session.scalar(sa.select(sa.func.count(SolveJob.id))) == 1
    db.session.rollback()

    _retry_succeeds(app, client, plan_id, user, private_redis, start_worker)


def test_hung_redis_keeps_the_web_and_the_reconciler_fast(
    app, client, office_data, make_plan_for, private_redis
):
    """Issue 13 item 4: Redis stopped mid-solve, as a hung server (SIGSTOP: it accepts
    connections and never answers).

    The web answers and /readyz says 503; a new solve is refused with 503 in under 3 s; the
    reconciler fails the jobs the queue lost (here three queued jobs and a 1 s setting) after
    one Redis timeout in all, not one per job (``rq_backend.states`` stops at the first error).
    """
    user = office_data["user"]
    login(client, user)
    ids = []
    for _ in range(3):
        plan = make_plan_for(1)
        ids.append(service.start_solve(plan, user).id)
        db.session.rollback()
    other = make_plan_for(1)
    other_id = other.id
    db.session.rollback()

    private_redis.proc.send_signal(signal.SIGSTOP)
    try:
        for url in (f"/coord/jobs/{ids[0]}", f"/coord/jobs/{ids[0]}.json", "/healthz"):
            response, took = _get(client, url)
            assert response.status_code == 200 and took < FAST_S, (url, took)
        ready, took = _get(client, "/readyz")
        assert ready.status_code == 503 and took < 3, took

        t0 = time.monotonic()
        with pytest.raises(jobs.QueueUnavailable):
            service.start_solve(test_jobs_rq._plan(other_id), user)
        assert time.monotonic() - t0 < 3
        assert test_jobs_rq._plan(other_id).status == PlanStatus.DRAFT
        db.session.rollback()

        time.sleep(1.1)
        t0 = time.monotonic()
        failed = jobs.reconcile_stuck_jobs(queued_stale_after_s=1)
        took = time.monotonic() - t0
        assert sorted(failed) == sorted(ids)
        assert took < 2.5, f"reconcile took {took:.1f} s against a hung Redis"
        for job_id in ids:
            job = job_row(job_id)
            assert job.status == JobStatus.FAILED and "perhitungan" in job.error.lower()
    finally:
        private_redis.proc.send_signal(signal.SIGCONT)
