"""Field work: a team's route for a day, check-ins and visit outcomes (no Flask views here).

The field team records what happened at each stop; the outcome lowers the hotspot's remaining
demand, so the next plan sees only what is left. Every write is idempotent by the device's
``client_uuid``: a tablet that retries (offline queue, a dropped response, a double tap) never
counts twice — the unique constraints on ``client_uuid`` and on the stop decide under
concurrency, not a read-then-write check.

Who may write: a field member, for stops of their own team's routes in a plan that has been
published, on a day from ``FIELD_OUTCOME_MAX_AGE_DAYS`` ago up to today (office time zone).
Anything else is "not found" (404), so ids of other teams reveal nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import (
    MAX_COUNT,
    Hotspot,
    HotspotDemand,
    HotspotStatus,
    Office,
    OutcomeProblem,
    OutcomeResult,
    Plan,
    PlannedRoute,
    PlannedStop,
    Role,
    Service,
    StopCheckin,
    StopStatus,
    Team,
    TurnAwayReason,
    User,
    VisitOutcome,
    audit_insert,
    utcnow,
)
from ..plans import adapter
from ..plans.adapter import aware
from ..plans.service import office_today

SERVICES = tuple(s.value for s in Service)
PROBLEMS = tuple(p.value for p in OutcomeProblem)
TURN_AWAY_REASONS = tuple(r.value for r in TurnAwayReason)
NOTES_MAX = 1000
# Device clocks drift; a time this far ahead of the server is refused as a wrong clock.
CLOCK_SKEW = timedelta(minutes=10)


class StopNotFound(NotFound):
    code = "stop_not_found"


class OutcomeConflict(Conflict):
    code = "outcome_exists"


def office_tz(office: Office | None) -> ZoneInfo:
    """The office's IANA zone (the app's default zone without an office)."""
    if office is not None:
        return adapter.office_zone(office)
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Jakarta"))


# ------------------------------------------------------------------------- the day's route


@dataclass
class DayStop:
    """One stop of a team's day as the field sees it (live rows of a published plan)."""

    stop_id: int
    number: int
    hotspot: Hotspot
    arrival_at: datetime
    start_at: datetime
    end_at: datetime
    persons: dict[str, int]
    cards: int
    cancelled: bool
    locked: bool
    state: str  # see stop_state
    checkin: StopCheckin | None = None
    outcome: VisitOutcome | None = None

    def is_late(self, now: datetime, grace_minutes: int) -> bool:
        """Pending and the planned start (plus grace) has passed."""
        return self.state == "pending" and now > aware(self.start_at) + timedelta(
            minutes=grace_minutes
        )


