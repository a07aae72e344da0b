"""Problem model of the planning core: frozen, validated value objects.

Everything the solver needs is described here, independent of Flask, SQLAlchemy and
OR-Tools. Objects validate themselves on construction and raise :class:`ValueError`
with a message naming the object id and the field, so bad input is rejected before
any solver starts.

Units
-----
* **Time is integer seconds.** Times of day (windows, shifts, breaks) are seconds from
  the office's local midnight, ``0 <= t <= 86_400``. Use :func:`hm` to write them as
  ``"07:30"``. Durations (setup, per-person service) are seconds too.
* **Distance is integer metres.**
* Every integer that reaches the solver must be below ``2**31``.

Priority
--------
``priority`` runs from 1 to 5; **1 is the most urgent** (e.g. a prison or a special-needs
school whose residents have no other way to record) and 5 the least. By default a
resident at priority ``p`` weighs ``2 ** (5 - p)`` (16, 8, 4, 2, 1) when the solver
decides whom to serve; the weights are configurable in the solver parameters.

Blank cards
-----------
Only on-site KTP printing (:attr:`Service.KTP_PRINT`) consumes blank cards (blangko),
one per person printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

# Points, places and the travel defaults live in geo, which travel builds on without importing
# this module; they stay importable from here.
from outreach.planning.geo import DEFAULT_DETOUR as DEFAULT_DETOUR
from outreach.planning.geo import DEFAULT_SPEEDS_KMH as DEFAULT_SPEEDS_KMH
from outreach.planning.geo import INT32_LIMIT, Location, Place

if TYPE_CHECKING:
    import numpy as np

DAY_SECONDS = 86_400
MAX_HORIZON_DAYS = 366


class Service(StrEnum):
    """A service a team performs for residents at a site."""

    KTP_RECORD = "ktp_record"
    """e-KTP recording (biometrics); needs a recording kit."""
    KTP_PRINT = "ktp_print"
    """On-site e-KTP printing; needs a printer and one blank card per person."""
    BIRTH_CERT = "birth_cert"
    """Birth-certificate intake (paperwork)."""
    KIA = "kia"
    """Child identity card (Kartu Identitas Anak)."""


CARD_SERVICES: frozenset[Service] = frozenset({Service.KTP_PRINT})
"""Services that consume one blank card per person."""

PRINTER_SERVICES: frozenset[Service] = frozenset({Service.KTP_PRINT})
"""Services that need a team with a printer."""

DEFAULT_SECONDS_PER_PERSON: Mapping[Service, int] = MappingProxyType(
    {
        Service.KTP_RECORD: 270,  # 4.5 min: ~100-150 recordings per kit per day
        Service.KTP_PRINT: 120,
        Service.BIRTH_CERT: 300,
        Service.KIA: 180,
    }
)
"""Default handling time per person and service, in seconds, for one kit."""


# --------------------------------------------------------------------------- helpers


def hm(text: str) -> int:
    """Return seconds from midnight for a ``"HH:MM"`` (or ``"HH:MM:SS"``) string.

    ``"24:00"`` is accepted as the end of the day.
    """
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"time {text!r}: expected 'HH:MM'")
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if m >= 60 or s >= 60 or h * 3600 + m * 60 + s > DAY_SECONDS:
        raise ValueError(f"time {text!r}: not a time of day between 00:00 and 24:00")
    return h * 3600 + m * 60 + s


def _fmt(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _check_int(value: Any, what: str, *, minimum: int = 0, maximum: int = INT32_LIMIT - 1) -> int:
    # bool is an int subclass; True as a demand is always a bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what}: must be >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{what}: must be <= {maximum}, got {value}")
    return value


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: id must be a non-empty string, got {value!r}")
    return value


# ------------------------------------------------------------------------ primitives
# (Location, a WGS84 point, is defined in outreach.planning.geo.)


@dataclass(frozen=True, slots=True, order=True)
class TimeWindow:
    """An interval ``[start, end)`` of a day, in seconds from local midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        _check_int(self.start, "time window start", maximum=DAY_SECONDS)
        _check_int(self.end, "time window end", maximum=DAY_SECONDS)
        if not self.start < self.end:
            raise ValueError(
                f"time window {self.start}-{self.end}: start must be before end "
                f"(0 <= start < end <= {DAY_SECONDS})"
            )

    @classmethod
    def hm(cls, start: str, end: str) -> TimeWindow:
        """Build a window from ``"HH:MM"`` strings, e.g. ``TimeWindow.hm("07:30", "13:00")``."""
        return cls(hm(start), hm(end))

    @property
    def duration(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{_fmt(self.start)}-{_fmt(self.end)}"


@dataclass(frozen=True, slots=True)
class Break:
    """A break in a shift during which no service happens.

    The break lasts ``duration`` seconds and must lie within ``[start, end]``. With
    ``duration=None`` (the default) the break is fixed and fills ``[start, end)``
    exactly, e.g. the Friday prayer 11:30-13:30: no site is served during it, but the
    team may drive (to pray near the next site). A flexible break pauses everything,
    travel included.
    """

    start: int
    end: int
    name: str = "break"
    duration: int | None = None

    def __post_init__(self) -> None:
        what = f"break {self.name!r}"
        _check_int(self.start, f"{what}.start", maximum=DAY_SECONDS)
        _check_int(self.end, f"{what}.end", maximum=DAY_SECONDS)
        if not self.start < self.end:
            raise ValueError(f"{what}: start must be before end, got {self.start}-{self.end}")
        if self.duration is None:
            object.__setattr__(self, "duration", self.end - self.start)
        _check_int(self.duration, f"{what}.duration", minimum=1, maximum=self.end - self.start)

    @property
    def is_fixed(self) -> bool:
        return self.duration == self.end - self.start

    @property
    def latest_start(self) -> int:
        assert self.duration is not None
        return self.end - self.duration


FRIDAY_PRAYER = Break(hm("11:30"), hm("13:30"), "Friday prayer")
"""Default Friday-prayer break (fixed, 11:30-13:30 local time)."""


@dataclass(frozen=True, slots=True)
class Shift:
    """One working day of a team: ``[start, end)`` seconds of ``date`` plus breaks."""

    date: date
    start: int
    end: int
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        what = f"shift {self.date}"
        if not isinstance(self.date, date):
            raise ValueError(f"shift.date: expected a datetime.date, got {self.date!r}")
        _check_int(self.start, f"{what}.start", maximum=DAY_SECONDS)
        _check_int(self.end, f"{what}.end", maximum=DAY_SECONDS)
        if not self.start < self.end:
            raise ValueError(f"{what}: start must be before end, got {self.start}-{self.end}")
        breaks = tuple(sorted(self.breaks, key=lambda b: (b.start, b.end)))
        for b in breaks:
            if not isinstance(b, Break):
                raise ValueError(f"{what}.breaks: expected Break objects, got {b!r}")
            if b.start < self.start or b.end > self.end:
                raise ValueError(
                    f"{what}: break {b.name!r} {_fmt(b.start)}-{_fmt(b.end)} lies outside "
                    f"the shift {_fmt(self.start)}-{_fmt(self.end)}"
                )
        for a, b in zip(breaks, breaks[1:], strict=False):
            if b.start < a.end:
                raise ValueError(f"{what}: breaks {a.name!r} and {b.name!r} overlap")
        object.__setattr__(self, "breaks", breaks)

    @property
    def break_seconds(self) -> int:
        return sum(b.duration or 0 for b in self.breaks)

    @property
    def working_seconds(self) -> int:
        """Shift length minus break time."""
        return self.end - self.start - self.break_seconds


@dataclass(frozen=True, slots=True)
class Lock:
    """Pins a site to a team's route on a date.

    ``position`` orders locked sites within that route (0 first); unlocked sites may be
    placed between them, but locked sites keep their relative order.
    """

    team_id: str
    date: date
    position: int = 0

    def __post_init__(self) -> None:
        _check_id(self.team_id, "lock.team_id")
        if not isinstance(self.date, date):
            raise ValueError(f"lock.date: expected a datetime.date, got {self.date!r}")
        _check_int(self.position, "lock.position", maximum=10_000)


# ----------------------------------------------------------------------------- sites


def _freeze_demand(owner: str, demand: Mapping[Any, Any]) -> Mapping[Service, int]:
    if not isinstance(demand, Mapping):
        raise ValueError(f"{owner}.demand: expected a mapping service -> persons")
    out: dict[Service, int] = {}
    for key, persons in demand.items():
        try:
            service = Service(key)
        except ValueError:
            raise ValueError(
                f"{owner}.demand: unknown service {key!r} "
                f"(expected one of {', '.join(s.value for s in Service)})"
            ) from None
        _check_int(persons, f"{owner}.demand[{service.value}]")
        if persons:
            out[service] = persons
    return MappingProxyType(dict(sorted(out.items(), key=lambda kv: list(Service).index(kv[0]))))


def _freeze_windows(
    owner: str, windows: Mapping[int, Iterable[TimeWindow]] | None
) -> Mapping[int, tuple[TimeWindow, ...]] | None:
    if windows is None:
        return None
    if not isinstance(windows, Mapping):
        raise ValueError(f"{owner}.windows: expected a mapping weekday (0=Mon..6=Sun) -> windows")
    out: dict[int, tuple[TimeWindow, ...]] = {}
    for weekday, ws in windows.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"{owner}.windows: weekday must be 0 (Monday) .. 6, got {weekday!r}")
        if isinstance(ws, TimeWindow):
            ws = (ws,)
        items = tuple(ws)
        for w in items:
            if not isinstance(w, TimeWindow):
                raise ValueError(f"{owner}.windows[{weekday}]: expected TimeWindow, got {w!r}")
        items = tuple(sorted(items))
        for a, b in zip(items, items[1:], strict=False):
            if b.start < a.end:
                raise ValueError(f"{owner}.windows[{weekday}]: windows {a} and {b} overlap")
        if items:
            out[weekday] = items
    return MappingProxyType(dict(sorted(out.items())))


