"""Locating hotspots that arrive without coordinates.

Order of attempts
-----------------
1. The offline gazetteer (:mod:`outreach.gazetteer`): the kelurahan code, then the kecamatan code
   (given, or the enclosing kecamatan of the kelurahan code), then the kecamatan name. A
   kabupaten/kota centre is too coarse and is never used.
2. A configured geocoder (a Nominatim server) through geopy, when ``GEOCODER_URL`` is set:
   at most one request per ``min_delay_seconds`` (never below 1 s) via geopy's ``RateLimiter``,
   our own User-Agent, a timeout, results cached (including "no result"; failures are not).
3. Otherwise the row is ``needs_location``: it is imported and the coordinator drops the pin.

Failures of the geocoder (timeout, HTTP 429/503, no result, a result outside Indonesia, any
exception from geopy) never raise: they give ``needs_location``. After a timeout, 429 or 503 the
geocoder stops for the rest of the batch (a circuit breaker), so a 5,000-row file never waits
5,000 timeouts and a throttling server is left alone. Home-visit rows (kind ``home``) never send
their street address: only the kelurahan/kecamatan goes out (residents' addresses are personal
data, SECURITY finding 7).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from outreach import gazetteer

logger = logging.getLogger(__name__)

LAT_RANGE = (-11.0, 6.5)
LON_RANGE = (94.0, 141.5)

SOURCE_FILE = "file"
SOURCE_KELURAHAN = "gazetteer_kelurahan"
SOURCE_KECAMATAN = "gazetteer_kecamatan"
SOURCE_GEOCODER = "geocoder"

STATUS_LOCATED = "located"
STATUS_NEEDS_LOCATION = "needs_location"

DEFAULT_VERSION = "0.1"
DEFAULT_CONTACT = "https://github.com/jemput-bola"


def in_indonesia(lat: float, lon: float) -> bool:
    """Return whether a finite point lies in the Indonesia bounding box we accept."""
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


@dataclass(frozen=True)
class LocationQuery:
    """What we know about where a row is, apart from coordinates."""

    kelurahan_code: str | None = None
    kecamatan_code: str | None = None
    kecamatan: str | None = None
    kelurahan: str | None = None
    address: str | None = None
    name: str | None = None
    kind: str | None = None
    city: str | None = None


@dataclass(frozen=True)
class Located:
    """The outcome of locating one row.

    ``status`` is ``"located"`` (``lat``/``lon`` set) or ``"needs_location"``; ``source`` tells
    where the point came from; ``reason`` is a short English code for a failure
    (``no_match``, ``timeout``, ``rate_limited``, ``unavailable``, ``no_result``,
    ``outside_indonesia``, ``error``, ``geocoder_off``, ``geocoder_paused``).
    """

    status: str
    lat: float | None = None
    lon: float | None = None
    source: str | None = None
    area_name: str | None = None
    reason: str | None = None


NEEDS_LOCATION = Located(STATUS_NEEDS_LOCATION, reason="no_match")


def locate_offline(query: LocationQuery) -> Located:
    """Locate a row from the offline gazetteer only (no network, microseconds)."""
    if query.kelurahan_code:
        area = gazetteer.area_by_code(query.kelurahan_code)
        if area is not None:
            depth = area.code.count(".")
            if depth == 3:
                return Located(STATUS_LOCATED, area.lat, area.lon, SOURCE_KELURAHAN, area.name)
            if depth == 2:
                return Located(STATUS_LOCATED, area.lat, area.lon, SOURCE_KECAMATAN, area.name)
    if query.kecamatan_code:
        area = gazetteer.area_by_code(query.kecamatan_code)
        if area is not None and area.code.count(".") == 2:
            return Located(STATUS_LOCATED, area.lat, area.lon, SOURCE_KECAMATAN, area.name)
    if query.kecamatan:
        area = gazetteer.kecamatan_by_name(query.kecamatan)
        if area is not None:
            return Located(STATUS_LOCATED, area.lat, area.lon, SOURCE_KECAMATAN, area.name)
    return NEEDS_LOCATION


class GeocodeCache(Protocol):
    """Where geocoder answers are kept; a dict works, the database layer can provide its own.

    Values are ``(lat, lon)`` tuples, or ``None`` for a remembered "no result".
    """

    def __contains__(self, key: object) -> bool: ...

    def __getitem__(self, key: str) -> tuple[float, float] | None: ...

    def __setitem__(self, key: str, value: tuple[float, float] | None) -> None: ...


def user_agent(version: str = DEFAULT_VERSION, contact: str = DEFAULT_CONTACT) -> str:
    """Return our User-Agent, e.g. ``JemputBola/0.1 (+https://dukcapil.example.go.id)``."""
    return f"JemputBola/{version} (+{contact})"


def _geopy_rate_limiter(
    func: Callable[..., Any],
    *,
    min_delay_seconds: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Callable[..., Any]:
    from geopy.extra.rate_limiter import RateLimiter

    class _Limiter(RateLimiter):
        # geopy reads time through these two hooks; overriding them lets tests use a fake clock.
        def _clock(self) -> float:
            return clock()

        def _sleep(self, seconds: float) -> None:
            sleep(seconds)

    # No retries and no swallowing: we tell a failure from "no result" ourselves, and a failing
    # server should not be hammered again.
    return _Limiter(
        func,
        min_delay_seconds=min_delay_seconds,
        max_retries=0,
        error_wait_seconds=min_delay_seconds,
        swallow_exceptions=False,
    )


@dataclass
class Geocoder:
    """A rate-limited, cached Nominatim client that never raises.

    Parameters
    ----------
    url
        Base URL of the Nominatim server, e.g. ``https://nominatim.example.go.id`` (may include a
        path prefix).
    timeout
        Seconds per request (geopy's default of 1 s is too short for a busy server).
    min_delay_seconds
        Spacing between requests; values below 1 are raised to 1 (Nominatim usage policy).
    cache
        Any mapping-like :class:`GeocodeCache`; an in-memory dict by default.
    clock, sleep
        Injected for tests; the real monotonic clock and ``time.sleep`` by default.
    """

    url: str
    timeout: float = 5.0
    min_delay_seconds: float = 1.0
    version: str = DEFAULT_VERSION
    contact: str = DEFAULT_CONTACT
    cache: MutableMapping[str, tuple[float, float] | None] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    country_codes: str = "id"
    requests_made: int = 0
    paused_reason: str | None = None

    def __post_init__(self) -> None:
        from geopy.geocoders import Nominatim

        parts = urlsplit(self.url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"GEOCODER_URL must be an http(s) URL, got {self.url!r}")
        self.min_delay_seconds = max(1.0, float(self.min_delay_seconds))
        self._nominatim = Nominatim(
            domain=parts.netloc + parts.path.rstrip("/"),
            scheme=parts.scheme,
            user_agent=self.user_agent,
            timeout=self.timeout,
            adapter_factory=_adapter_without_retries,
        )
        self._geocode = _geopy_rate_limiter(
            self._nominatim.geocode,
            min_delay_seconds=self.min_delay_seconds,
            clock=self.clock,
            sleep=self.sleep,
        )
        self._lock = threading.Lock()

    @property
    def user_agent(self) -> str:
        """The User-Agent header we send."""
        return user_agent(self.version, self.contact)

    def resume(self) -> None:
        """Allow requests again after the circuit breaker paused the geocoder."""
        self.paused_reason = None

    def geocode(self, query: LocationQuery) -> Located:
        """Return the located point or ``needs_location``; never raises."""
        text = query_text(query)
        if not text:
            return Located(STATUS_NEEDS_LOCATION, reason="no_match")
        key = f"{self.country_codes}|{text.casefold()}"
        if key in self.cache:
            cached = self.cache[key]
            if cached is None:
                return Located(STATUS_NEEDS_LOCATION, reason="no_result")
            return Located(STATUS_LOCATED, cached[0], cached[1], SOURCE_GEOCODER)
        if self.paused_reason is not None:
            return Located(STATUS_NEEDS_LOCATION, reason="geocoder_paused")
        from geopy import exc as geopy_exc

        with self._lock:
            self.requests_made += 1
            try:
                location = self._geocode(
                    text, exactly_one=True, country_codes=self.country_codes, language="id"
                )
            except geopy_exc.GeopyError as exc:
                return self._pause(_failure_reason(exc))
            except Exception:  # noqa: BLE001 - a network client must not lose the row
                logger.warning("geocoder failed unexpectedly", exc_info=True)
                return self._pause("error")
        if location is None:
            self.cache[key] = None
            return Located(STATUS_NEEDS_LOCATION, reason="no_result")
        try:
            lat, lon = float(location.latitude), float(location.longitude)
        except (TypeError, ValueError):
            return Located(STATUS_NEEDS_LOCATION, reason="error")
        if not in_indonesia(lat, lon):
            self.cache[key] = None
            return Located(STATUS_NEEDS_LOCATION, reason="outside_indonesia")
        self.cache[key] = (lat, lon)
        return Located(STATUS_LOCATED, lat, lon, SOURCE_GEOCODER)

    def close(self) -> None:
        """Close the HTTP connection pool (also done when the object is collected)."""
        session = getattr(self._nominatim.adapter, "session", None)
        if session is not None:
            session.close()

    def _pause(self, reason: str) -> Located:
        # Log the reason only: the query may contain an address (personal data for home visits).
        logger.warning("geocoder paused for this batch: %s", reason)
        self.paused_reason = reason
        return Located(STATUS_NEEDS_LOCATION, reason=reason)


def _adapter_without_retries(*, proxies: Any, ssl_context: Any) -> Any:
    """geopy's adapter with urllib3 retries off: a retry would break the 1 request/s spacing."""
    from geopy.adapters import RequestsAdapter, URLLibAdapter

    if RequestsAdapter.is_available:
        return RequestsAdapter(proxies=proxies, ssl_context=ssl_context, max_retries=0)
    return URLLibAdapter(proxies=proxies, ssl_context=ssl_context)


def _failure_reason(exc: Exception) -> str:
    """Name a geopy failure; geopy maps HTTP 503 to a "timeout", so look at the HTTP status."""
    from geopy import exc as geopy_exc

    status = getattr(exc.__cause__, "status_code", None)
    if status == 429 or isinstance(exc, geopy_exc.GeocoderRateLimited):
        return "rate_limited"
    if status is not None:
        return "unavailable"
    if isinstance(exc, geopy_exc.GeocoderTimedOut):
        return "timeout"
    return "unavailable"


def query_text(query: LocationQuery) -> str:
    """Return the free-form text sent to the geocoder.

    Home visits send no street address or name, only the administrative areas.
    """
    private = query.kind == "home"
    parts = [
        None if private else query.name,
        None if private else query.address,
        query.kelurahan,
        query.kecamatan,
        query.city,
    ]
    seen: list[str] = []
    for part in parts:
        text = " ".join((part or "").split())
        if text and text.casefold() not in (s.casefold() for s in seen):
            seen.append(text)
    if not seen or (private and not (query.kelurahan or query.kecamatan)):
        return ""
    return ", ".join([*seen, "Indonesia"])


@dataclass
class Locator:
    """Offline gazetteer first, then the geocoder if one is configured."""

    geocoder: Geocoder | None = None

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        cache: MutableMapping[str, tuple[float, float] | None] | None = None,
    ) -> Locator:
        """Build from app config keys ``GEOCODER_URL`` (off when empty), ``GEOCODER_TIMEOUT``,
        ``GEOCODER_MIN_DELAY``, ``GEOCODER_CONTACT`` and ``APP_VERSION``."""
        url = (config.get("GEOCODER_URL") or "").strip()
        if not url:
            return cls(None)
        geocoder = Geocoder(
            url,
            timeout=float(config.get("GEOCODER_TIMEOUT", 5.0)),
            min_delay_seconds=float(config.get("GEOCODER_MIN_DELAY", 1.0)),
            version=str(config.get("APP_VERSION", DEFAULT_VERSION)),
            contact=str(config.get("GEOCODER_CONTACT", DEFAULT_CONTACT)),
            cache=cache if cache is not None else {},
        )
        return cls(geocoder)

    def locate(self, query: LocationQuery, *, use_geocoder: bool = True) -> Located:
        """Locate one row; never raises."""
        found = locate_offline(query)
        if found.status == STATUS_LOCATED:
            return found
        if self.geocoder is None:
            return Located(STATUS_NEEDS_LOCATION, reason="geocoder_off")
        if not use_geocoder:
            return found
        return self.geocoder.geocode(query)