@dataclass
class TeamDay:
    """A team's published route for one day, with what to bring."""

    team: Team
    day: date
    today: date
    plan: Plan | None = None
    route: PlannedRoute | None = None
    stops: list[DayStop] = field(default_factory=list)

    @property
    def writable(self) -> bool:
        """Outcomes can be recorded for this day (not a future day, not too old)."""
        return self.plan is not None and writable_day(self.day, self.today)

    @property
    def cards_to_bring(self) -> int:
        return sum(s.cards for s in self.stops if not s.cancelled)

    @property
    def persons_by_service(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.stops:
            if s.cancelled:
                continue
            for k, v in s.persons.items():
                out[k] = out.get(k, 0) + int(v)
        return {k: out[k] for k in SERVICES if out.get(k)}

    @property
    def pending(self) -> int:
        return sum(1 for s in self.stops if s.state in ("pending", "checked_in"))


def max_age_days() -> int:
    return int(current_app.config.get("FIELD_OUTCOME_MAX_AGE_DAYS", 7))


def writable_day(day: date, today: date) -> bool:
    return today - timedelta(days=max_age_days()) <= day <= today


def stop_state(stop: PlannedStop) -> str:
    """cancelled, done, not_served, checked_in or pending (field pages and the dashboard)."""
    if stop.status == StopStatus.CANCELLED:
        return "cancelled"
    if stop.outcomes:
        return "done" if stop.outcomes[0].result == OutcomeResult.SERVED else "not_served"
    if stop.checkins:
        return "checked_in"
    return "pending"


def published_routes(
    office_id: int, day: date, team_id: int | None = None
) -> dict[int, PlannedRoute]:
    """Each team's route on ``day`` in the office's most recently published plan that has one
    (what the team's tablet shows), by team id; ``team_id`` narrows it to one team."""
    q = (
        sa.select(PlannedRoute)
        .join(PlannedRoute.plan)
        .join(Team, Team.id == PlannedRoute.team_id)
        .where(
            Plan.office_id == office_id,
            Team.office_id == office_id,
            Plan.published_version > 0,
            PlannedRoute.day == day,
        )
        .options(
            # The plan and the team are joined above anyway: fill them from the same rows; each
            # stop comes with its site, outcome and check-in (at most one of each per stop: unique
            # constraints) in one query. Two queries per route fetch instead of six.
            contains_eager(PlannedRoute.plan),
            contains_eager(PlannedRoute.team),
            selectinload(PlannedRoute.stops).options(
                joinedload(PlannedStop.hotspot),
                joinedload(PlannedStop.outcomes),
                joinedload(PlannedStop.checkins),
            ),
        )
        .order_by(Plan.published_at.desc().nulls_last(), Plan.id.desc())
    )
    if team_id is not None:
        q = q.where(PlannedRoute.team_id == team_id)
    best: dict[int, PlannedRoute] = {}
    for route in db.session.scalars(q):
        best.setdefault(route.team_id, route)  # newest publication first
    return best


def team_day(team: Team, day: date, now: datetime | None = None) -> TeamDay:
    """The team's route for ``day`` (empty when nothing is published for that day)."""
    today = office_today(team.office, now)
    out = TeamDay(team=team, day=day, today=today)
    route = published_routes(team.office_id, day, team.id).get(team.id)
    if route is None:
        return out
    out.plan = route.plan
    out.route = route
    for number, stop in enumerate(sorted(route.stops, key=lambda s: s.position), start=1):
        out.stops.append(
            DayStop(
                stop_id=stop.id,
                number=number,
                hotspot=stop.hotspot,
                arrival_at=aware(stop.arrival_at),
                start_at=aware(stop.start_at),
                end_at=aware(stop.end_at),
                persons={k: int(v) for k, v in (stop.persons or {}).items() if int(v)},
                cards=int(stop.cards or 0),
                cancelled=stop.status == StopStatus.CANCELLED,
                locked=bool(stop.locked),
                state=stop_state(stop),
                checkin=stop.checkins[0] if stop.checkins else None,
                outcome=stop.outcomes[0] if stop.outcomes else None,
            )
        )
    return out


# what stop_for_team's checks and the writes read, in one query instead of five. Of the
# route and the plan only the columns the checks read: the plan row also carries its
# parameters, KPIs and violations (JSON that grows with the plan), which a tablet write
# never needs; decoding them on every check-in and outcome cost CPU for nothing. Any other
# attribute still loads on access (deferred, not forbidden).
_STOP_WITH_ROUTE = (
    joinedload(PlannedStop.route)
    .load_only(PlannedRoute.plan_id, PlannedRoute.team_id, PlannedRoute.day)
    .joinedload(PlannedRoute.plan)
    .load_only(Plan.office_id, Plan.published_version),
    joinedload(PlannedStop.outcomes),
    joinedload(PlannedStop.checkins),
)


def stop_for_team(team: Team, stop_id: int) -> PlannedStop:
    """A stop of ``team`` in a published plan, or :class:`StopNotFound` (never another team's)."""
    stop = (
        db.session.get(PlannedStop, stop_id, options=_STOP_WITH_ROUTE)
        if 0 < stop_id < 2**31
        else None
    )
    if (
        stop is None
        or stop.route.team_id != team.id
        or stop.route.plan.published_version <= 0
        or stop.route.plan.office_id != team.office_id
    ):
        raise StopNotFound(_("This stop is not on your team's routes."))
    return stop


def writable_stop(user: User, stop_id: int, now: datetime | None = None) -> PlannedStop:
    """A stop the field member may record at, or a clear error."""
    team = field_team(user)
    stop = stop_for_team(team, stop_id)
    if stop.status == StopStatus.CANCELLED:
        raise Conflict(_("This visit was cancelled by the coordinator."), code="stop_cancelled")
    today = office_today(team.office, now)
    if stop.route.day > today:
        raise Conflict(
            _("This visit is planned for a later day; record it on that day."),
            code="stop_in_future",
        )
    if not writable_day(stop.route.day, today):
        raise Conflict(
            _("This visit is more than %(days)d days old; ask the coordinator to record it.")
            % {"days": max_age_days()},
            code="stop_too_old",
        )
    return stop


def field_team(user: User) -> Team:
    """The user's team; only field members write outcomes."""
    if user is None or user.role != Role.FIELD or user.team is None:
        raise NotFound(_("Only members of a field team record visits."), code="not_field_member")
    return user.team


# ------------------------------------------------------------------------------ validation


def _err(field_name: str, message: str) -> dict[str, str]:
    return {"field": field_name, "message": message}


def _int(data: Mapping[str, Any], key: str, errors: list, *, default: int = 0) -> int:
    value = data.get(key, default)
    if value is None or value == "":
        value = default
    if isinstance(value, bool):
        errors.append(_err(key, _("Must be a whole number.")))
        return 0
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors.append(_err(key, _("Must be a whole number.")))
        return 0
    if number < 0:
        errors.append(_err(key, _("Cannot be negative.")))
        return 0
    if number > MAX_COUNT:
        errors.append(_err(key, _("At most %(max)d.") % {"max": MAX_COUNT}))
        return 0
    return number


def _uuid(data: Mapping[str, Any], errors: list) -> str:
    raw = data.get("client_uuid")
    try:
        return str(uuid.UUID(str(raw)))
    except (TypeError, ValueError, AttributeError):
        errors.append(_err("client_uuid", _("Must be a UUID made by the device.")))
        return ""


def _stop_id(data: Mapping[str, Any], errors: list) -> int:
    raw = data.get("stop_id")
    if isinstance(raw, bool):
        raw = None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        errors.append(_err("stop_id", _("Required.")))
        return 0
    if not 0 < value < 2**31:
        errors.append(_err("stop_id", _("Unknown stop.")))
        return 0
    return value


def _instant(data: Mapping[str, Any], key: str, errors: list, now: datetime) -> datetime | None:
    raw = data.get(key)
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            errors.append(_err(key, _("Must be a date and time (ISO 8601 with time zone).")))
            return None
    if value.tzinfo is None:
        errors.append(_err(key, _("Must include a time zone (for example +07:00).")))
        return None
    value = value.astimezone(UTC)
    if value > now + CLOCK_SKEW:
        errors.append(_err(key, _("Is in the future: check the device's clock.")))
        return None
    return value


def _choices(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], errors: list) -> list:
    raw = data.get(key) or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        errors.append(_err(key, _("Must be a list.")))
        return []
    out = []
    for item in raw:
        if item not in allowed:
            errors.append(_err(key, _("Unknown value: %(value)s") % {"value": str(item)[:40]}))
        elif item not in out:
            out.append(item)
    return out


