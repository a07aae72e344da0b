"""Coordinator views: teams (see the owning module)."""

from . import bp  # noqa: F401
