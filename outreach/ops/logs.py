"""Structured JSON log lines without personal data.

``LOG_FORMAT=json`` (environment or config) makes every record of the app, gunicorn and RQ
one JSON object per line: time (UTC, ISO 8601), level, logger, message, and the allow-listed
``extra`` fields below. The message is the format string with its arguments applied, as the
code wrote it: the code never logs names, phone numbers, NIK or addresses (tests feed
sentinel personal data through every flow and search the logs), and this formatter adds
nothing from the request but the method, the path without its query string, the endpoint
and the request id.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

ALLOWED_EXTRA = (
    "event",
    "job_id",
    "plan_id",
    "office_id",
    "user_id",
    "status",
    "duration_ms",
)
"""Fields a record may carry as ``extra=...``; anything else is dropped, not logged."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.name == "gunicorn.access":
            # gunicorn.conf.py formats the access line as JSON: merge it, not nest it
            try:
                fields = json.loads(out["msg"])  # type: ignore[arg-type]
            except (TypeError, ValueError):
                fields = None
            if isinstance(fields, dict):
                del out["msg"]
                out.update(fields)
        for key in ALLOWED_EXTRA:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        try:
            from flask import has_request_context, request

            if has_request_context():
                out["method"] = request.method
                out["path"] = request.path
                out["endpoint"] = request.endpoint
        except ImportError:  # pragma: no cover - flask is a requirement
            pass
        if record.exc_info:
            # the exception's type and the traceback's frames, not its message or locals:
            # a message may quote a value from the input
            exc_type = record.exc_info[0]
            out["exc_type"] = exc_type.__name__ if exc_type else None
            out["stack"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in _frames(record.exc_info[2])
            ]
        return json.dumps(out, ensure_ascii=False, default=str)


def _frames(tb):  # noqa: ANN001, ANN202
    import traceback

    return traceback.extract_tb(tb)[-8:]


def configure(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Flask's own stderr handler on the app logger would print each record a second time
    from flask.logging import default_handler

    logging.getLogger("outreach").removeHandler(default_handler)
    for name in ("gunicorn.error", "gunicorn.access", "rq.worker", "werkzeug"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
