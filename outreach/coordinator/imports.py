"""Coordinator views: imports (see the owning module)."""

from . import bp  # noqa: F401
