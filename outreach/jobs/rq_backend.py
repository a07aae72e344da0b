"""RQ backend: solves run in ``rq`` workers on Redis.

* The RQ job id is deterministic (``solve-<SolveJob.id>``): a retry of the same job cannot be
  queued twice, and the reconciler can find it.
* ``job_timeout`` is the solver's limit plus a grace period: OR-Tools' C++ search cannot be
  interrupted by RQ, so the solver's own limit must always end first.
* Redis is reached with short socket timeouts, so an unreachable Redis fails the request in
  well under 3 s with :class:`~outreach.jobs.QueueUnavailable` (503), not a hang.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "jemput-solve"
SOCKET_TIMEOUT_S = 1.5


def rq_job_id(job_id: str) -> str:
    return f"solve-{job_id}"


def connection(app: Flask) -> Any:
    from redis import Redis

    return Redis.from_url(
        app.config["REDIS_URL"],
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        retry_on_timeout=False,
    )


def queue_name(app: Flask) -> str:
    return str(app.config.get("RQ_QUEUE") or DEFAULT_QUEUE)


def _unavailable(exc: Exception):
    from .state import QueueUnavailable

    log.warning("redis unavailable: %s", type(exc).__name__)
    return QueueUnavailable(
        "Antrean perhitungan sedang tidak tersedia; coba lagi nanti.",
        [{"field": "queue", "message": "Redis tidak dapat dihubungi."}],
    )


def ping(app: Flask) -> None:
    """Raise :class:`QueueUnavailable` unless Redis answers quickly."""
    from redis.exceptions import RedisError

    try:
        connection(app).ping()
    except (RedisError, OSError) as exc:
        raise _unavailable(exc) from None


def submit(app: Flask, job_id: str, job_timeout_s: int) -> None:
    """Enqueue the job for an RQ worker."""
    from redis.exceptions import RedisError
    from rq import Callback, Queue

    try:
        q = Queue(queue_name(app), connection=connection(app))
        q.enqueue_call(
            "outreach.jobs.worker.run_rq_job",
            args=(job_id,),
            job_id=rq_job_id(job_id),
            timeout=int(job_timeout_s),
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
            description=f"solve {job_id}",
            on_failure=Callback("outreach.jobs.worker.on_rq_failure"),
        )
    except (RedisError, OSError) as exc:
        raise _unavailable(exc) from None


def cancel_quietly(app: Flask, job_id: str) -> None:
    """Remove a queued job from RQ; the row is already cancelled, so errors are ignored."""
    try:
        from rq.job import Job

        Job.fetch(rq_job_id(job_id), connection=connection(app)).cancel()
    except Exception:  # noqa: BLE001 - best effort: the worker skips cancelled rows anyway
        log.info("could not cancel rq job %s", job_id)


def states(app: Flask, job_ids: list[str]) -> dict[str, str | None]:
    """RQ's view of each job (``queued``, ``started``, ``failed``...; ``None`` = unknown).

    An unreachable or unresponsive Redis yields an empty mapping: the reconciler then relies on
    heartbeats. The first Redis error ends the look-ups, so a hung Redis (it accepts
    connections but never answers) costs one socket timeout, not one per job.
    """
    from redis.exceptions import RedisError

    try:
        from rq.job import Job

        conn = connection(app)
        out: dict[str, str | None] = {}
        for jid in job_ids:
            try:
                job = Job.fetch(rq_job_id(jid), connection=conn)
                status = job.get_status(refresh=True)
                out[jid] = str(status.value if hasattr(status, "value") else status)
            except (RedisError, OSError):
                raise
            except Exception:  # noqa: BLE001 - NoSuchJobError and friends
                out[jid] = None
        return out
    except (RedisError, OSError) as exc:
        log.warning("redis unavailable for the reconciler: %s", type(exc).__name__)
        return {}
    except Exception:  # noqa: BLE001
        return {}
