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


def register(app: Flask) -> None:
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
