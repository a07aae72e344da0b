"""Background solves: a ``SolveJob`` row is the job (its uuid is the job id).

Backends, chosen by configuration:

* ``thread`` (default): one in-process worker thread and a small queue, started lazily on
  the first enqueue (never in the app factory). Jobs queued in memory are lost when the
  process stops; the reconciler marks them failed.
* ``rq`` (when ``REDIS_URL`` is set): RQ on Redis with a deterministic RQ job id
  (``solve-<job id>``) and ``job_timeout`` = solver time limit + grace, so the solver's own
  limit always ends the search first. Run a worker with ``flask --app outreach worker``
  (builds the app once per worker process) or ``rq worker --url $REDIS_URL jemput-solve``.
* ``inline``: run in the calling thread after the commit (tests, scripts).

Progress (best residents served, km, elapsed) and a heartbeat are written to the job row at
most every ``JOB_PROGRESS_INTERVAL_S`` (0.5 s). Cancelling sets ``cancel_requested``; the
runner's poller sees it and stops the solver, which returns its best plan so far; that plan is
stored. :func:`reconcile_stuck_jobs` (CLI ``flask reconcile-jobs``) fails jobs whose heartbeat
went stale and puts their plans in ``failed``; a new solve is then possible.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from ..extensions import db
from ..models import JobStatus, Plan, PlanStatus, SolveJob, User, audit, utcnow
from ..plans.service import SolveQueue, _commit, install_solve_queue
from .state import (
    DEFAULT_GRACE_S,
    DEFAULT_QUEUED_STALE_S,
    DEFAULT_STALE_S,
    DEFAULT_TIME_LIMIT_S,
    QueueUnavailable,
    backend_name,
    job_timeout_for,
    mark_failed,
    restored_status,
    time_limit_for,
)

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Hand the plan services this package's queue (the app factory calls it).

    The services never import the jobs package (which runs them): they reach the queue
    through the app, so dependencies point one way: jobs → plans services → planning.
    """
    install_solve_queue(app, SolveQueue(enqueue=enqueue_solve, cancel=request_cancel))


