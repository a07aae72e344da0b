"""Run one solve job inside an app context (any backend calls :func:`run_solve_job`).

A plan with ``params["replan_from"]`` is re-planned from that date on only; earlier days are
kept as they are (see :mod:`outreach.plans.adapter`).

The solve itself holds no database transaction: with SQLite every transaction starts with
``BEGIN IMMEDIATE`` (a write lock), so the runner reads what it needs, commits, solves, and a
small poller thread writes progress and the heartbeat in short transactions of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from ..extensions import db
from ..models import JobStatus, Plan, PlanStatus, SolveJob, utcnow
from ..planning import Progress, SolveParams, solve
from ..planning.result import FEASIBLE_STATUSES, Result
from ..plans import adapter
from ..plans.service import validate
from . import parts
from .state import mark_failed, restored_status, time_limit_for

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5
# Statuses after which the stored plan is usable (the best plan found, even if cancelled).
USABLE_STATUSES = FEASIBLE_STATUSES | {"CANCELLED", "NO_VEHICLES"}


def travel_from_config(app: Flask) -> Any:
    """The travel model: an OSRM server when ``OSRM_URL`` is set, else great circle."""
    url = app.config.get("OSRM_URL")
    if url:
        from ..planning import OsrmTableProvider

        return OsrmTableProvider(url)
    return None


class _Poller:
    """Writes the latest progress and a heartbeat; turns ``cancel_requested`` into an event."""

    def __init__(self, app: Flask, job_id: str, limit_s: int, interval: float) -> None:
        self.app = app
        self.job_id = job_id
        self.limit_s = limit_s
        self.interval = interval
        self.cancel = threading.Event()
        self.latest: Progress | None = None
        self.t0 = time.monotonic()
        # a decomposed solve's parts and their sums (see :mod:`outreach.jobs.parts`)
        self.extra: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def on_progress(self, p: Progress) -> None:
        # Called in the solver thread at each improving solution: only remember it.
        self.latest = p

    def set_extra(self, extra: dict[str, Any]) -> None:
        # Called by the parent of a decomposed solve: written with the next heartbeat.
        self.extra = dict(extra)

    def snapshot(self) -> dict[str, Any]:
        p = self.latest
        elapsed = time.monotonic() - self.t0
        out: dict[str, Any] = {
            "pid": os.getpid(),
            "elapsed_s": round(elapsed, 2),
            "time_limit_s": self.limit_s,
            "percent": min(100, round(100 * elapsed / max(1, self.limit_s))),
        }
        if p is not None:
            out.update(
                persons_served=int(p.persons_served),
                persons_requested=int(p.persons_requested),
                distance_km=round(float(p.distance_km), 3),
            )
        out.update(self.extra)
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.app.app_context():
                    self.write()
            except Exception:  # a failed progress write must never kill the solve
                log.exception("progress write failed for job %s", self.job_id)

    def write(self) -> None:
        now = utcnow()
        db.session.execute(
            sa.update(SolveJob)
            .where(SolveJob.id == self.job_id)
            .values(progress=self.snapshot(), heartbeat_at=now)
        )
        wanted = db.session.scalar(
            sa.select(SolveJob.cancel_requested).where(SolveJob.id == self.job_id)
        )
        db.session.commit()
        if wanted:
            self.cancel.set()


def _is_queue_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is RQ's job timeout (raised inside the solve by the work horse)."""
    try:
        from rq.timeouts import BaseTimeoutException
    except ImportError:  # pragma: no cover - rq is a requirement
        return False
    return isinstance(exc, BaseTimeoutException)