@dataclass(frozen=True)
class Site:
    """A place a team visits to serve residents (school, office, prison, house...).

    Parameters
    ----------
    id
        Unique, stable identifier (used in results and locks).
    name
        Human-readable name.
    location
        Where the site is.
    demand
        Persons still to serve per :class:`Service` (the *remaining* demand; the solver
        never plans beyond it). Zero entries are dropped; at least one person is needed.
    priority
        1 (most urgent) .. 5 (least urgent).
    windows
        Opening windows per weekday (0 = Monday .. 6 = Sunday), several per day allowed.
        ``None`` means open whenever a team works; a weekday missing from the mapping
        means closed that day. A visit (setup and service) must lie inside one window.
    setup_s
        Seconds to set up and pack up at the site, paid once per visit.
    lock
        Optional pin of this site to a team, date and position. A locked site is visited
        once (not split).
    required
        Benchmarks only (e.g. Solomon): the site must be served; the solver still returns
        a plan without it, and :meth:`Result.is_feasible` reports the violation.
    """

    id: str
    name: str
    location: Location
    demand: Mapping[Service, int] = field(hash=False)
    priority: int = 3
    windows: Mapping[int, tuple[TimeWindow, ...]] | None = field(default=None, hash=False)
    setup_s: int = 900
    lock: Lock | None = None
    required: bool = False

    def __post_init__(self) -> None:
        _check_id(self.id, "site.id")
        owner = f"site {self.id!r}"
        if not isinstance(self.location, Location):
            raise ValueError(f"{owner}.location: expected Location, got {self.location!r}")
        object.__setattr__(self, "demand", _freeze_demand(owner, self.demand))
        if not self.demand:
            raise ValueError(f"{owner}.demand: at least one person must be waiting")
        _check_int(sum(self.demand.values()), f"{owner}.demand (total persons)")
        _check_int(self.priority, f"{owner}.priority", minimum=1, maximum=5)
        object.__setattr__(self, "windows", _freeze_windows(owner, self.windows))
        _check_int(self.setup_s, f"{owner}.setup_s", maximum=DAY_SECONDS)
        if self.lock is not None and not isinstance(self.lock, Lock):
            raise ValueError(f"{owner}.lock: expected Lock or None, got {self.lock!r}")

    @property
    def persons(self) -> int:
        """Total persons waiting over all services."""
        return sum(self.demand.values())

    @property
    def cards(self) -> int:
        """Blank cards needed to serve the whole demand."""
        return sum(n for s, n in self.demand.items() if s in CARD_SERVICES)

    @property
    def services(self) -> frozenset[Service]:
        return frozenset(self.demand)

    def windows_on(self, day: date) -> tuple[TimeWindow, ...]:
        """Opening windows on ``day`` (the whole day if the site has no windows)."""
        if self.windows is None:
            return (TimeWindow(0, DAY_SECONDS),)
        return self.windows.get(day.weekday(), ())


