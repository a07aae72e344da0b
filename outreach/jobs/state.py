"""Job settings and row states shared by the enqueue side (:mod:`outreach.jobs`), the runner and
the backends: the queue error, the backend and time-limit settings, and failing a job.

Kept apart from the package's ``__init__`` so the runner and the backends import it, and the
package imports them, without either importing the other back.
"""

from __future__ import annotations

from flask import Flask, current_app

from ..errors import ServiceUnavailable
from ..extensions import db
from ..models import JobStatus, Plan, PlanStatus, SolveJob, audit, utcnow

DEFAULT_GRACE_S = 60
DEFAULT_STALE_S = 120
DEFAULT_QUEUED_STALE_S = 3600
DEFAULT_TIME_LIMIT_S = 30


class QueueUnavailable(ServiceUnavailable):
    """The job queue (Redis) cannot be reached; nothing was queued or changed."""

    code = "queue_unavailable"


def backend_name(app: Flask | None = None) -> str:
    """``JOB_BACKEND`` if set, else ``rq`` when ``REDIS_URL`` is set, else ``thread``."""
    cfg = (app or current_app).config
    name = cfg.get("JOB_BACKEND")
    if name:
        return str(name)
    return "rq" if cfg.get("REDIS_URL") else "thread"


def time_limit_for(plan: Plan, app: Flask | None = None) -> int:
    """The solver's time limit for ``plan``: its own setting, capped by ``SOLVER_MAX_SECONDS``."""
    cfg = (app or current_app).config
    cap = int(cfg.get("SOLVER_MAX_SECONDS", 600))
    wanted = int((plan.params or {}).get("time_limit_s") or DEFAULT_TIME_LIMIT_S)
    return max(1, min(wanted, cap))


def job_timeout_for(limit_s: int, app: Flask | None = None) -> int:
    """Hard timeout of the queue job: always above the solver's own limit."""
    cfg = (app or current_app).config
    return int(limit_s) + int(cfg.get("JOB_GRACE_SECONDS", DEFAULT_GRACE_S))


def restored_status(plan: Plan, job: SolveJob) -> PlanStatus:
    """The status a plan returns to when its solve ends without a new result."""
    prev = (job.progress or {}).get("previous_status")
    if plan.routes:
        if prev in (PlanStatus.PUBLISHED.value, PlanStatus.SOLVED.value):
            return PlanStatus(prev)
        return PlanStatus.SOLVED
    return PlanStatus.DRAFT


def mark_failed(job: SolveJob, message: str) -> None:
    """Fail ``job`` and put its plan in ``failed`` if it is still solving (caller commits)."""
    job.status = JobStatus.FAILED
    job.error = message[:1000]
    job.finished_at = utcnow()
    plan = db.session.get(Plan, job.plan_id)
    if plan is not None and plan.status == PlanStatus.SOLVING:
        plan.status = PlanStatus.FAILED
        plan.updated_at = utcnow()
    audit("job.failed", job, None, message=message[:200])
