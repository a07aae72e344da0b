"""Coordinator views: hotspots (see the owning module)."""

from . import bp  # noqa: F401
