"""Decomposed solves on the job backends: parts in parallel, progress per part, one retry.

A plan with more sites than ``DECOMPOSE_ABOVE_SITES`` (default 800; ``plan.params
["decompose"]`` forces it on or off) is cut into parts by
:func:`outreach.planning.partition.partition` (by office, by territory — kecamatan kept
whole — and by weeks when teams are few). Each part is a :class:`~outreach.models.SolvePart`
row: its spec, status, attempts, progress, heartbeat and, when done, its routes.

* **RQ** (``REDIS_URL`` set): every part is enqueued as its own RQ job
  (:func:`outreach.jobs.worker.run_rq_part`; the part's problem and settings travel
  pickled with the job, as RQ sends any arguments). The job that runs the plan (the
  *parent*) does not just wait: it claims queued parts too and solves them in a thread,
  with a time limit cut to what its deadline leaves, so the plan ends within its budget
  even when no other worker is free. It takes them from the back of the queue, while the
  workers take theirs from the front: each worker forks a work horse before it can claim
  its part, and a parent that took the front part would take, again and again, the very
  part a worker was starting on.
  A part is claimed by a conditional update (``queued`` → ``running``), so a part runs once
  even when the parent and a worker both reach for it.
* **Thread / inline** (no Redis): the parts run in local processes
  (:func:`outreach.planning.decompose.run_parts_locally`), ``DECOMPOSE_WORKERS`` at a time.

Both ways: a part's progress (best residents served, km) and heartbeat are written to its
row every ``JOB_PROGRESS_INTERVAL_S``; the parent folds them into the job's progress
(``progress["parts"]``), which the progress page and the API show per part. Cancelling the
job stops every part (each keeps its best plan, as an undivided solve does) and starts no
more. A part whose worker dies (heartbeat older than ``PART_STALE_SECONDS``, or its local
process gone) is queued again once; a second death, or an error in a part, fails the job
with a message naming the part. The parent then stitches, repairs the seams and checks the
whole (:func:`outreach.planning.decompose.stitch`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from ..extensions import db
from ..models import SolveJob, SolvePart, utcnow
from ..planning import Problem, SolveParams, solve
from ..planning import decompose as dc
from ..planning import partition as pt
from ..planning.result import Result

log = logging.getLogger(__name__)

DEFAULT_ABOVE_SITES = 800
DEFAULT_PART_STALE_S = 30
DEFAULT_WORKERS = 2
PART_GRACE_S = 60

FINISHED = ("done", "cancelled")


def should_decompose(app: Flask, params: dict[str, Any] | None, problem: Problem) -> bool:
    """Whether a plan's solve is decomposed: ``params["decompose"]`` when set, else more
    sites than ``DECOMPOSE_ABOVE_SITES``."""
    wanted = (params or {}).get("decompose")
    if wanted is not None:
        return bool(wanted)
    return len(problem.sites) > int(app.config.get("DECOMPOSE_ABOVE_SITES", DEFAULT_ABOVE_SITES))


def _whoami() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


# --------------------------------------------------------------------------- summary


def parts_summary(job_id: str) -> list[dict[str, Any]]:
    """Each part's label, state, attempts and best so far, for the job's progress."""
    rows = db.session.execute(
        sa.select(
            SolvePart.index,
            SolvePart.label,
            SolvePart.status,
            SolvePart.attempts,
            SolvePart.progress,
            SolvePart.time_limit_s,
            SolvePart.spec,
        )
        .where(SolvePart.job_id == job_id)
        .order_by(SolvePart.index)
    ).all()
    # end the read at once: with SQLite every transaction holds the write lock
    db.session.commit()
    out = []
    for index, label, status, attempts, progress, limit, spec in rows:
        p = dict(progress or {})
        spec = dict(spec or {})
        dates = list(spec.get("dates") or [])
        elapsed = float(p.get("elapsed_s") or 0.0)
        percent = (
            100
            if status in ("done", "cancelled", "failed")
            else (
                min(99, round(100 * elapsed / max(1.0, float(limit or 1))))
                if status == "running"
                else 0
            )
        )
        out.append(
            {
                "index": int(index),
                "label": label,
                "territory": int(spec.get("territory", 0)) + 1,
                "first": dates[0] if dates else None,
                "last": dates[-1] if dates else None,
                "sites": len(spec.get("site_ids") or []),
                "teams": len(spec.get("team_ids") or []),
                "status": status,
                "attempts": int(attempts),
                "percent": percent,
                "persons_served": p.get("persons_served"),
                "persons_requested": p.get("persons_requested"),
                "distance_km": p.get("distance_km"),
            }
        )
    return out


def summary_progress(job_id: str) -> dict[str, Any]:
    """What the parent adds to its job's progress: the parts and their sums."""
    parts = parts_summary(job_id)
    served = sum(int(p["persons_served"] or 0) for p in parts)
    out: dict[str, Any] = {"parts": parts, "decomposed": True}
    if any(p["persons_served"] is not None for p in parts):
        out["persons_served"] = served
        out["distance_km"] = round(sum(float(p["distance_km"] or 0) for p in parts), 3)
    return out