def run_solve_job(job_id: str) -> str:
    """Solve the plan of job ``job_id`` and store the result; return the job's final status.

    Safe to call twice: only a job still ``queued`` is started (a conditional update claims
    it), so a retried or duplicated delivery does nothing.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    claimed = db.session.execute(
        sa.update(SolveJob)
        .where(SolveJob.id == job_id, SolveJob.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            started_at=utcnow(),
            heartbeat_at=utcnow(),
            # Which process runs it: operators (and the kill test) can find it.
            progress={"pid": os.getpid(), "host": socket.gethostname()[:60]},
        )
    ).rowcount
    db.session.commit()
    if not claimed:
        job = db.session.get(SolveJob, job_id)
        return str(job.status.value) if job is not None else "missing"
    job = db.session.get(SolveJob, job_id)
    assert job is not None
    plan = db.session.get(Plan, job.plan_id)
    if plan is None:
        mark_failed(job, "Rencana sudah dihapus.")
        db.session.commit()
        return JobStatus.FAILED.value
    plan_id = plan.id
    try:
        limit = time_limit_for(plan, app)
        seed = int((plan.params or {}).get("seed") or 0)
        # A re-plan of the remaining days (params["replan_from"]) solves only from that date;
        # the request is consumed here, so a failed or later solve never reuses a stale date.
        built = adapter.problem_for_plan(
            plan,
            with_locks=True,
            travel=travel_from_config(app),
            live_demand=True,
            from_date=adapter.replan_from(plan),
        )
        params = SolveParams(time_limit_s=float(limit), seed=seed)
        decomposed = parts.should_decompose(app, plan.params, built.problem)
        backend = job.backend
        group_of = {
            str(h.id): h.kecamatan_code for h in built.hotspots.values() if h.kecamatan_code
        }
        if "replan_from" in (plan.params or {}):
            plan.params = {k: v for k, v in plan.params.items() if k != "replan_from"}
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(SolveJob, job_id)
        assert job is not None
        mark_failed(job, f"Data rencana tidak dapat dipakai: {exc}")
        db.session.commit()
        return JobStatus.FAILED.value
    # End the read transaction before the long solve (SQLite: BEGIN IMMEDIATE holds the lock).
    db.session.commit()

    interval = float(app.config.get("JOB_PROGRESS_INTERVAL_S", PROGRESS_INTERVAL_S))
    poller = _Poller(app, job_id, limit, interval)
    poller.start()
    try:
        if decomposed:
            result = parts.solve_decomposed(
                job_id,
                backend,
                built.problem,
                params,
                group_of=group_of,
                cancel=poller.cancel,
                heartbeat=poller.set_extra,
            )
        else:
            result = solve(built.problem, params, progress=poller.on_progress, cancel=poller.cancel)
    except Exception as exc:
        poller.stop()
        log.exception("solve failed for job %s", job_id)
        db.session.rollback()
        job = db.session.get(SolveJob, job_id)
        assert job is not None
        mark_failed(job, f"Perhitungan gagal: {type(exc).__name__}: {exc}"[:500])
        db.session.commit()
        if _is_queue_timeout(exc):
            # The row and plan are failed with the message; re-raise so RQ records the
            # job as failed too (FailedJobRegistry, failure callback) instead of "Job OK".
            raise
        return JobStatus.FAILED.value
    poller.stop()
    return _store(job_id, plan_id, built, result, poller.snapshot())


def _store(
    job_id: str, plan_id: int, built: adapter.BuiltProblem, result: Result, progress: dict
) -> str:
    """Write the result and finish the job in one transaction."""
    job = db.session.get(SolveJob, job_id)
    plan = db.session.get(Plan, plan_id)
    assert job is not None and plan is not None
    db.session.refresh(job)
    cancelled = result.status == "CANCELLED"
    final = {
        **progress,
        "persons_served": result.persons_served,
        "persons_requested": result.persons_requested,
        "distance_km": round(result.distance_m / 1000, 3),
        "solver_status": result.status,
        "percent": 100,
    }
    try:
        if cancelled and not result.routes:
            # Stopped before any plan was found: keep whatever the plan had before.
            plan.status = restored_status(plan, job)
        elif result.status in USABLE_STATUSES or result.routes:
            adapter.write_result(plan, built, result)
            db.session.flush()
            validate(plan)
            plan.status = PlanStatus.SOLVED
        else:
            adapter.write_result(plan, built, result)
            plan.status = PlanStatus.FAILED
            job.error = f"Solver tidak menemukan rencana (status {result.status})."
        plan.updated_at = utcnow()
        job.status = (
            JobStatus.CANCELLED
            if cancelled
            else (JobStatus.DONE if plan.status == PlanStatus.SOLVED else JobStatus.FAILED)
        )
        job.progress = final
        job.finished_at = utcnow()
        job.heartbeat_at = utcnow()
        db.session.commit()
    except Exception as exc:
        log.exception("storing the result failed for job %s", job_id)
        db.session.rollback()
        job = db.session.get(SolveJob, job_id)
        assert job is not None
        mark_failed(job, f"Hasil tidak dapat disimpan: {type(exc).__name__}")
        db.session.commit()
        return JobStatus.FAILED.value
    return str(job.status.value)