def _coord(data: Mapping[str, Any], key: str, lo: float, hi: float, errors: list) -> float | None:
    raw = data.get(key)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors.append(_err(key, _("Must be a number.")))
        return None
    if not lo <= value <= hi or value != value:
        errors.append(_err(key, _("Out of range.")))
        return None
    return value


def parse_checkin(data: Any, now: datetime | None = None) -> dict[str, Any]:
    """Clean a check-in from a form or JSON; :class:`ValidationFailed` names each bad field."""
    now = now or utcnow()
    if not isinstance(data, Mapping):
        raise ValidationFailed(_("Invalid input."), [_err("body", _("Must be a JSON object."))])
    errors: list[dict[str, str]] = []
    out = {
        "client_uuid": _uuid(data, errors),
        "stop_id": _stop_id(data, errors),
        "at": _instant(data, "at", errors, now) or now,
        "lat": _coord(data, "lat", -90, 90, errors),
        "lon": _coord(data, "lon", -180, 180, errors),
        "accuracy_m": _coord(data, "accuracy_m", 0, 100_000, errors),
    }
    if (out["lat"] is None) != (out["lon"] is None):
        errors.append(_err("lat", _("Latitude and longitude go together.")))
    if errors:
        raise ValidationFailed(_("The check-in was not saved."), errors)
    return out


