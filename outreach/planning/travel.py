"""Travel models: integer metres and seconds between places.

Three providers implement :class:`~outreach.planning.domain.TravelProvider`:

* :class:`GreatCircleTravel` (default) — vectorised haversine distance × detour factor,
  divided by an average speed per vehicle profile. No network.
* :class:`OsrmTableProvider` — the OSRM ``table`` service over HTTP (opt-in).
* :class:`ExplicitMatrix` — matrices given up front (benchmarks, tests).
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from outreach.planning.geo import (
    DEFAULT_DETOUR,
    DEFAULT_SPEEDS_KMH,
    INT32_LIMIT,
    Location,
    Place,
)

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG)."""


def haversine_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Pairwise great-circle distances in metres (float64, ``n x n``) for degree arrays.

    Uses the chord between unit vectors (one matrix product instead of n² trigonometric
    calls), which equals the haversine formula; the rounding error is far below a metre.
    """
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    cos_phi = np.cos(phi)
    unit = np.stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)), axis=1)
    # |u_i - u_j|^2 = 2 - 2 u_i.u_j ; clip guards rounding below 0 and above 4
    chord2 = np.clip(2.0 - 2.0 * (unit @ unit.T), 0.0, 4.0)
    half_chord = np.sqrt(chord2, out=chord2)
    half_chord *= 0.5
    np.minimum(half_chord, 1.0, out=half_chord)
    dist = np.arcsin(half_chord, out=half_chord)
    dist *= 2.0 * EARTH_RADIUS_M
    np.fill_diagonal(dist, 0.0)
    return dist


def _as_int_matrix(values: np.ndarray, what: str) -> np.ndarray:
    out = np.asarray(values)
    if out.ndim != 2 or out.shape[0] != out.shape[1]:
        raise ValueError(f"{what}: expected a square matrix, got shape {out.shape}")
    if out.dtype.kind == "f":
        if not np.isfinite(out).all():
            raise ValueError(f"{what}: contains NaN or infinite values")
        out = np.rint(out)
    elif out.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected numbers, got dtype {out.dtype}")
    out = out.astype(np.int64, copy=False)
    if out.size and (out.min() < 0 or out.max() >= INT32_LIMIT):
        raise ValueError(f"{what}: values must be within [0, 2**31)")
    return out


@dataclass(frozen=True)
class GreatCircleTravel:
    """Straight-line distance × ``detour`` at an average ``speeds_kmh[profile]``.

    Parameters
    ----------
    speeds_kmh
        Average speed per vehicle profile in km/h.
    detour
        Road distance / great-circle distance (≈ 1.3-1.5 in Medan).
    """

    speeds_kmh: Mapping[str, float] = field(default_factory=lambda: DEFAULT_SPEEDS_KMH, hash=False)
    detour: float = DEFAULT_DETOUR

    def __post_init__(self) -> None:
        if not math.isfinite(self.detour) or self.detour < 1.0:
            raise ValueError(f"travel.detour: must be a finite number >= 1, got {self.detour!r}")
        for profile, v in self.speeds_kmh.items():
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"travel.speeds_kmh[{profile!r}]: must be > 0, got {v!r}")
        object.__setattr__(self, "speeds_kmh", MappingProxyType(dict(self.speeds_kmh)))

    def speed_mps(self, profile: str) -> float:
        try:
            return self.speeds_kmh[profile] / 3.6
        except KeyError:
            raise ValueError(
                f"travel: unknown vehicle profile {profile!r} "
                f"(known: {', '.join(sorted(self.speeds_kmh))})"
            ) from None

    def matrices(self, places: Sequence[Place], profile: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(distance_m, duration_s)`` as int64 ``n x n`` arrays."""
        speed = self.speed_mps(profile)
        lat = np.fromiter((p.location.lat for p in places), np.float64, len(places))
        lon = np.fromiter((p.location.lon for p in places), np.float64, len(places))
        road = haversine_m(lat, lon)
        road *= self.detour
        duration = road / speed
        return _as_int_matrix(road, "distance"), _as_int_matrix(duration, "duration")