def enqueue_solve(plan: Plan, user: User | None) -> SolveJob:
    """Create the job row, put the plan in ``solving``, commit, and hand the job to the backend.

    With RQ, Redis is pinged first (short socket timeouts), so an unreachable Redis raises
    :class:`QueueUnavailable` before anything changes; if the enqueue itself fails after
    the commit, the job is removed and the plan's status restored.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    backend = backend_name(app)
    if backend == "rq":
        from . import rq_backend

        rq_backend.ping(app)
    limit = time_limit_for(plan, app)
    previous = plan.status
    job = SolveJob(
        id=str(uuid.uuid4()),
        plan_id=plan.id,
        status=JobStatus.QUEUED,
        backend=backend,
        progress={"time_limit_s": limit, "previous_status": str(previous.value)},
    )
    db.session.add(job)
    plan.status = PlanStatus.SOLVING
    plan.updated_at = utcnow()
    audit("plan.solve", plan, user, job=job.id, backend=backend)
    _commit()
    try:
        _submit(app, backend, job.id, limit)
    except QueueUnavailable:
        db.session.rollback()
        row = db.session.get(SolveJob, job.id)
        if row is not None:
            db.session.delete(row)
        plan.status = previous
        db.session.commit()
        raise
    return job


def _submit(app: Flask, backend: str, job_id: str, limit_s: int) -> None:
    if backend == "rq":
        from . import rq_backend

        rq_backend.submit(app, job_id, job_timeout_for(limit_s, app))
    elif backend == "inline":
        from .runner import run_solve_job

        run_solve_job(job_id)
    else:
        from . import thread_backend

        thread_backend.submit(app, job_id)


def request_cancel(job: SolveJob, user: User | None = None) -> SolveJob:
    """Cancel a job: a queued one at once, a running one at the solver's next check.

    Idempotent: cancelling a finished job changes nothing.
    """
    job_id = job.id
    result = db.session.execute(
        sa.update(SolveJob)
        .where(SolveJob.id == job_id, SolveJob.status == JobStatus.QUEUED)
        .values(status=JobStatus.CANCELLED, cancel_requested=True, finished_at=utcnow())
    )
    if result.rowcount:
        plan = db.session.get(Plan, job.plan_id)
        if plan is not None and plan.status == PlanStatus.SOLVING:
            plan.status = restored_status(plan, job)
            plan.updated_at = utcnow()
        if job.backend == "rq":
            from . import rq_backend

            rq_backend.cancel_quietly(current_app._get_current_object(), job_id)  # type: ignore[attr-defined]
    else:
        db.session.execute(
            sa.update(SolveJob)
            .where(SolveJob.id == job_id, SolveJob.status == JobStatus.RUNNING)
            .values(cancel_requested=True)
        )
    audit("job.cancel", job, user)
    db.session.commit()
    row = db.session.get(SolveJob, job_id)
    assert row is not None
    return row


def _aware(dt: datetime | None) -> datetime | None:
    from datetime import UTC

    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def reconcile_stuck_jobs(
    *,
    now: datetime | None = None,
    stale_after_s: float | None = None,
    queued_stale_after_s: float | None = None,
) -> list[str]:
    """Fail jobs that can no longer finish, and their plans; return their ids.

    A running job whose heartbeat (or start) is older than ``stale_after_s`` lost its worker
    (killed, out of memory, restarted). A queued job older than ``queued_stale_after_s`` was
    lost with its queue. An RQ job that RQ itself reports failed or stopped is failed at once.
    """
    cfg = current_app.config
    now = now or utcnow()
    stale = timedelta(seconds=stale_after_s or cfg.get("JOB_STALE_SECONDS", DEFAULT_STALE_S))
    queued_stale = timedelta(
        seconds=queued_stale_after_s or cfg.get("JOB_QUEUED_STALE_SECONDS", DEFAULT_QUEUED_STALE_S)
    )
    rows = list(
        db.session.scalars(
            sa.select(SolveJob).where(SolveJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        )
    )
    rq_states: dict[str, str | None] = {}
    if any(r.backend == "rq" for r in rows):
        from . import rq_backend

        rq_states = rq_backend.states(
            current_app._get_current_object(), [r.id for r in rows if r.backend == "rq"]
        )  # type: ignore[attr-defined]
    failed: list[str] = []
    for job in rows:
        reason = None
        if job.status == JobStatus.RUNNING:
            last = _aware(job.heartbeat_at) or _aware(job.started_at) or _aware(job.created_at)
            if last is not None and now - last > stale:
                reason = "Proses perhitungan berhenti tanpa kabar (worker mati atau dimulai ulang)."
        else:
            created = _aware(job.created_at)
            if created is not None and now - created > queued_stale:
                reason = "Antrean perhitungan hilang sebelum dimulai."
        if reason is None and rq_states.get(job.id) in ("failed", "stopped", "canceled"):
            reason = "Worker antrean melaporkan perhitungan gagal atau dihentikan."
        if reason is None:
            continue
        mark_failed(job, reason)
        failed.append(job.id)
    if failed:
        db.session.commit()
    return failed


def get_job(job_id: str) -> SolveJob | None:
    """The job row, or ``None`` (ids are uuids; anything else is simply not found)."""
    if not isinstance(job_id, str) or len(job_id) > 36:
        return None
    return db.session.get(SolveJob, job_id)


__all__ = [
    "DEFAULT_GRACE_S",
    "DEFAULT_QUEUED_STALE_S",
    "DEFAULT_STALE_S",
    "DEFAULT_TIME_LIMIT_S",
    "QueueUnavailable",
    "backend_name",
    "enqueue_solve",
    "get_job",
    "init_app",
    "job_timeout_for",
    "mark_failed",
    "reconcile_stuck_jobs",
    "request_cancel",
    "restored_status",
    "time_limit_for",
]
