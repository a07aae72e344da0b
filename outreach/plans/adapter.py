"""The one adapter between database rows and the planning model.

Rows → :class:`~outreach.planning.Problem`: an office, a date range, its teams (weekly shifts,
dated exceptions, national holidays, the Friday prayer break) and its hotspots (the *remaining*
demand per service — the coverage loop plans only what is left — opening windows per weekday,
priority, location) plus the plan's locked stops.

:class:`~outreach.planning.result.Result` → rows: ``PlannedRoute``/``PlannedStop``/
``PlanUnserved`` and ``Plan.kpis``/``Plan.solver_status``. Instants are stored as aware UTC
datetimes; output uses the office's UTC offset.

Ids: a site's id is ``str(hotspot.id)``, a planning team's id is ``str(team.id)``.

Re-planning the remaining days
------------------------------
A plan whose ``params["replan_from"]`` is set (see ``service.replan_remaining`` and the
re-optimisation of a published plan) is solved only from that date to its end: the days
before it are *kept* — their routes, stops, outcomes, check-ins and locks stay exactly as
they are. :func:`problem_for_plan` with ``live_demand=True`` and ``from_date`` builds that
problem (:func:`replan_demand` and :func:`replan_card_stock` say what it plans for) and
:func:`write_result` replaces only the routes from that date on. The stored plan then
remembers the date as ``params["kept_before"]`` and its checks use the snapshots described
in :func:`write_result`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..models import (
    ExceptionKind,
    Hotspot,
    HotspotStatus,
    Office,
    Plan,
    PlannedRoute,
    PlannedStop,
    PlanUnserved,
    StopStatus,
    utcnow,
)
from ..models import Team as TeamRow
from ..planning import (
    FRIDAY_PRAYER,
    Break,
    Location,
    Lock,
    Problem,
    Service,
    Shift,
    Site,
    Team,
    TimeWindow,
    TravelProvider,
    date_range,
    gapfill,
    national_holidays,
)
from ..planning.result import BreakTaken, Result, Route, Stop, Unserved

DAY_S = 86_400

# Reason codes for hotspots the adapter leaves out before the solver sees them.
REASON_NEEDS_LOCATION = "needs_location"
REASON_DROPPED = "dropped_by_coordinator"

REASON_TEXTS = {
    REASON_NEEDS_LOCATION: (
        "Lokasi belum diketahui: letakkan pin di peta agar titik ini bisa direncanakan."
    ),
    REASON_DROPPED: "Dikeluarkan dari rencana oleh koordinator.",
}


# ----------------------------------------------------------------------------- time


def office_zone(office: Office) -> ZoneInfo:
    """The office's IANA zone (WIB when the stored name is unknown)."""
    try:
        return ZoneInfo(office.timezone or "Asia/Jakarta")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Jakarta")


def utc_offset_minutes(office: Office, day: date) -> int:
    """The office's UTC offset in minutes on ``day`` (Indonesia has no daylight saving)."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=office_zone(office))
    offset = noon.utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def office_tz(office: Office, day: date | None = None) -> timezone:
    """A fixed-offset tzinfo for ISO 8601 output (``+07:00`` for WIB)."""
    return timezone(timedelta(minutes=utc_offset_minutes(office, day or date.today())))


def aware(dt: datetime | None) -> datetime | None:
    """Treat naive datetimes (SQLite returns them) as UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime | None, tz: timezone) -> str | None:
    """ISO 8601 in the office's offset, e.g. ``2026-12-07T08:30:00+07:00``."""
    value = aware(dt)
    return value.astimezone(tz).isoformat() if value is not None else None


@dataclass(frozen=True)
class Clock:
    """Converts between the solver clock (seconds from the horizon's first local midnight)
    and aware UTC datetimes."""

    horizon_start: date
    offset_minutes: int

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.offset_minutes))

    def _base(self) -> datetime:
        d = self.horizon_start
        return datetime(d.year, d.month, d.day, tzinfo=self.tz)

    def to_datetime(self, seconds: int) -> datetime:
        return (self._base() + timedelta(seconds=int(seconds))).astimezone(UTC)

    def to_seconds(self, dt: datetime) -> int:
        value = aware(dt)
        assert value is not None
        return int(round((value - self._base()).total_seconds()))

    def day_offset(self, day: date) -> int:
        return (day - self.horizon_start).days * DAY_S


# ---------------------------------------------------------------------- rows → model


@dataclass(frozen=True)
class Excluded:
    """A selected hotspot the adapter left out before solving, with the reason."""

    hotspot_id: int
    reason_code: str
    reason_text: str
    persons: int


