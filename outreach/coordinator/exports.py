"""Coordinator views: exports (see the owning module)."""

from . import bp  # noqa: F401
