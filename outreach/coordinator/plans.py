"""Coordinator views: plans (see the owning module)."""

from . import bp  # noqa: F401