def parse_outcome(data: Any, now: datetime | None = None) -> dict[str, Any]:
    """Clean an outcome from a form or JSON; :class:`ValidationFailed` names each bad field.

    Rules a team can read: no negative numbers; persons recorded for a service and persons
    turned away are each at most the persons present, and together at most those present;
    blank cards used at most those carried; "could not serve" records nobody and names a
    problem; persons turned away need a reason; check-out not before check-in.
    """
    now = now or utcnow()
    if not isinstance(data, Mapping):
        raise ValidationFailed(_("Invalid input."), [_err("body", _("Must be a JSON object."))])
    errors: list[dict[str, str]] = []
    client_uuid = _uuid(data, errors)
    stop_id = _stop_id(data, errors)
    result = data.get("result") or OutcomeResult.SERVED.value
    if result not in (OutcomeResult.SERVED.value, OutcomeResult.NOT_SERVED.value):
        errors.append(_err("result", _("Must be 'served' or 'not_served'.")))
        result = OutcomeResult.SERVED.value
    raw_recorded = data.get("recorded") or {}
    recorded: dict[str, int] = {}
    if not isinstance(raw_recorded, Mapping):
        errors.append(_err("recorded", _("Must be an object of persons per service.")))
    else:
        for key in raw_recorded:
            if key not in SERVICES:
                errors.append(_err(f"recorded.{key}", _("Unknown service.")))
                continue
            own: list[dict[str, str]] = []
            n = _int(raw_recorded, key, own)
            errors.extend(_err(f"recorded.{key}", e["message"]) for e in own)
            if n:
                recorded[key] = n
    present = _int(data, "present", errors)
    turned_away = _int(data, "turned_away", errors)
    cards_carried = _int(data, "cards_carried", errors)
    cards_used = _int(data, "cards_used", errors)
    reasons = _choices(data, "turned_away_reasons", TURN_AWAY_REASONS, errors)
    problems = _choices(data, "problems", PROBLEMS, errors)
    notes = str(data.get("notes") or "").strip()
    if len(notes) > NOTES_MAX:
        errors.append(_err("notes", _("At most %(max)d characters.") % {"max": NOTES_MAX}))
    checked_in_at = _instant(data, "checked_in_at", errors, now)
    checked_out_at = _instant(data, "checked_out_at", errors, now) or now

    for key, n in recorded.items():
        if n > present:
            errors.append(
                _err(
                    f"recorded.{key}",
                    _("%(n)d served but only %(present)d present.") % {"n": n, "present": present},
                )
            )
    if turned_away > present:
        errors.append(
            _err(
                "turned_away",
                _("%(n)d turned away but only %(present)d present.")
                % {"n": turned_away, "present": present},
            )
        )
    elif recorded and max(recorded.values()) + turned_away > present:
        errors.append(
            _err(
                "turned_away",
                _("Served and turned away together (%(n)d) exceed the %(present)d present.")
                % {"n": max(recorded.values()) + turned_away, "present": present},
            )
        )
    if cards_used > cards_carried:
        errors.append(
            _err(
                "cards_used",
                _("%(used)d blank cards used but only %(carried)d carried.")
                % {"used": cards_used, "carried": cards_carried},
            )
        )
    if turned_away and not reasons:
        errors.append(_err("turned_away_reasons", _("Say why persons were turned away.")))
    if result == OutcomeResult.NOT_SERVED.value:
        if recorded:
            errors.append(_err("recorded", _("A visit that could not serve records nobody.")))
        if not problems:
            errors.append(_err("problems", _("Say what stopped the service.")))
    if checked_in_at and checked_out_at < checked_in_at:
        errors.append(_err("checked_out_at", _("Check-out is before check-in.")))
    if errors:
        raise ValidationFailed(_("The outcome was not saved."), errors)
    return {
        "client_uuid": client_uuid,
        "stop_id": stop_id,
        "result": OutcomeResult(result),
        "present": present,
        "recorded": {k: recorded[k] for k in SERVICES if k in recorded},
        "turned_away": turned_away,
        "turned_away_reasons": reasons,
        "cards_carried": cards_carried,
        "cards_used": cards_used,
        "problems": problems,
        "notes": notes,
        "checked_in_at": checked_in_at,
        "checked_out_at": checked_out_at,
    }


# ---------------------------------------------------------------------------------- writes


