"""Entry points executed inside RQ workers.

The app is built once per worker process, lazily on the first job — never at import. The
``flask --app outreach worker`` command hands its own app over with :func:`set_app`, so forked
work horses inherit it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

_app: Flask | None = None


def set_app(app: Flask) -> None:
    """Use ``app`` for the jobs of this process (called by the worker command)."""
    global _app
    _app = app


def get_app() -> Flask:
    """This process's app, built on first use from the environment and ``instance/``."""
    global _app
    if _app is None:
        from outreach import create_app

        _app = create_app()
    return _app


def run_rq_job(job_id: str) -> str:
    """Run one solve job (the function RQ calls)."""
    from ..extensions import db
    from .runner import run_solve_job

    app = get_app()
    with app.app_context():
        # A forked work horse must not reuse the parent's pooled connections.
        db.engine.dispose(close=False)
        return run_solve_job(job_id)


def run_rq_part(part_id: int, problem: Any, params: Any) -> str:
    """Run one part of a decomposed solve (:mod:`outreach.jobs.parts`; the function RQ calls)."""
    from ..extensions import db
    from .parts import run_part

    app = get_app()
    with app.app_context():
        db.engine.dispose(close=False)  # a forked work horse must not reuse pooled connections
        return run_part(part_id, problem, params)


def on_rq_failure(job: Any, connection: Any, *exc_info: Any) -> None:
    """RQ failure callback (timeout, exception): fail the row and its plan."""
    from ..extensions import db
    from ..models import JobStatus, SolveJob
    from .state import mark_failed

    job_id = str(job.id).removeprefix("solve-")
    app = get_app()
    with app.app_context():
        row = db.session.get(SolveJob, job_id)
        if row is not None and row.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            kind = getattr(exc_info[0], "__name__", "error") if exc_info else "error"
            mark_failed(row, f"Perhitungan dihentikan oleh antrean ({kind}).")
            db.session.commit()
