"""Commands: ``flask --app outreach worker`` and ``flask --app outreach reconcile-jobs``."""

from __future__ import annotations

import click
from flask import Flask, current_app


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option("--queue", default=None, help="Queue name (default: RQ_QUEUE or jemput-solve).")
def worker_command(burst: bool, queue: str | None) -> None:
    """Run an RQ worker for background solves (needs REDIS_URL)."""
    from rq import Worker

    from . import rq_backend, worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("REDIS_URL"):
        raise click.UsageError("REDIS_URL is not set; the in-process backend needs no worker.")
    worker.set_app(app)
    name = queue or rq_backend.queue_name(app)
    w = Worker([name], connection=rq_backend.connection(app))
    w.work(burst=burst)


@click.command("reconcile-jobs")
@click.option("--stale-after", type=float, default=None, help="Seconds without a heartbeat.")
def reconcile_jobs_command(stale_after: float | None) -> None:
    """Fail solve jobs whose worker stopped, and their plans."""
    from . import reconcile_stuck_jobs

    ids = reconcile_stuck_jobs(stale_after_s=stale_after)
    click.echo(f"{len(ids)} job(s) marked failed" + (": " + ", ".join(ids) if ids else "."))


def register(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(reconcile_jobs_command)