# Statements of the tablet writes, built once per process: building a select and its loader
# options, and computing its SQL cache key, cost more CPU than running it; only values are bound
# per request.
_REPLAY = {
    model: sa.select(model).where(model.client_uuid == sa.bindparam("client_uuid"))
    for model in (StopCheckin, VisitOutcome)
}
_DEMAND_FOR_UPDATE = (
    sa.select(HotspotDemand)
    .where(HotspotDemand.hotspot_id == sa.bindparam("hotspot_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def _replay(model: type, client_uuid: str, team: Team) -> Any:
    row = db.session.scalar(_REPLAY[model], {"client_uuid": client_uuid})
    if row is not None and row.team_id != team.id:
        # Another team's id: say nothing about it.
        raise StopNotFound(_("This stop is not on your team's routes."))
    return row


def record_checkin(user: User, data: Any, now: datetime | None = None) -> tuple[StopCheckin, bool]:
    """Record the arrival at a stop; returns ``(row, created)``. A replay returns the first row.

    A second check-in at the same stop from another device keeps the first one (and returns
    it, not an error): arriving twice is the same arrival.
    """
    now = now or utcnow()
    clean = parse_checkin(data, now)
    team = field_team(user)
    existing = _replay(StopCheckin, clean["client_uuid"], team)
    if existing is not None:
        return existing, False
    stop = writable_stop(user, clean["stop_id"], now)
    if stop.checkins:
        return stop.checkins[0], False
    row = StopCheckin(
        client_uuid=clean["client_uuid"],
        stop_id=stop.id,
        hotspot_id=stop.hotspot_id,
        team_id=team.id,
        day=stop.route.day,
        recorded_by_id=user.id,
        at=clean["at"],
        lat=clean["lat"],
        lon=clean["lon"],
        accuracy_m=clean["accuracy_m"],
    )
    db.session.add(row)
    try:
        db.session.flush()
        audit_insert("field.checkin", stop, user, team=team.id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        again = _replay(StopCheckin, clean["client_uuid"], team)
        if again is None:
            again = db.session.scalar(sa.select(StopCheckin).where(StopCheckin.stop_id == stop.id))
        if again is None:
            raise
        return again, False
    return row, True


def apply_demand(hotspot_id: int, recorded: Mapping[str, int]) -> dict[str, int]:
    """Take ``recorded`` persons off the hotspot's remaining demand (never below zero).

    Returns what was taken per service. The demand rows are locked (``FOR UPDATE`` on
    PostgreSQL; SQLite transactions hold the write lock) so two teams reporting at one split
    site at the same moment both count. A hotspot with nothing left becomes ``done``.
    """
    applied: dict[str, int] = {}
    if not any(recorded.values()):
        return applied
    rows = db.session.scalars(_DEMAND_FOR_UPDATE, {"hotspot_id": hotspot_id}).all()
    for row in rows:
        n = int(recorded.get(row.service, 0))
        take = min(n, int(row.remaining))
        if take:
            row.remaining = int(row.remaining) - take
            applied[row.service] = take
    if rows and all(int(r.remaining) == 0 for r in rows):
        hotspot = db.session.get(Hotspot, hotspot_id)
        if hotspot is not None and hotspot.status == HotspotStatus.ACTIVE:
            hotspot.status = HotspotStatus.DONE
    return applied


def record_outcome(user: User, data: Any, now: datetime | None = None) -> tuple[VisitOutcome, bool]:
    """Record a stop's outcome and lower the remaining demand; returns ``(row, created)``.

    The same ``client_uuid`` again returns the stored outcome unchanged (idempotent). Another
    outcome for a stop that already has one is a conflict (409): corrections go through the
    coordinator. The insert and the demand change commit together or not at all.
    """
    now = now or utcnow()
    clean = parse_outcome(data, now)
    team = field_team(user)
    existing = _replay(VisitOutcome, clean["client_uuid"], team)
    if existing is not None:
        return existing, False
    stop = writable_stop(user, clean["stop_id"], now)
    if stop.outcomes:
        if stop.outcomes[0].client_uuid == clean["client_uuid"]:
            return stop.outcomes[0], False  # our own retry, committed meanwhile
        raise OutcomeConflict(_("An outcome is already recorded for this stop."))
    checked_in_at = clean["checked_in_at"]
    if checked_in_at is None and stop.checkins:
        checked_in_at = aware(stop.checkins[0].at)
    row = VisitOutcome(
        client_uuid=clean["client_uuid"],
        stop_id=stop.id,
        hotspot_id=stop.hotspot_id,
        team_id=team.id,
        day=stop.route.day,
        recorded_by_id=user.id,
        result=clean["result"],
        checked_in_at=checked_in_at,
        checked_out_at=clean["checked_out_at"],
        present=clean["present"],
        recorded=clean["recorded"],
        cards_carried=clean["cards_carried"],
        cards_used=clean["cards_used"],
        turned_away=clean["turned_away"],
        turned_away_reasons=clean["turned_away_reasons"],
        problems=clean["problems"],
        notes=clean["notes"],
        demand_applied={},
    )
    try:
        # The demand is lowered before the row is inserted, so the row goes in with what it
        # took (one INSERT, no UPDATE after it). The unique constraints on client_uuid and
        # stop_id still decide: a duplicate fails at the commit's flush and the rollback
        # undoes the demand change with it. The demand rows' lock (FOR UPDATE) is taken
        # first, so a concurrent duplicate waits for this commit and then fails its insert.
        if clean["result"] == OutcomeResult.SERVED:
            row.demand_applied = apply_demand(stop.hotspot_id, clean["recorded"])
            stop.status = StopStatus.DONE
        db.session.add(row)
        audit_insert(
            "field.outcome",
            stop,
            user,
            team=team.id,
            result=str(clean["result"]),
            persons=sum(clean["recorded"].values()),
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        again = _replay(VisitOutcome, clean["client_uuid"], team)
        if again is not None:
            return again, False
        if db.session.scalar(sa.select(VisitOutcome.id).where(VisitOutcome.stop_id == stop.id)):
            raise OutcomeConflict(_("An outcome is already recorded for this stop.")) from None
        raise
    return row, True


# ---------------------------------------------------------------------------------- output


def iso(dt: datetime | None, tz: ZoneInfo) -> str | None:
    return aware(dt).astimezone(tz).isoformat(timespec="minutes") if dt is not None else None


def checkin_to_dict(row: StopCheckin, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "client_uuid": row.client_uuid,
        "stop_id": row.stop_id,
        "at": iso(row.at, tz),
        "lat": row.lat,
        "lon": row.lon,
    }


def outcome_to_dict(row: VisitOutcome, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "client_uuid": row.client_uuid,
        "stop_id": row.stop_id,
        "day": row.day.isoformat(),
        "result": str(row.result.value if hasattr(row.result, "value") else row.result),
        "present": row.present,
        "recorded": dict(row.recorded or {}),
        "turned_away": row.turned_away,
        "turned_away_reasons": list(row.turned_away_reasons or []),
        "cards_carried": row.cards_carried,
        "cards_used": row.cards_used,
        "problems": list(row.problems or []),
        "demand_applied": dict(row.demand_applied or {}),
        "checked_in_at": iso(row.checked_in_at, tz),
        "checked_out_at": iso(row.checked_out_at, tz),
    }


def day_to_dict(td: TeamDay) -> dict[str, Any]:
    """The team's day for the API and the offline cache."""
    tz = office_tz(td.team.office)
    return {
        "team": {
            "id": td.team.id,
            "name": td.team.name,
            "kits": td.team.kits,
            "has_printer": td.team.has_printer,
            "vehicle": str(td.team.vehicle.value),
        },
        "date": td.day.isoformat(),
        "timezone": str(tz.key),
        "plan_id": td.plan.id if td.plan else None,
        "published_version": td.plan.published_version if td.plan else None,
        "writable": td.writable,
        "cards_to_bring": td.cards_to_bring,
        "persons_by_service": td.persons_by_service,
        "stops": [
            {
                "stop_id": s.stop_id,
                "number": s.number,
                "state": s.state,
                "hotspot_id": s.hotspot.id,
                "name": s.hotspot.name,
                "kind": str(s.hotspot.kind.value),
                "address": s.hotspot.address,
                "kelurahan": s.hotspot.kelurahan_name,
                "kecamatan": s.hotspot.kecamatan_name,
                "contact_name": s.hotspot.contact_name,
                "contact_phone": s.hotspot.contact_phone,
                "lat": s.hotspot.lat,
                "lon": s.hotspot.lon,
                "arrival": iso(s.arrival_at, tz),
                "start": iso(s.start_at, tz),
                "end": iso(s.end_at, tz),
                "persons": s.persons,
                "cards": s.cards,
                "locked": s.locked,
                "checkin": checkin_to_dict(s.checkin, tz) if s.checkin else None,
                "outcome": outcome_to_dict(s.outcome, tz) if s.outcome else None,
            }
            for s in td.stops
        ],
    }
