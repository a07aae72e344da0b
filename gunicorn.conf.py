"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py "outreach:create_app()"``.

Every value can be set from the environment (the names below), so one file serves every
machine of a province: a web machine behind the reverse proxy sets ``GUNICORN_BIND`` and
``WEB_CONCURRENCY``; the solver workers are RQ processes (``flask --app outreach worker``),
not gunicorn workers. Sessions live in the database and rate limits in Redis
(``REDIS_URL``), so any number of processes on any number of machines share them.
"""

from __future__ import annotations

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# sync workers: every request is short (solves run on RQ workers); 2 per core plus one
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# a request longer than this is a bug (imports stream, solves are queued): kill and log it
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# recycle workers now and then so a slow leak never grows without bound
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# the app is loaded once in the master, workers fork from it
preload_app = True
# the reverse proxy's address: only it may set X-Forwarded-* (PROXY_FIX_X_FOR in the app)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs: errors and access lines on stderr. The access line carries the path without its
# query string (%(U)s), status, size and duration: no client address, no query, no
# referrer or user agent, so nothing that identifies a resident.
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # "" turns access lines off
access_log_format = (
    '{"event": "access", "method": "%(m)s", "path": "%(U)s", "status": %(s)s, '
    '"bytes": "%(B)s", "duration_ms": %(M)s}'
)
loglevel = os.environ.get("LOG_LEVEL", "info")


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn hook
    if os.environ.get("LOG_FORMAT", "json") == "json":
        from outreach.ops.logs import configure

        configure(loglevel.upper())


def when_ready(server):  # noqa: ANN001, ANN201 - gunicorn hook
    # Runs in the master after the app is preloaded and before any worker is forked: every
    # worker (and every worker recycled by max_requests) then starts with the templates
    # compiled and the catalogues loaded instead of paying for them on its first requests.
    app = getattr(server.app, "callable", None)
    if app is not None:
        from outreach.ops.warmup import warm_up

        warm_up(app)
    # Move everything loaded so far (the app, its libraries: ~200,000 objects) out of the
    # garbage collector's reach. Otherwise each worker's full collections walk all of it:
    # pauses of up to ~150 ms in the middle of a request, a few times a minute under load.
    # It also keeps those pages shared with the master instead of copied into every worker.
    gc.collect()
    gc.freeze()


def post_fork(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook
    # connections opened by the preloaded app in the master must not be shared
    from outreach.extensions import db

    app = getattr(server.app, "callable", None)
    if app is not None:
        with app.app_context():
            db.engine.dispose(close=False)