@dataclass
class BuiltProblem:
    """A problem plus what the adapter decided on the way."""

    problem: Problem
    clock: Clock
    excluded: list[Excluded] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hotspots: dict[int, Hotspot] = field(default_factory=dict)
    teams: dict[int, TeamRow] = field(default_factory=dict)
    # Re-planning the remaining days: the problem starts here, earlier routes are kept.
    kept_before: date | None = None


def _break_from_row(raw: Any, default_name: str) -> Break | None:
    """A stored break ``[start_min, end_min, label]`` (optionally ``duration_min`` 4th)."""
    if not isinstance(raw, list | tuple) or len(raw) < 2:
        return None
    try:
        start, end = int(raw[0]) * 60, int(raw[1]) * 60
        name = str(raw[2]) if len(raw) > 2 and raw[2] else default_name
        duration = int(raw[3]) * 60 if len(raw) > 3 and raw[3] else None
        return Break(start, end, name, duration)
    except (TypeError, ValueError):
        return None


def _shift(day: date, start_min: int, end_min: int, raw_breaks: Iterable[Any]) -> Shift:
    start, end = start_min * 60, end_min * 60
    breaks: list[Break] = []
    for raw in raw_breaks or ():
        b = _break_from_row(raw, "Istirahat")
        # A break outside the hours cannot be taken; an overlapping one is a typo. Skip both
        # rather than refuse to plan the whole team.
        if b is None or b.start < start or b.end > end:
            continue
        if any(b.start < o.end and o.start < b.end for o in breaks):
            continue
        breaks.append(b)
    if day.weekday() == 4 and FRIDAY_PRAYER.start >= start and FRIDAY_PRAYER.end <= end:
        # Friday prayer applies even when the stored pattern forgot it; a stored break that
        # overlaps it (e.g. "Sholat Jumat" 11:30-13:30) already covers it.
        if not any(FRIDAY_PRAYER.start < o.end and o.start < FRIDAY_PRAYER.end for o in breaks):
            breaks.append(FRIDAY_PRAYER)
    return Shift(day, start, end, tuple(breaks))


def team_shifts(team: TeamRow, dates: Sequence[date], holidays: Mapping[date, str]) -> list[Shift]:
    """Working shifts of ``team`` on ``dates``: exceptions win over holidays over the pattern."""
    weekly = {s.weekday: s for s in team.weekly_shifts}
    exceptions = {e.day: e for e in team.exceptions}
    out: list[Shift] = []
    for d in dates:
        exc = exceptions.get(d)
        if exc is not None:
            if exc.kind == ExceptionKind.LEAVE or exc.start_min is None or exc.end_min is None:
                continue
            out.append(_shift(d, exc.start_min, exc.end_min, exc.breaks))
            continue
        if d in holidays:
            continue
        w = weekly.get(d.weekday())
        if w is not None:
            out.append(_shift(d, w.start_min, w.end_min, w.breaks))
    return out


# A solve started during the day plans today from "now", rounded up to this step.
NOW_STEP_S = 5 * 60


def planning_now() -> datetime:
    """The instant a new solve plans from (aware): the clock, unless the app config's
    ``PLANNING_NOW`` (an aware datetime or ISO 8601 text such as
    ``"2026-12-07T10:17:00+07:00"``; naive means UTC) fixes it for tests and demos."""
    from flask import current_app, has_app_context

    fixed = current_app.config.get("PLANNING_NOW") if has_app_context() else None
    if fixed:
        value = fixed if isinstance(fixed, datetime) else datetime.fromisoformat(str(fixed))
        result = aware(value)
        assert result is not None
        return result
    return utcnow()


def local_now(office: Office, now: datetime) -> tuple[date, int]:
    """``now`` in the office's zone: its date and the second of that day, rounded up to the
    next :data:`NOW_STEP_S` (10:17 → 10:20; 10:20:00 stays)."""
    value = aware(now)
    assert value is not None
    local = value.astimezone(office_zone(office))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    second = math.ceil((local - midnight).total_seconds() / NOW_STEP_S) * NOW_STEP_S
    return local.date(), second


def shift_from(shift: Shift, second: int) -> Shift | None:
    """What is left of ``shift`` from day-local ``second`` on; ``None`` when it has ended.

    Breaks that ended are gone; a break under way keeps what is left of it (a flexible one
    at most its duration)."""
    if second <= shift.start:
        return shift
    if second >= shift.end:
        return None
    breaks: list[Break] = []
    for b in shift.breaks:
        if b.end <= second:
            continue
        if b.start >= second:
            breaks.append(b)
            continue
        assert b.duration is not None
        breaks.append(Break(second, b.end, b.name, min(b.duration, b.end - second)))
    return Shift(shift.date, second, shift.end, tuple(breaks))


