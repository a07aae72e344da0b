"""Points and travel defaults shared by the problem model and the travel models.

:mod:`outreach.planning.domain` (the problem) and :mod:`outreach.planning.travel` (the
matrices) both build on these; this module imports neither, so the two depend on it and
``travel`` never imports ``domain``. ``domain`` re-exports every name here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

INT32_LIMIT = 2**31
"""Exclusive upper bound for any integer handed to the solver."""

DEFAULT_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {"car": 20.0, "motorbike": 25.0, "boat": 12.0}
)
"""Default average speeds per vehicle profile (urban Medan traffic)."""

DEFAULT_DETOUR = 1.4
"""Default ratio between road distance and great-circle distance."""


@dataclass(frozen=True, slots=True)
class Location:
    """A WGS84 point. ``lat`` in [-90, 90], ``lon`` in [-180, 180], both finite."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        for name, bound in (("lat", 90.0), ("lon", 180.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"location.{name}: expected a number, got {v!r}")
            if not math.isfinite(v):
                raise ValueError(f"location.{name}: must be finite, got {v!r}")
            if not -bound <= v <= bound:
                raise ValueError(f"location.{name}: must be within ±{bound:g}, got {v!r}")
            object.__setattr__(self, name, float(v))


@dataclass(frozen=True, slots=True)
class Place:
    """A point the travel model must connect: a site, or a team's start or end depot.

    ``kind`` is ``"site"``, ``"start"`` or ``"end"``; ``id`` is the site or team id.
    Explicit-matrix providers look places up by ``(kind, id)``.
    """

    kind: str
    id: str
    location: Location

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)


__all__ = ["DEFAULT_DETOUR", "DEFAULT_SPEEDS_KMH", "INT32_LIMIT", "Location", "Place"]