# --------------------------------------------------------------------------- one part


class _PartPoller:
    """Heartbeat and progress of one part's row; the job's cancel flag as an event."""

    def __init__(self, app: Flask, part_id: int, job_id: str, interval: float) -> None:
        self.app, self.part_id, self.job_id, self.interval = app, part_id, job_id, interval
        self.cancel = threading.Event()
        self.latest: dict[str, Any] = {}
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"part-{part_id}", daemon=True)

    def on_progress(self, p: Any) -> None:
        self.latest = {
            "persons_served": int(p.persons_served),
            "persons_requested": int(p.persons_requested),
            "distance_km": round(float(p.distance_km), 3),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.latest,
            "elapsed_s": round(time.monotonic() - self.t0, 2),
            "pid": os.getpid(),
        }

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.app.app_context():
                    db.session.execute(
                        sa.update(SolvePart)
                        .where(SolvePart.id == self.part_id, SolvePart.status == "running")
                        .values(progress=self.snapshot(), heartbeat_at=utcnow())
                    )
                    wanted = db.session.scalar(
                        sa.select(SolveJob.cancel_requested).where(SolveJob.id == self.job_id)
                    )
                    db.session.commit()
                    if wanted:
                        self.cancel.set()
            except Exception:  # noqa: BLE001 - a failed write must never stop the search
                log.exception("part progress write failed (part %s)", self.part_id)

    def __enter__(self) -> _PartPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def claim(part_id: int, *, worker: str | None = None) -> int | None:
    """Claim a queued part (conditional update); its attempt number, or ``None`` when the
    part is not queued any more (run elsewhere, done, cancelled) or has had its retry."""
    row = db.session.get(SolvePart, part_id)
    if row is None:
        db.session.rollback()
        return None
    attempt = int(row.attempts) + 1
    got = db.session.execute(
        sa.update(SolvePart)
        .where(
            SolvePart.id == part_id,
            SolvePart.status == "queued",
            SolvePart.attempts == attempt - 1,
            SolvePart.attempts < dc.MAX_ATTEMPTS,
        )
        .values(
            status="running",
            attempts=attempt,
            started_at=utcnow(),
            heartbeat_at=utcnow(),
            worker=(worker or _whoami())[:80],
            progress={"pid": os.getpid()},
        )
    ).rowcount
    db.session.commit()
    return attempt if got else None


