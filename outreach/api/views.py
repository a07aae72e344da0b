"""API views."""

from flask import jsonify

from . import bp


@bp.get("/health")
def health():
    """Report that the API answers."""
    return jsonify(status="ok")