@dataclass(frozen=True)
class ExplicitMatrix:
    """Travel given as explicit matrices over indexed places.

    Parameters
    ----------
    index
        Maps a place key ``(kind, id)`` — kind ``"site"``, ``"start"`` or ``"end"`` — to a
        row of the matrices. Several keys may share a row (e.g. every team's depot).
    distance_m, duration_s
        Square non-negative integer matrices (nested lists or arrays). Pass a mapping
        ``profile -> matrix`` to vary by vehicle profile.
    """

    index: Mapping[tuple[str, str], int] = field(hash=False)
    distance_m: object = field(hash=False)
    duration_s: object = field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", MappingProxyType(dict(self.index)))
        for name in ("distance_m", "duration_s"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                frozen = {k: _as_int_matrix(np.asarray(v), name) for k, v in value.items()}
                object.__setattr__(self, name, MappingProxyType(frozen))
            else:
                object.__setattr__(self, name, _as_int_matrix(np.asarray(value), name))

    def _pick(self, value: object, profile: str, name: str) -> np.ndarray:
        if isinstance(value, Mapping):
            if profile not in value:
                raise ValueError(f"explicit matrix: no {name} matrix for profile {profile!r}")
            return value[profile]
        assert isinstance(value, np.ndarray)
        return value

    def matrices(self, places: Sequence[Place], profile: str) -> tuple[np.ndarray, np.ndarray]:
        rows = []
        for p in places:
            if p.key not in self.index:
                raise ValueError(f"explicit matrix: no row for place {p.key!r}")
            rows.append(self.index[p.key])
        idx = np.asarray(rows, dtype=np.int64)
        dist = self._pick(self.distance_m, profile, "distance")
        dur = self._pick(self.duration_s, profile, "duration")
        n = dist.shape[0]
        if idx.size and idx.max() >= n:
            raise ValueError(f"explicit matrix: row {int(idx.max())} beyond matrix size {n}")
        return dist[np.ix_(idx, idx)].copy(), dur[np.ix_(idx, idx)].copy()


Fetch = Callable[[str, float], bytes]


def _http_get(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - configured URL
        return response.read()


@dataclass(frozen=True)
class OsrmTableProvider:
    """Road distances and durations from an OSRM server's ``table`` service.

    Parameters
    ----------
    url
        Base URL of the OSRM server, e.g. ``"http://127.0.0.1:5000"``.
    profiles
        Maps our vehicle profile names to OSRM profile names in the URL path
        (default: ``car -> driving``, ``motorbike -> driving``, ``boat -> driving``).
    timeout_s
        HTTP timeout per request.
    chunk
        Maximum places per request (OSRM's ``max-table-size`` defaults to 100);
        larger problems are fetched block by block.
    """

    url: str
    profiles: Mapping[str, str] = field(
        default_factory=lambda: {"car": "driving", "motorbike": "driving", "boat": "driving"},
        hash=False,
    )
    timeout_s: float = 30.0
    chunk: int = 100
    fetch: Fetch = field(default=_http_get, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"osrm.url: expected an http(s) URL, got {self.url!r}")
        if self.chunk < 2:
            raise ValueError("osrm.chunk: must be >= 2")

    def matrices(self, places: Sequence[Place], profile: str) -> tuple[np.ndarray, np.ndarray]:
        osrm_profile = self.profiles.get(profile)
        if osrm_profile is None:
            raise ValueError(f"osrm: no OSRM profile configured for {profile!r}")
        n = len(places)
        dist = np.zeros((n, n), dtype=np.float64)
        dur = np.zeros((n, n), dtype=np.float64)
        half = max(1, self.chunk // 2)
        for i0 in range(0, n, half):
            src = list(range(i0, min(n, i0 + half)))
            for j0 in range(0, n, half):
                dst = list(range(j0, min(n, j0 + half)))
                d, t = self._block(places, src, dst, osrm_profile)
                dist[np.ix_(src, dst)] = d
                dur[np.ix_(src, dst)] = t
        np.fill_diagonal(dist, 0)
        np.fill_diagonal(dur, 0)
        return _as_int_matrix(dist, "osrm distance"), _as_int_matrix(dur, "osrm duration")

    def _block(
        self, places: Sequence[Place], src: list[int], dst: list[int], osrm_profile: str
    ) -> tuple[np.ndarray, np.ndarray]:
        nodes = list(dict.fromkeys(src + dst))
        pos = {node: k for k, node in enumerate(nodes)}
        coords = ";".join(
            f"{places[k].location.lon:.6f},{places[k].location.lat:.6f}" for k in nodes
        )
        sources = ";".join(str(pos[k]) for k in src)
        destinations = ";".join(str(pos[k]) for k in dst)
        url = (
            f"{self.url.rstrip('/')}/table/v1/{osrm_profile}/{coords}"
            f"?sources={sources}&destinations={destinations}&annotations=distance,duration"
        )
        payload = json.loads(self.fetch(url, self.timeout_s))
        if payload.get("code") != "Ok":
            raise RuntimeError(f"osrm: table request failed: {payload.get('code')!r}")
        dist = np.asarray(payload["distances"], dtype=object)
        dur = np.asarray(payload["durations"], dtype=object)
        if dist.shape != (len(src), len(dst)) or dur.shape != (len(src), len(dst)):
            raise RuntimeError(f"osrm: unexpected table shape {dist.shape}")
        # OSRM answers null for unroutable pairs: treat them as unreachable, not free.
        unreachable = float(INT32_LIMIT - 1)
        d = np.array([[unreachable if v is None else v for v in row] for row in dist], float)
        t = np.array([[unreachable if v is None else v for v in row] for row in dur], float)
        return d, t


def default_travel() -> GreatCircleTravel:
    """The default travel model (great circle × 1.4 at 20/25/12 km/h)."""
    return GreatCircleTravel()


__all__ = [
    "EARTH_RADIUS_M",
    "ExplicitMatrix",
    "GreatCircleTravel",
    "Location",
    "OsrmTableProvider",
    "default_travel",
    "haversine_m",
]