# ----------------------------------------------------------------------------- teams


@dataclass(frozen=True)
class Team:
    """A mobile team (one vehicle) with its kits, services and shifts.

    Parameters
    ----------
    id, name
        Unique identifier and display name.
    start, end
        Where the team starts and ends each working day (``end`` defaults to ``start``).
    profile
        Vehicle profile name for the travel model (``"car"``, ``"motorbike"``, ``"boat"``).
    kits
        Recording kits carried (>= 1); persons are served ``kits`` at a time, so service
        time per person is divided by ``kits``. Setup is not.
    services
        Services the team offers.
    printer
        Whether the team carries a printer (needed for :attr:`Service.KTP_PRINT`).
    cards_per_day
        Blank cards the team can carry per working day.
    shifts
        One :class:`Shift` per working date; dates without a shift are days off.
    """

    id: str
    name: str
    start: Location
    end: Location | None = None
    profile: str = "car"
    kits: int = 1
    services: frozenset[Service] = frozenset({Service.KTP_RECORD, Service.BIRTH_CERT, Service.KIA})
    printer: bool = False
    cards_per_day: int = 0
    shifts: tuple[Shift, ...] = ()

    def __post_init__(self) -> None:
        _check_id(self.id, "team.id")
        owner = f"team {self.id!r}"
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is None and name == "end":
                object.__setattr__(self, "end", self.start)
            elif not isinstance(v, Location):
                raise ValueError(f"{owner}.{name}: expected Location, got {v!r}")
        if not isinstance(self.profile, str) or not self.profile:
            raise ValueError(f"{owner}.profile: expected a vehicle profile name")
        _check_int(self.kits, f"{owner}.kits", minimum=1, maximum=100)
        try:
            services = frozenset(Service(s) for s in self.services)
        except ValueError as exc:
            raise ValueError(f"{owner}.services: {exc}") from None
        object.__setattr__(self, "services", services)
        _check_int(self.cards_per_day, f"{owner}.cards_per_day")
        shifts = tuple(sorted(self.shifts, key=lambda s: s.date))
        for s in shifts:
            if not isinstance(s, Shift):
                raise ValueError(f"{owner}.shifts: expected Shift objects, got {s!r}")
        for a, b in zip(shifts, shifts[1:], strict=False):
            if a.date == b.date:
                raise ValueError(f"{owner}.shifts: two shifts on {a.date}")
        object.__setattr__(self, "shifts", shifts)

    def offers(self, service: Service) -> bool:
        """Whether the team can perform ``service`` (printing also needs a printer)."""
        if service in PRINTER_SERVICES and not self.printer:
            return False
        return service in self.services

    def can_serve(self, site: Site) -> bool:
        """Whether the team offers every service the site asks for."""
        return all(self.offers(s) for s in site.demand)

    def shift_on(self, day: date) -> Shift | None:
        for s in self.shifts:
            if s.date == day:
                return s
        return None