def shifts_from_now(shifts: Iterable[Shift], office: Office, now: datetime) -> list[Shift]:
    """The shifts a solve at ``now`` can still use: none before today (office zone), today's
    from ``now`` rounded up (:func:`local_now`, :func:`shift_from`), later days whole."""
    today, second = local_now(office, now)
    out: list[Shift] = []
    for s in shifts:
        if s.date < today:
            continue
        rest = shift_from(s, second) if s.date == today else s
        if rest is not None:
            out.append(rest)
    return out


def to_team(
    team: TeamRow,
    office: Office,
    dates: Sequence[date],
    holidays,
    now: datetime | None = None,
) -> Team:
    """A planning team starting and ending its days at the office.

    With ``now`` (a new solve) its shifts start no earlier than ``now``
    (:func:`shifts_from_now`): today's routes start from now, not from the shift start."""
    depot = Location(office.lat, office.lon)
    shifts = team_shifts(team, dates, holidays)
    if now is not None:
        shifts = shifts_from_now(shifts, office, now)
    services = frozenset(
        Service(s) for s in (team.services or []) if s in Service._value2member_map_
    )
    return Team(
        id=str(team.id),
        name=team.name,
        start=depot,
        end=depot,
        profile=str(team.vehicle.value if hasattr(team.vehicle, "value") else team.vehicle),
        kits=max(1, int(team.kits or 1)),
        services=services,
        printer=bool(team.has_printer),
        cards_per_day=int(team.cards_per_day or 0),
        shifts=tuple(shifts),
    )


def _windows(hotspot: Hotspot) -> dict[int, tuple[TimeWindow, ...]] | None:
    if not hotspot.openings:
        return None  # no hours given: open whenever a team works
    by_day: dict[int, list[tuple[int, int]]] = {}
    for o in hotspot.openings:
        by_day.setdefault(o.weekday, []).append((o.start_min * 60, o.end_min * 60))
    out: dict[int, tuple[TimeWindow, ...]] = {}
    for wd, spans in by_day.items():
        # Overlapping or touching windows from an import are merged: the site is open in both.
        merged: list[list[int]] = []
        for s, e in sorted(spans):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        out[wd] = tuple(TimeWindow(s, e) for s, e in merged)
    return out


def remaining_demand(hotspot: Hotspot) -> dict[Service, int]:
    """What is left to serve per service (the coverage loop)."""
    out: dict[Service, int] = {}
    for d in hotspot.demands:
        if d.service in Service._value2member_map_ and d.remaining > 0:
            out[Service(d.service)] = int(d.remaining)
    return out


def to_site(
    hotspot: Hotspot, lock: Lock | None = None, demand: Mapping[Service, int] | None = None
) -> Site:
    """A planning site for a located hotspot (default demand: what remains)."""
    assert hotspot.lat is not None and hotspot.lon is not None
    return Site(
        id=str(hotspot.id),
        name=hotspot.name,
        location=Location(hotspot.lat, hotspot.lon),
        demand=dict(demand) if demand is not None else remaining_demand(hotspot),
        priority=int(hotspot.priority or 3),
        windows=_windows(hotspot),
        lock=lock,
    )


