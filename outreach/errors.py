"""Error handlers: one JSON shape for the API, plain pages for browsers, never a traceback."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, details: object | None = None):
    """Build the API's single error shape: {"error": {"code", "message", "details"}}."""
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return jsonify(body), status


class DomainError(Exception):
    """A typed domain failure with an HTTP status; mapped to the error shape in one place.

    Services raise subclasses (``PlanError``, ``PlanConflict``, ...); views never parse
    messages. ``details`` is a list of ``{"field": ..., "message": ...}`` or plain strings.
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: object | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code:
            self.code = code


class ValidationFailed(DomainError):
    """Input failed validation; ``details`` names each field and what is wrong."""

    status = 400
    code = "validation_error"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The object changed meanwhile or is in a state that forbids the action."""

    status = 409
    code = "conflict"


class ServiceUnavailable(DomainError):
    """A backing service (the job queue) is down; the client should retry later."""

    status = 503
    code = "service_unavailable"


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(e: DomainError):
        if wants_json():
            resp, status = error_response(e.status, e.code, e.message, e.details)
            if e.status == 503:
                resp.headers["Retry-After"] = "30"
            return resp, status
        return render_template(
            "error.html", error=type("E", (), {"code": e.status, "name": e.message})
        ), e.status

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if wants_json():
            code = (e.name or "error").lower().replace(" ", "_")
            return error_response(e.code or 500, code, e.description or e.name)
        return render_template("error.html", error=e), e.code

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        err = InternalServerError()
        if wants_json():
            return error_response(500, "internal_error", "Terjadi kesalahan internal.")
        return render_template("error.html", error=err), 500