# ------------------------------------------------------------------------ travel API
# (Place, a point the travel model connects, is defined in outreach.planning.geo.)


class TravelProvider(Protocol):
    """Builds travel matrices between places for one vehicle profile.

    Implementations live in :mod:`outreach.planning.travel`.
    """

    def matrices(self, places: Sequence[Place], profile: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(distance_m, duration_s)``, two ``n x n`` int64 arrays, ``n = len(places)``.

        Values must be non-negative and below ``2**31``; the diagonal is zero.
        """
        ...


def _default_travel() -> TravelProvider:
    from outreach.planning.travel import GreatCircleTravel

    return GreatCircleTravel()


# --------------------------------------------------------------------------- problem


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One team on one working date (a route the solver may fill)."""

    index: int
    team: Team
    shift: Shift

    @property
    def date(self) -> date:
        return self.shift.date


@dataclass(frozen=True)
class Problem:
    """A complete planning problem.

    Parameters
    ----------
    sites
        Sites with remaining demand (unique ids).
    teams
        Teams with their shifts (unique ids).
    horizon
        The dates being planned, in order. Shifts on other dates are ignored;
        holidays are handled when building shifts (see :func:`build_shifts`).
    card_stock
        Blank cards the office holds for the whole horizon (``None`` = unlimited).
    travel
        Travel provider; defaults to great-circle × detour ÷ speed.
    utc_offset_minutes
        The office's UTC offset for ISO 8601 output (WIB = 420, WITA = 480, WIT = 540).
    tz_name
        IANA name of the office's zone, informational (``"Asia/Jakarta"``).
    seconds_per_person
        Handling time per person and service for one kit, in seconds.
    """

    sites: tuple[Site, ...]
    teams: tuple[Team, ...]
    horizon: tuple[date, ...]
    card_stock: int | None = None
    travel: TravelProvider = field(default_factory=_default_travel, compare=False, hash=False)
    utc_offset_minutes: int = 420
    tz_name: str = "Asia/Jakarta"
    seconds_per_person: Mapping[Service, int] = field(
        default_factory=lambda: DEFAULT_SECONDS_PER_PERSON, hash=False
    )

    def __post_init__(self) -> None:
        sites = tuple(self.sites)
        teams = tuple(self.teams)
        horizon = tuple(sorted(set(self.horizon)))
        object.__setattr__(self, "sites", sites)
        object.__setattr__(self, "teams", teams)
        object.__setattr__(self, "horizon", horizon)
        for s in sites:
            if not isinstance(s, Site):
                raise ValueError(f"problem.sites: expected Site objects, got {s!r}")
        for t in teams:
            if not isinstance(t, Team):
                raise ValueError(f"problem.teams: expected Team objects, got {t!r}")
        _unique((s.id for s in sites), "site")
        _unique((t.id for t in teams), "team")
        if not horizon:
            raise ValueError("problem.horizon: at least one date is needed")
        for d in horizon:
            if not isinstance(d, date):
                raise ValueError(f"problem.horizon: expected dates, got {d!r}")
        span = (horizon[-1] - horizon[0]).days + 1
        if span > MAX_HORIZON_DAYS:
            raise ValueError(f"problem.horizon: spans {span} days, at most {MAX_HORIZON_DAYS}")
        if self.card_stock is not None:
            _check_int(self.card_stock, "problem.card_stock")
        _check_int(self.utc_offset_minutes, "problem.utc_offset_minutes", minimum=-720, maximum=840)
        spp: dict[Service, int] = {}
        for key, secs in dict(self.seconds_per_person).items():
            service = Service(key)
            spp[service] = _check_int(secs, f"problem.seconds_per_person[{service.value}]")
        for service in Service:
            if service not in spp:
                spp[service] = DEFAULT_SECONDS_PER_PERSON[service]
        object.__setattr__(self, "seconds_per_person", MappingProxyType(spp))
        for s in sites:
            _check_int(
                self.service_seconds(s.demand, 1) + s.setup_s,
                f"site {s.id!r}: total service time (seconds)",
            )
        team_ids = {t.id: t for t in teams}
        in_horizon = set(horizon)
        seen_locks: set[tuple[str, date, int]] = set()
        for s in sites:
            if s.lock is None:
                continue
            lk = s.lock
            owner = f"site {s.id!r}.lock"
            if lk.team_id not in team_ids:
                raise ValueError(f"{owner}: unknown team {lk.team_id!r}")
            if lk.date not in in_horizon:
                raise ValueError(f"{owner}: date {lk.date} is outside the horizon")
            if team_ids[lk.team_id].shift_on(lk.date) is None:
                raise ValueError(f"{owner}: team {lk.team_id!r} has no shift on {lk.date}")
            key = (lk.team_id, lk.date, lk.position)
            if key in seen_locks:
                raise ValueError(
                    f"{owner}: position {lk.position} on team {lk.team_id!r} {lk.date} "
                    "is already taken by another site"
                )
            seen_locks.add(key)

    # -- derived views -------------------------------------------------------------

    @property
    def vehicles(self) -> tuple[Vehicle, ...]:
        """Team × working date pairs within the horizon, ordered by date then team."""
        in_horizon = set(self.horizon)
        pairs = [(s, t) for t in self.teams for s in t.shifts if s.date in in_horizon]
        order = {t.id: i for i, t in enumerate(self.teams)}
        pairs.sort(key=lambda p: (p[0].date, order[p[1].id]))
        return tuple(Vehicle(i, t, s) for i, (s, t) in enumerate(pairs))

    def site(self, site_id: str) -> Site:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def team(self, team_id: str) -> Team:
        for t in self.teams:
            if t.id == team_id:
                return t
        raise KeyError(team_id)

    def day_offset(self, day: date) -> int:
        """Seconds from the horizon's first local midnight to ``day``'s midnight."""
        return (day - self.horizon[0]).days * DAY_SECONDS

    def service_seconds(self, persons: Mapping[Service, int], kits: int) -> int:
        """Seconds to serve ``persons`` with ``kits`` kits (excluding setup), rounded up."""
        work = sum(self.seconds_per_person[s] * n for s, n in persons.items())
        return -(-work // kits)

    def visit_seconds(self, site: Site, persons: Mapping[Service, int], kits: int) -> int:
        """Setup plus service time for one visit serving ``persons`` at ``site``."""
        return site.setup_s + self.service_seconds(persons, kits)

    def places(self) -> tuple[Place, ...]:
        """All places the travel model must connect: sites, then team starts and ends."""
        out = [Place("site", s.id, s.location) for s in self.sites]
        for t in self.teams:
            assert t.end is not None
            out.append(Place("start", t.id, t.start))
            out.append(Place("end", t.id, t.end))
        return tuple(out)


def _unique(ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"problem: duplicate {what} id {i!r}")
        seen.add(i)


# ------------------------------------------------------------------- shift building


def date_range(first: date, last: date) -> tuple[date, ...]:
    """All dates from ``first`` to ``last`` inclusive."""
    if last < first:
        raise ValueError(f"date range: last {last} is before first {first}")
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def national_holidays(dates: Iterable[date], country: str = "ID") -> dict[date, str]:
    """Public holidays (``holidays`` package) falling on ``dates``, with their names."""
    import holidays as holidays_lib

    dates = list(dates)
    if not dates:
        return {}
    years = sorted({d.year for d in dates})
    cal = holidays_lib.country_holidays(country, years=years)
    return {d: cal.get(d) for d in dates if d in cal}


def build_shifts(
    dates: Iterable[date],
    weekly: Mapping[int, TimeWindow],
    *,
    exceptions: Mapping[date, TimeWindow | None] | None = None,
    country: str | None = "ID",
    friday_prayer: Break | None = FRIDAY_PRAYER,
    extra_breaks: Sequence[Break] = (),
) -> tuple[Shift, ...]:
    """Build shifts for ``dates`` from a weekly pattern.

    Parameters
    ----------
    dates
        Candidate dates (usually the horizon).
    weekly
        Working hours per weekday (0 = Monday); weekdays not present are days off.
    exceptions
        Per-date overrides: a window makes the date a working day with those hours
        (even on a holiday or weekend), ``None`` makes it a day off.
    country
        Country whose public holidays are days off (``None`` to ignore holidays).
        Explicit ``exceptions`` win over holidays.
    friday_prayer
        Break added on Fridays when it lies within the shift (``None`` for none).
    extra_breaks
        Breaks added to every shift they fit in (e.g. a flexible lunch break).
    """
    dates = sorted(set(dates))
    exceptions = dict(exceptions or {})
    holiday = national_holidays(dates, country) if country else {}
    shifts: list[Shift] = []
    for d in dates:
        if d in exceptions:
            window = exceptions[d]
        elif d in holiday:
            window = None
        else:
            window = weekly.get(d.weekday())
        if window is None:
            continue
        breaks = [b for b in extra_breaks if window.start <= b.start and b.end <= window.end]
        if (
            friday_prayer is not None
            and d.weekday() == 4
            and window.start <= friday_prayer.start
            and friday_prayer.end <= window.end
        ):
            breaks.append(friday_prayer)
        shifts.append(Shift(d, window.start, window.end, tuple(breaks)))
    return tuple(shifts)


OFFICE_WEEK: Mapping[int, TimeWindow] = MappingProxyType(
    {wd: TimeWindow(hm("08:00"), hm("16:00")) for wd in range(5)}
)
"""Government office hours Monday-Friday, 08:00-16:00."""