def build_problem(
    office: Office,
    start: date,
    end: date,
    teams: Sequence[TeamRow],
    hotspots: Sequence[Hotspot],
    *,
    locked_stops: Sequence[PlannedStop] = (),
    dropped_ids: Iterable[int] = (),
    travel: TravelProvider | None = None,
    country: str | None = "ID",
    demand_override: Mapping[str, Mapping[str, int]] | None = None,
    card_stock: int | None = None,
    now: datetime | None = None,
) -> BuiltProblem:
    """Build a :class:`Problem` from rows.

    Hotspots without a location are left out with reason ``needs_location``; hotspots the
    coordinator dropped are left out with ``dropped_by_coordinator``; hotspots with nothing
    left to serve (or archived) are skipped silently. A locked stop pins its hotspot to its
    team, date and position; a lock the problem cannot honour (team off that day, date outside
    the range) is ignored and noted. ``demand_override`` (hotspot id as string → service →
    persons) replaces the remaining demand, e.g. the demand a plan was solved for;
    ``card_stock`` replaces the office's blank-card stock (a re-plan of the remaining days).
    ``now`` (a new solve) takes away the working time before it: no shift before today, and
    today's shifts start at ``now`` rounded up to 5 minutes (:func:`shifts_from_now`).
    """
    dates = date_range(start, end)
    holidays = national_holidays(dates, country) if country else {}
    clock = Clock(dates[0], utc_offset_minutes(office, dates[0]))
    built_teams = [to_team(t, office, dates, holidays, now) for t in teams]
    by_id = {t.id: t for t in built_teams}
    dropped = set(dropped_ids)
    locks: dict[int, Lock] = {}
    notes: list[str] = []
    seen_slots: set[tuple[str, date, int]] = set()
    for stop in sorted(locked_stops, key=lambda s: (s.route.day, s.route.team_id, s.position)):
        team = by_id.get(str(stop.route.team_id))
        day = stop.route.day
        if stop.hotspot_id in locks:
            continue  # a locked site is visited once; extra locked visits are re-planned
        if team is None or team.shift_on(day) is None:
            notes.append(
                f"Kunci titik {stop.hotspot.name} diabaikan: tim tidak bertugas pada {day}."
            )
            continue
        slot = (team.id, day, stop.position)
        if slot in seen_slots:
            continue
        seen_slots.add(slot)
        locks[stop.hotspot_id] = Lock(team.id, day, stop.position)

    sites: list[Site] = []
    excluded: list[Excluded] = []
    kept: dict[int, Hotspot] = {}
    for h in hotspots:
        demand = remaining_demand(h)
        if demand_override is not None and str(h.id) in demand_override:
            demand = {
                Service(k): int(v)
                for k, v in demand_override[str(h.id)].items()
                if k in Service._value2member_map_ and int(v) > 0
            }
        persons = sum(demand.values())
        if h.status == HotspotStatus.ARCHIVED or persons == 0:
            continue
        if h.id in dropped:
            excluded.append(Excluded(h.id, REASON_DROPPED, REASON_TEXTS[REASON_DROPPED], persons))
            continue
        if h.lat is None or h.lon is None or h.status == HotspotStatus.NEEDS_LOCATION:
            excluded.append(
                Excluded(h.id, REASON_NEEDS_LOCATION, REASON_TEXTS[REASON_NEEDS_LOCATION], persons)
            )
            continue
        sites.append(to_site(h, locks.get(h.id), demand))
        kept[h.id] = h
    kwargs: dict[str, Any] = {}
    if travel is not None:
        kwargs["travel"] = travel
    problem = Problem(
        sites=tuple(sites),
        teams=tuple(built_teams),
        horizon=dates,
        card_stock=int(card_stock)
        if card_stock is not None
        else (int(office.card_stock) if office.card_stock is not None else None),
        utc_offset_minutes=clock.offset_minutes,
        tz_name=office.timezone or "Asia/Jakarta",
        **kwargs,
    )
    return BuiltProblem(
        problem=problem,
        clock=clock,
        excluded=excluded,
        notes=notes,
        hotspots=kept,
        teams={t.id: t for t in teams},
    )


def plan_selection(plan: Plan) -> tuple[list[TeamRow], list[Hotspot]]:
    """The teams and hotspots a plan covers (ids stored in ``plan.params`` at creation)."""
    from ..extensions import db

    params = plan.params or {}
    team_ids = [int(i) for i in params.get("team_ids") or []]
    hotspot_ids = [int(i) for i in params.get("hotspot_ids") or []]
    teams = (
        list(
            db.session.scalars(
                db.select(TeamRow)
                .where(TeamRow.id.in_(team_ids), TeamRow.office_id == plan.office_id)
                .order_by(TeamRow.id)
            )
        )
        if team_ids
        else []
    )
    hotspots = (
        list(
            db.session.scalars(
                db.select(Hotspot)
                .where(Hotspot.id.in_(hotspot_ids), Hotspot.office_id == plan.office_id)
                .order_by(Hotspot.id)
            )
        )
        if hotspot_ids
        else []
    )
    return teams, hotspots


def planned_stops(plan: Plan) -> list[PlannedStop]:
    """Every live (not cancelled) stop of the plan, by date, team and position."""
    out = [s for r in plan.routes for s in r.stops if s.status != StopStatus.CANCELLED]
    out.sort(key=lambda s: (s.route.day, s.route.team_id, s.position))
    return out


def _param_date(plan: Plan, key: str) -> date | None:
    raw = (plan.params or {}).get(key)
    if not raw:
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        return None


def replan_from(plan: Plan) -> date | None:
    """The first day a pending re-plan solves again (``params["replan_from"]``), or ``None``."""
    return _param_date(plan, "replan_from")


def kept_before(plan: Plan) -> date | None:
    """Days before this date were kept by the last re-plan (``params["kept_before"]``)."""
    return _param_date(plan, "kept_before")


def kept_stops(plan: Plan, before: date) -> list[PlannedStop]:
    """The live stops of the days a re-plan keeps (before ``before``)."""
    return [s for s in planned_stops(plan) if s.route.day < before]


