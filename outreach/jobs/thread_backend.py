"""In-process backend: one worker thread and a small queue, started on the first enqueue.

Nothing starts at import or in the app factory. Each queue item carries the app that queued
it, and the worker pushes that app's context around the job, so the job uses the app's
database settings (SQLite WAL + ``BEGIN IMMEDIATE`` in tests and small offices).
"""

from __future__ import annotations

import logging
import queue
import threading

from flask import Flask

log = logging.getLogger(__name__)

_queue: queue.Queue[tuple[Flask, str]] = queue.Queue(maxsize=100)
_lock = threading.Lock()
_thread: threading.Thread | None = None


def _work() -> None:
    from .runner import run_solve_job

    while True:
        app, job_id = _queue.get()
        try:
            with app.app_context():
                run_solve_job(job_id)
        except Exception:  # the worker must survive any single job
            log.exception("solve job %s crashed", job_id)
        finally:
            _queue.task_done()


def submit(app: Flask, job_id: str) -> None:
    """Queue ``job_id``; start the worker thread if it is not running."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_work, name="solve-worker", daemon=True)
            _thread.start()
    try:
        _queue.put_nowait((app, job_id))
    except queue.Full:
        from .state import QueueUnavailable

        raise QueueUnavailable("Antrean perhitungan penuh; coba lagi nanti.") from None


def wait_idle(timeout: float = 30.0) -> bool:
    """Wait until every queued job finished (tests); ``False`` on timeout."""
    done = threading.Event()

    def _join() -> None:
        _queue.join()
        done.set()

    threading.Thread(target=_join, daemon=True).start()
    return done.wait(timeout)


def is_running() -> bool:
    return _thread is not None and _thread.is_alive()