def run_part(
    part_id: int, problem: Problem, params: SolveParams, *, time_limit_s: float | None = None
) -> str:
    """Claim and solve one part, writing progress and finally its routes (app context)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    attempt = claim(part_id)
    if attempt is None:
        return "skipped"
    row = db.session.get(SolvePart, part_id)
    assert row is not None
    job_id, limit = row.job_id, float(time_limit_s or row.time_limit_s or params.time_limit_s)
    db.session.commit()
    interval = float(app.config.get("JOB_PROGRESS_INTERVAL_S", 0.5))
    mine = dataclasses.replace(params, time_limit_s=max(0.5, limit))
    try:
        with _PartPoller(app, part_id, job_id, interval) as poller:
            result = solve(problem, mine, progress=poller.on_progress, cancel=poller.cancel)
            final = {
                **poller.snapshot(),
                "persons_served": result.persons_served,
                "persons_requested": result.persons_requested,
                "distance_km": round(result.distance_m / 1000, 3),
            }
    except Exception as exc:  # noqa: BLE001 - the parent fails the job with this message
        log.exception("part %s failed", part_id)
        db.session.rollback()
        db.session.execute(
            sa.update(SolvePart)
            .where(SolvePart.id == part_id, SolvePart.attempts == attempt)
            .values(
                status="failed", error=f"{type(exc).__name__}: {exc}"[:500], finished_at=utcnow()
            )
        )
        db.session.commit()
        return "failed"
    status = "cancelled" if result.status == "CANCELLED" and not result.routes else "done"
    db.session.execute(
        sa.update(SolvePart)
        .where(SolvePart.id == part_id, SolvePart.attempts == attempt)
        .values(
            status=status,
            routes=dc.routes_to_json(result.routes),
            solver_status=result.status[:64],
            progress=final,
            finished_at=utcnow(),
            heartbeat_at=utcnow(),
        )
    )
    db.session.commit()
    return status


def _queue_name(app: Flask) -> str:
    """The queue the parent job came from (its worker listens there), else the app's."""
    from rq import get_current_job

    from .rq_backend import queue_name

    current = get_current_job()
    return str(current.origin) if current is not None and current.origin else queue_name(app)


def _submit_rq(app: Flask, part: SolvePart, problem: Problem, params: SolveParams) -> None:
    from rq import Queue

    from .rq_backend import connection

    q = Queue(_queue_name(app), connection=connection(app))
    q.enqueue_call(
        "outreach.jobs.worker.run_rq_part",
        args=(part.id, problem, params),
        job_id=f"part-{part.job_id}-{part.index}-{part.attempts + 1}",
        timeout=int(part.time_limit_s) + int(app.config.get("JOB_GRACE_SECONDS", PART_GRACE_S)),
        result_ttl=3600,
        failure_ttl=24 * 3600,
        description=f"part {part.index + 1} of solve {part.job_id}",
    )


# --------------------------------------------------------------------------- the parent


class PartsFailed(RuntimeError):
    """A part failed (an error, or its worker died twice): the plan's solve fails."""