def replan_demand(hotspots: Sequence[Hotspot], kept: Sequence[PlannedStop]) -> dict:
    """What a re-plan of the remaining days plans for, per hotspot id (str) and service.

    The live remaining demand (``HotspotDemand.remaining``, which field outcomes already
    lowered) minus what the kept stops *without* an outcome still plan to serve: today's
    stops not yet reported (and an older stop nobody reported) will serve their residents,
    so planning them again would count them twice. A kept stop with an outcome is already in
    the remaining demand: a served one took its residents off it, a "not served" one left
    them there — so that site becomes a candidate again.
    """
    pending: dict[int, dict[str, int]] = {}
    for s in kept:
        if s.outcomes:
            continue
        row = pending.setdefault(s.hotspot_id, {})
        for k, v in (s.persons or {}).items():
            row[k] = row.get(k, 0) + int(v)
    out: dict[str, dict[str, int]] = {}
    for h in hotspots:
        left = {k.value: v for k, v in remaining_demand(h).items()}
        minus = pending.get(h.id, {})
        out[str(h.id)] = {k: max(0, v - int(minus.get(k, 0))) for k, v in left.items()}
    return out


def replan_card_stock(office: Office, kept: Sequence[PlannedStop]) -> int | None:
    """Blank cards a re-plan of the remaining days may use.

    ``Office.card_stock`` is the coordinator's figure; recording an outcome does not lower
    it (the field service stores ``cards_used`` on the outcome only). So it is read as the
    stock the whole plan draws from, and the kept days' share comes off: the cards an
    outcome reports as used, and the planned cards of kept stops without an outcome (today's
    teams carry them). If the office recounted its stock meanwhile, the re-plan errs on the
    safe side (fewer cards, never more than exist).
    """
    if office.card_stock is None:
        return None
    used = 0
    for s in kept:
        if s.outcomes:
            used += sum(int(o.cards_used or 0) for o in s.outcomes)
        else:
            used += int(s.cards or 0)
    return max(0, int(office.card_stock) - used)


def problem_for_plan(
    plan: Plan,
    *,
    with_locks: bool = True,
    travel: TravelProvider | None = None,
    live_demand: bool = False,
    from_date: date | None = None,
    now: datetime | None = None,
) -> BuiltProblem:
    """The plan's problem: its selection, dropped hotspots, and (optionally) its locked stops.

    With ``live_demand`` the hotspots' current remaining demand is used (a new solve);
    otherwise the demand the plan was solved for (``plan.params["demand"]``), so field
    outcomes recorded later do not turn a valid plan into violations.

    A new solve with ``from_date`` after the plan's first day re-plans the remaining days
    only: the problem covers ``from_date`` to the end date (the teams' shifts on those
    dates), plans :func:`replan_demand` with :func:`replan_card_stock` blank cards, and
    keeps the locked stops of those days as locks; ``kept_before`` is set on the result.

    A new solve plans from ``now`` (default :func:`planning_now`): today's routes start from
    then, not from the shift start, and no earlier day gets a route. Checks of a stored plan
    (without ``live_demand``; ``now`` unset) use the whole shifts, so a plan stays valid as
    the day goes on.

    The check of a stored plan whose last solve kept earlier days (``params["kept_before"]``)
    covers the whole horizon against the snapshots :func:`write_result` stored (demand and
    ``params["card_stock"]``); only locks from ``kept_before`` on are checked — the kept
    days are fixed anyway, and a site locked on a kept day may get a new visit later.
    """
    teams, hotspots = plan_selection(plan)
    params = plan.params or {}
    dropped = [int(i) for i in params.get("dropped_hotspot_ids") or []]
    from ..extensions import db

    office = db.session.get(Office, plan.office_id)
    assert office is not None
    if live_demand:
        keep = from_date if from_date and plan.start_date < from_date <= plan.end_date else None
        now = now if now is not None else planning_now()
    else:
        keep = kept_before(plan)
    live = planned_stops(plan)
    locked = (
        [s for s in live if s.locked and (keep is None or s.route.day >= keep)]
        if with_locks
        else []
    )
    if live_demand and keep is not None:
        kept = [s for s in live if s.route.day < keep]
        built = build_problem(
            office,
            keep,
            plan.end_date,
            teams,
            hotspots,
            locked_stops=locked,
            dropped_ids=dropped,
            travel=travel,
            demand_override=replan_demand(hotspots, kept),
            card_stock=replan_card_stock(office, kept),
            now=now,
        )
        built.kept_before = keep
        return built
    stock = params.get("card_stock") if keep is not None and not live_demand else None
    return build_problem(
        office,
        plan.start_date,
        plan.end_date,
        teams,
        hotspots,
        locked_stops=locked,
        dropped_ids=dropped,
        travel=travel,
        demand_override=None if live_demand else params.get("demand"),
        card_stock=int(stock) if isinstance(stock, int) else None,
        now=now,
    )


# ---------------------------------------------------------------------- model → rows


def kpis_of(result: Result, built: BuiltProblem, office: Office | None = None) -> dict[str, Any]:
    """KPIs a coordinator reads: residents served vs requested, cards, km, hours, utilisation."""
    base = result.to_dict()["kpis"]
    excluded_persons = sum(e.persons for e in built.excluded)
    cards_needed = sum(r.cards for r in result.routes)
    stock = built.problem.card_stock
    return {
        **base,
        "persons_served": result.persons_served,
        "persons_requested": result.persons_requested + excluded_persons,
        "persons_excluded": excluded_persons,
        "cards_needed": cards_needed,
        "card_stock": stock,
        "distance_km": round(result.distance_m / 1000, 3),
        "hours": round(sum(r.duration_s for r in result.routes) / 3600, 2),
        "routes": len(result.routes),
        "stops": sum(len(r.stops) for r in result.routes),
        "unserved": len(result.unserved) + len(built.excluded),
        "runtime_s": round(result.runtime_s, 3),
    }


def write_result(plan: Plan, built: BuiltProblem, result: Result) -> None:
    """Replace the plan's routes, stops and unserved rows with ``result`` (caller commits).

    Stops of locked sites stay locked; stops keep the solver's order as ``position``.

    When ``built.kept_before`` is set (a re-plan of the remaining days) only the routes from
    that date on are replaced; earlier routes and their stops — and so their outcomes and
    check-ins — are not touched. The stored snapshots then describe the whole plan:

    * ``params["demand"]``: per site, what the kept stops plan plus what the re-plan was
      given (:func:`replan_demand`), so served + unserved = demand holds for every day;
    * ``params["card_stock"]``: the re-plan's stock (:func:`replan_card_stock`) plus the
      kept stops' planned cards, the stock the whole plan is checked against;
    * ``params["kept_before"]``: the first re-planned day (the review page says so).

    A full solve removes ``kept_before`` and ``card_stock`` (checks use the office's stock).
    ``params["replan_from"]`` (the request) is always removed.
    """
    from ..extensions import db

    clock = built.clock
    keep = built.kept_before
    if keep is None:
        plan.routes.clear()
        kept: list[PlannedStop] = []
    else:
        for old in [r for r in plan.routes if r.day >= keep]:
            plan.routes.remove(old)
        kept = kept_stops(plan, keep)
    plan.unserved.clear()
    # Delete the replaced rows before inserting: a new route may take the same team-day.
    db.session.flush()
    locked_sites = {s.id for s in built.problem.sites if s.lock is not None}
    for r in result.routes:
        route = PlannedRoute(
            team_id=int(r.team_id),
            day=r.date,
            distance_m=int(r.distance_m),
            duration_s=int(r.duration_s),
            start_at=clock.to_datetime(r.depart),
            end_at=clock.to_datetime(r.arrive),
        )
        for pos, s in enumerate(r.stops):
            lock = built.problem.site(s.site_id).lock if s.site_id in locked_sites else None
            route.stops.append(
                PlannedStop(
                    hotspot_id=int(s.site_id),
                    position=pos,
                    arrival_at=clock.to_datetime(s.arrival),
                    start_at=clock.to_datetime(s.start),
                    end_at=clock.to_datetime(s.end),
                    persons={k.value: int(v) for k, v in s.persons.items() if v},
                    cards=int(s.cards),
                    locked=bool(lock and lock.team_id == r.team_id and lock.date == r.date),
                )
            )
        plan.routes.append(route)
    for u in result.unserved:
        plan.unserved.append(
            PlanUnserved(
                hotspot_id=int(u.site_id),
                reason_code=u.reason[:40],
                reason_text=u.message[:500],
                reason_params={str(k): str(v) for k, v in u.params.items()} or None,
                persons=int(u.total_persons),
            )
        )
    for e in built.excluded:
        plan.unserved.append(
            PlanUnserved(
                hotspot_id=e.hotspot_id,
                reason_code=e.reason_code,
                reason_text=e.reason_text,
                persons=e.persons,
            )
        )
    plan.solver_status = result.status[:64]
    # The demand this plan was solved for: later checks use it, not the live remaining.
    demand = {s.id: {k.value: v for k, v in s.demand.items()} for s in built.problem.sites}
    params = {
        k: v
        for k, v in (plan.params or {}).items()
        if k not in ("replan_from", "kept_before", "card_stock")
    }
    if keep is not None:
        for s in kept:
            row = demand.setdefault(str(s.hotspot_id), {})
            for k, v in (s.persons or {}).items():
                row[k] = row.get(k, 0) + int(v)
        params["kept_before"] = keep.isoformat()
        if built.problem.card_stock is not None:
            params["card_stock"] = int(built.problem.card_stock) + sum(
                int(s.cards or 0) for s in kept
            )
    plan.params = {**params, "demand": demand}
    if keep is None:
        plan.kpis = kpis_of(result, built)
    else:
        plan.kpis = whole_plan_kpis(plan, built, result)