def solve_decomposed(
    job_id: str,
    backend: str,
    problem: Problem,
    params: SolveParams,
    *,
    office_of: dict[str, str] | None = None,
    group_of: dict[str, str] | None = None,
    cancel: threading.Event,
    heartbeat: Callable[[dict[str, Any]], None] | None = None,
) -> Result:
    """Partition, run the parts on ``backend``, stitch and check (inside an app context).

    ``heartbeat(extra)`` is called about every progress interval with the parts' summary
    for the job's own progress row."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    cfg = app.config
    t0 = time.monotonic()
    budget = float(params.time_limit_s)
    specs = pt.partition(
        problem,
        target_sites=int(cfg.get("DECOMPOSE_TARGET_SITES", pt.TARGET_SITES)),
        office_of=office_of,
        group_of=group_of,
        seed=params.seed,
        weights=params.priority_weights,
    )
    matrices = pt.place_matrices(problem)
    subs = [pt.subproblem(problem, sp, matrices) for sp in specs]
    workers = int(cfg.get("DECOMPOSE_WORKERS", DEFAULT_WORKERS))
    reserve = dc.stitch_reserve(len(problem.sites), budget)
    deadline = t0 + budget - reserve
    limit = dc.part_time_limit(max(1.0, deadline - time.monotonic()), len(specs), workers)
    part_params = [
        dataclasses.replace(params, time_limit_s=limit, seed=params.seed + sp.index, workers=1)
        for sp in specs
    ]
    db.session.execute(sa.delete(SolvePart).where(SolvePart.job_id == job_id))
    rows = [
        SolvePart(
            job_id=job_id,
            index=sp.index,
            label=sp.label,
            status="queued",
            attempts=0,
            spec=sp.to_json(),
            time_limit_s=limit,
            progress={},
            solver_status="",
            worker="",
            error="",
        )
        for sp in specs
    ]
    db.session.add_all(rows)
    db.session.commit()
    ids = [r.id for r in rows]
    log.info("decomposed solve %s: %d parts of %.0f s", job_id, len(ids), limit)
    if backend == "rq":
        outs = _run_rq(app, job_id, ids, subs, part_params, deadline, cancel, heartbeat)
    else:
        outs = _run_local(app, job_id, ids, subs, part_params, workers, cancel, heartbeat)
    if heartbeat is not None:
        heartbeat({**summary_progress(job_id), "stage": "stitch"})
    result = dc.stitch(
        problem,
        specs,
        [dc.routes_from_json(o["routes"] or []) for o in outs],
        statuses=[o["status"] for o in outs],
        matrices=matrices,
        weights=params.priority_weights,
        t0=t0,
    )
    return dataclasses.replace(result, runtime_s=time.monotonic() - t0)


def _outputs(ids: list[int]) -> list[dict[str, Any]]:
    db.session.rollback()
    rows = {r.id: r for r in db.session.scalars(sa.select(SolvePart).where(SolvePart.id.in_(ids)))}
    out = []
    for i in ids:
        r = rows[i]
        status = r.solver_status or ("CANCELLED" if r.status == "cancelled" else "")
        out.append({"status": status or "CANCELLED", "routes": r.routes or []})
    db.session.commit()
    return out


def _run_local(
    app: Flask,
    job_id: str,
    ids: list[int],
    subs: list[Problem],
    params: list[SolveParams],
    workers: int,
    cancel: threading.Event,
    heartbeat: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """Local processes; this thread writes the rows for them."""
    interval = float(app.config.get("JOB_PROGRESS_INTERVAL_S", 0.5))
    last_write = [0.0]
    t_start = [time.monotonic()] * len(ids)

    def write(i: int, values: dict[str, Any]) -> None:
        db.session.execute(sa.update(SolvePart).where(SolvePart.id == ids[i]).values(**values))
        db.session.commit()

    def on_start(i: int, pid: int, attempt: int) -> None:
        t_start[i] = time.monotonic()
        write(
            i,
            {
                "status": "running",
                "attempts": attempt,
                "worker": f"{socket.gethostname()[:60]}:{pid}",
                "started_at": utcnow(),
                "heartbeat_at": utcnow(),
                "progress": {"pid": pid},
            },
        )

    def on_progress(i: int, info: dict[str, Any]) -> None:
        state = info.get("state")
        keep = {
            k: info[k] for k in ("persons_served", "persons_requested", "distance_km") if k in info
        }
        if state == "done":
            write(
                i,
                {
                    "status": "done",
                    "solver_status": str(info.get("status", ""))[:64],
                    "progress": {**keep, "elapsed_s": round(time.monotonic() - t_start[i], 2)},
                    "finished_at": utcnow(),
                    "heartbeat_at": utcnow(),
                },
            )
        elif state == "retrying":
            write(i, {"status": "queued", "heartbeat_at": utcnow()})
        elif state == "cancelled":
            write(i, {"status": "cancelled", "finished_at": utcnow()})
        elif keep:
            write(
                i,
                {
                    "progress": {**keep, "elapsed_s": round(time.monotonic() - t_start[i], 2)},
                    "heartbeat_at": utcnow(),
                },
            )
        now = time.monotonic()
        if heartbeat is not None and now - last_write[0] >= interval:
            last_write[0] = now
            heartbeat(summary_progress(job_id))

    try:
        outs = dc.run_parts_locally(
            subs, params, workers=workers, progress=on_progress, cancel=cancel, on_start=on_start
        )
    except dc.PartFailed as exc:
        raise PartsFailed(str(exc)) from None
    for i, o in enumerate(outs):
        write(i, {"routes": o.get("routes") or [], "solver_status": str(o["status"])[:64]})
    return outs


def _run_rq(
    app: Flask,
    job_id: str,
    ids: list[int],
    subs: list[Problem],
    params: list[SolveParams],
    deadline: float,
    cancel: threading.Event,
    heartbeat: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """RQ jobs for every part; this job claims queued parts too and watches heartbeats."""
    cfg = app.config
    stale = timedelta(seconds=float(cfg.get("PART_STALE_SECONDS", DEFAULT_PART_STALE_S)))
    interval = float(cfg.get("JOB_PROGRESS_INTERVAL_S", 0.5))
    by_id = {pid: k for k, pid in enumerate(ids)}
    for pid in ids:
        part = db.session.get(SolvePart, pid)
        assert part is not None
        _submit_rq(app, part, subs[by_id[pid]], params[by_id[pid]])
    db.session.commit()
    mine: threading.Thread | None = None

    def run_here(pid: int, limit: float) -> None:
        with app.app_context():
            try:
                run_part(pid, subs[by_id[pid]], params[by_id[pid]], time_limit_s=limit)
            except Exception:  # noqa: BLE001 - the row shows the failure
                log.exception("part %s failed in the parent", pid)

    while True:
        db.session.rollback()
        rows = list(db.session.scalars(sa.select(SolvePart).where(SolvePart.id.in_(ids))))
        now = utcnow()
        if cancel.is_set():
            db.session.execute(
                sa.update(SolvePart)
                .where(SolvePart.id.in_(ids), SolvePart.status == "queued")
                .values(status="cancelled", finished_at=now)
            )
            db.session.commit()
        failed = [r for r in rows if r.status == "failed"]
        if failed:
            r = failed[0]
            raise PartsFailed(f"bagian {r.index + 1} ({r.label}) gagal: {r.error}"[:400])
        for r in rows:
            if r.status != "running" or r.heartbeat_at is None:
                continue
            beat = (
                r.heartbeat_at
                if r.heartbeat_at.tzinfo
                else r.heartbeat_at.replace(tzinfo=now.tzinfo)
            )
            if now - beat <= stale:
                continue
            if r.attempts >= dc.MAX_ATTEMPTS:
                raise PartsFailed(
                    f"bagian {r.index + 1} ({r.label}): worker berhenti dua kali ({r.worker})"
                )
            got = db.session.execute(
                sa.update(SolvePart)
                .where(
                    SolvePart.id == r.id,
                    SolvePart.status == "running",
                    SolvePart.attempts == r.attempts,
                )
                .values(status="queued", progress={**(r.progress or {}), "lost_worker": r.worker})
            ).rowcount
            db.session.commit()
            if got:
                log.warning("part %s lost its worker %s; queued again", r.id, r.worker)
                part = db.session.get(SolvePart, r.id)
                assert part is not None
                try:
                    _submit_rq(app, part, subs[by_id[r.id]], params[by_id[r.id]])
                except Exception:  # noqa: BLE001 - the parent claims it itself below
                    log.warning("could not re-enqueue part %s", r.id)
                db.session.commit()
        db.session.rollback()
        statuses = dict(
            db.session.execute(
                sa.select(SolvePart.id, SolvePart.status).where(SolvePart.id.in_(ids))
            ).all()
        )
        db.session.commit()
        if all(s in FINISHED for s in statuses.values()):
            break
        queued = [pid for pid in ids if statuses.get(pid) == "queued"]
        if queued and not cancel.is_set() and (mine is None or not mine.is_alive()):
            # the last queued part: RQ hands the workers the parts in order, first to last
            last = queued[-1]
            left = max(1.0, deadline - time.monotonic())
            row = db.session.get(SolvePart, last)
            assert row is not None
            limit = min(float(row.time_limit_s), max(1.0, left / len(queued)))
            db.session.commit()
            mine = threading.Thread(target=run_here, args=(last, limit), daemon=True)
            mine.start()
        if heartbeat is not None:
            heartbeat(summary_progress(job_id))
        time.sleep(interval)
    if mine is not None:
        mine.join(timeout=30)
    return _outputs(ids)


__all__ = [
    "PartsFailed",
    "claim",
    "parts_summary",
    "run_part",
    "should_decompose",
    "solve_decomposed",
    "summary_progress",
]