def whole_plan_kpis(plan: Plan, built: BuiltProblem, result: Result) -> dict[str, Any]:
    """KPIs of every day of the plan after a re-plan of the remaining days: recomputed from
    the rows (kept and new) against the stored snapshots, with the solve's own runtime."""
    from ..extensions import db

    db.session.flush()
    whole = problem_for_plan(plan, with_locks=False, travel=built.problem.travel)
    kpis = kpis_of(result_from_plan(plan, whole, status=result.status), whole)
    kpis["runtime_s"] = round(result.runtime_s, 3)
    return kpis


# -------------------------------------------------------- rows → result (for checking)


class TravelTable:
    """Distances and durations between the problem's places, per vehicle profile."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.places = problem.places()
        self.index = {p.key: i for i, p in enumerate(self.places)}
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _m(self, profile: str) -> tuple[np.ndarray, np.ndarray]:
        if profile not in self._cache:
            self._cache[profile] = self.problem.travel.matrices(self.places, profile)
        return self._cache[profile]

    def leg(self, profile: str, a: tuple[str, str], b: tuple[str, str]) -> tuple[int, int]:
        """``(metres, seconds)`` from place ``a`` to place ``b``."""
        dist, dur = self._m(profile)
        i, j = self.index[a], self.index[b]
        return int(dist[i, j]), int(dur[i, j])


@dataclass(frozen=True)
class Visit:
    """A stop to schedule: which site, and how many persons per service."""

    site_id: str
    persons: Mapping[Service, int]


@dataclass(frozen=True)
class Timed:
    arrival: int
    start: int
    end: int
    distance_m: int
    travel_s: int


def break_intervals(shift: Shift | None) -> list[tuple[int, int, str]]:
    """Day-local ``(start, end, name)`` of each break; a flexible break at its earliest start.

    The edit scheduler places breaks where they may first start, so the checker's rule
    "no visit overlaps a break; travel pauses during a break" has one fixed reading.
    """
    if shift is None:
        return []
    out = []
    for b in shift.breaks:
        assert b.duration is not None
        out.append((b.start, b.start + b.duration, b.name))
    return sorted(out)


def arrive_after(leave: int, travel: int, breaks: Sequence[tuple[int, int, str]]) -> int:
    """Earliest arrival leaving at ``leave``; no travel happens during a break (``breaks``
    sorted, as :func:`break_intervals` returns them). The planner's own rule
    (:func:`outreach.planning.gapfill.arrival`), so edits and solves time a drive alike."""
    return gapfill.arrival(leave, travel, [(a, b) for a, b, _ in breaks])


def schedule_route(
    problem: Problem,
    table: TravelTable,
    team_id: str,
    day: date,
    visits: Sequence[Visit],
    *,
    leave_at: int | None = None,
    leave_from: str | None = None,
) -> tuple[int, int, list[Timed], list[BreakTaken], int, int]:
    """Earliest-start times for ``visits`` in order (day-local seconds).

    Returns ``(depart, arrive, timed stops, breaks, distance_m, travel_s)``. The team leaves
    at the start of its shift, or at ``leave_at`` when that is later (today's route edited
    during the day: the rest of it starts from now); ``leave_from`` is the site it leaves
    from instead of the office (the last stop it has already made). A visit waits for its
    site's opening and never overlaps a break. When no window fits, the visit starts on
    arrival and the checker reports it.
    """
    team = problem.team(team_id)
    shift = team.shift_on(day)
    depart = shift.start if shift else 8 * 3600
    if leave_at is not None:
        depart = max(depart, leave_at)
    breaks = break_intervals(shift)
    t = depart
    prev = ("start", team_id) if leave_from is None else ("site", leave_from)
    out: list[Timed] = []
    dist_total = travel_total = 0
    for v in visits:
        site = problem.site(v.site_id)
        d, tt = table.leg(team.profile, prev, ("site", v.site_id))
        arrival = arrive_after(t, tt, breaks)
        dur = problem.visit_seconds(site, dict(v.persons), team.kits)
        windows = site.windows_on(day)
        s = arrival
        for _ in range(len(breaks) + len(windows) + 2):
            moved = False
            for b_start, b_end, _name in breaks:
                if s < b_end and b_start < s + dur:
                    s = b_end
                    moved = True
            fit = next((max(s, w.start) for w in windows if max(s, w.start) + dur <= w.end), None)
            if fit is not None and fit != s:
                s = fit
                moved = True
            if not moved:
                break
        out.append(Timed(arrival, s, s + dur, d, tt))
        dist_total += d
        travel_total += tt
        t = s + dur
        prev = ("site", v.site_id)
    arrive = depart
    if visits:
        d, tt = table.leg(team.profile, prev, ("end", team_id))
        arrive = arrive_after(t, tt, breaks)
        dist_total += d
        travel_total += tt
    taken = [BreakTaken(name, a, b) for a, b, name in breaks]
    return depart, arrive, out, taken, dist_total, travel_total


def result_from_plan(plan: Plan, built: BuiltProblem, *, status: str | None = None) -> Result:
    """Rebuild a :class:`Result` from the plan's rows so the checker can verify edits.

    Stored times are used as they are; distances and travel come from the travel model.
    """
    problem = built.problem
    clock = built.clock
    table = TravelTable(problem)
    site_ids = {s.id for s in problem.sites}
    routes: list[Route] = []
    visit_no: dict[str, int] = {}
    for r in sorted(plan.routes, key=lambda r: (r.day, r.team_id)):
        stops = [s for s in r.stops if s.status != StopStatus.CANCELLED]
        stops.sort(key=lambda s: s.position)
        if not stops:
            continue
        team_id = str(r.team_id)
        off = clock.day_offset(r.day)
        profile = problem.team(team_id).profile if _has_team(problem, team_id) else "car"
        prev = ("start", team_id)
        built_stops: list[Stop] = []
        dist_total = travel_total = 0
        for s in stops:
            sid = str(s.hotspot_id)
            d = tt = 0
            if sid in site_ids and _has_team(problem, team_id):
                d, tt = table.leg(profile, prev, ("site", sid))
                prev = ("site", sid)
            persons = {Service(k): int(v) for k, v in (s.persons or {}).items() if v}
            built_stops.append(
                Stop(
                    site_id=sid,
                    visit=visit_no.get(sid, 0),
                    arrival=clock.to_seconds(s.arrival_at),
                    start=clock.to_seconds(s.start_at),
                    end=clock.to_seconds(s.end_at),
                    persons=persons,
                    cards=int(s.cards),
                    distance_m=d,
                    travel_s=tt,
                )
            )
            visit_no[sid] = visit_no.get(sid, 0) + 1
            dist_total += d
            travel_total += tt
        if _has_team(problem, team_id):
            d, tt = table.leg(profile, prev, ("end", team_id))
            dist_total += d
            travel_total += tt
        depart = clock.to_seconds(r.start_at) if r.start_at else built_stops[0].arrival
        arrive = clock.to_seconds(r.end_at) if r.end_at else built_stops[-1].end
        shift = problem.team(team_id).shift_on(r.day) if _has_team(problem, team_id) else None
        breaks = tuple(BreakTaken(n, off + a, off + b) for a, b, n in break_intervals(shift))
        routes.append(
            Route(
                team_id=team_id,
                date=r.day,
                depart=depart,
                arrive=arrive,
                stops=tuple(built_stops),
                breaks=breaks,
                distance_m=dist_total,
                travel_s=travel_total,
            )
        )
    # Served + unserved must equal the demand: whatever the routes leave is unserved, with
    # the stored reason when there is one.
    reasons = {str(u.hotspot_id): u for u in plan.unserved}
    unserved_list = []
    for site in problem.sites:
        left = _unserved_persons(problem, site.id, routes)
        if not left:
            continue
        row = reasons.get(site.id)
        unserved_list.append(
            Unserved(
                site_id=site.id,
                persons=left,
                reason=row.reason_code if row else "not_planned",
                message=row.reason_text if row else "Belum direncanakan.",
                partial=any(s.site_id == site.id for r in routes for s in r.stops),
            )
        )
    unserved = tuple(unserved_list)
    capacity = {
        t.id: sum(s.working_seconds for s in t.shifts if s.date in set(problem.horizon))
        for t in problem.teams
    }
    return Result(
        status=status or plan.solver_status or "ROUTING_SUCCESS",
        routes=tuple(routes),
        unserved=unserved,
        horizon_start=clock.horizon_start,
        utc_offset_minutes=clock.offset_minutes,
        objective=0,
        runtime_s=0.0,
        requested={s.id: dict(s.demand) for s in problem.sites},
        priorities={s.id: s.priority for s in problem.sites},
        team_capacity_s=capacity,
    )


def _has_team(problem: Problem, team_id: str) -> bool:
    return any(t.id == team_id for t in problem.teams)


def _unserved_persons(problem: Problem, site_id: str, routes: Sequence[Route]) -> dict:
    """Demand of a site minus what the routes serve (what the unserved row stands for)."""
    left = dict(problem.site(site_id).demand)
    for r in routes:
        for s in r.stops:
            if s.site_id == site_id:
                for k, v in s.persons.items():
                    left[k] = left.get(k, 0) - v
    return {k: v for k, v in left.items() if v > 0}
