"""Live progress of today's field work, for the coordinator dashboard.

Query functions only: they need the database (and the app's settings), never a request, so
tests call them with a fixed ``now``. Every query is scoped to one office — several offices
share one database — through the plan's office for routes and the team's and the hotspot's
office for outcomes and check-ins.

What "today" means: the date of ``now`` in the office's time zone. A team's route today is
its route on that date in the most recently published plan that has one (what the field
team's tablet shows: plans with ``published_version > 0``, live rows).

Stop states (cancelled stops are not counted):

* ``done``: an outcome "served" was recorded;
* ``not_served``: an outcome "could not serve" was recorded;
* ``checked_in``: the team checked in and has not recorded the outcome yet (at the stop now);
* ``pending``: neither; ``late`` counts the pending stops whose planned start plus
  ``FIELD_LATE_GRACE_MINUTES`` has passed (late stops are also pending).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..field.service import aware, office_today, published_routes, stop_state
from ..models import (
    Hotspot,
    HotspotStatus,
    Office,
    OutcomeResult,
    PlannedRoute,
    Service,
    StopCheckin,
    Team,
    VisitOutcome,
    utcnow,
)

DEFAULT_GRACE_MINUTES = 30
NOT_SERVED_DAYS = 14
NOT_SERVED_LIMIT = 200
SERVICES = tuple(s.value for s in Service)


def grace_minutes() -> int:
    """Minutes after a stop's planned start before a team without a check-in is late."""
    value = current_app.config.get("FIELD_LATE_GRACE_MINUTES", DEFAULT_GRACE_MINUTES)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return DEFAULT_GRACE_MINUTES


# ------------------------------------------------------------------------------ per team


@dataclass
class TeamProgress:
    """One team's route today and how far it got."""

    team_id: int
    team_name: str
    plan_id: int
    plan_name: str
    stops_total: int = 0
    done: int = 0
    not_served: int = 0
    checked_in: int = 0
    pending: int = 0
    late: int = 0
    last_checkin_at: datetime | None = None
    current_site: str | None = None  # where the team checked in and is working now
    next_site: str | None = None  # the first stop with nothing recorded yet
    next_start_at: datetime | None = None


def todays_routes(office: Office, day: date) -> list[PlannedRoute]:
    """Each team's route on ``day`` in the most recently published plan that has one."""
    best = published_routes(office.id, day)
    return sorted(best.values(), key=lambda r: (r.team.name, r.team_id))


def team_progress(route: PlannedRoute, now: datetime, grace: int) -> TeamProgress:
    """Count the states of ``route``'s stops at ``now``."""
    row = TeamProgress(
        team_id=route.team_id,
        team_name=route.team.name,
        plan_id=route.plan_id,
        plan_name=route.plan.name,
    )
    latest_checkin: datetime | None = None
    for stop in sorted(route.stops, key=lambda s: s.position):
        state = stop_state(stop)
        if state == "cancelled":
            continue
        row.stops_total += 1
        if state == "done":
            row.done += 1
        elif state == "not_served":
            row.not_served += 1
        elif state == "checked_in":
            row.checked_in += 1
            at = aware(stop.checkins[0].at)
            if latest_checkin is None or (at is not None and at >= latest_checkin):
                latest_checkin = at
                row.current_site = stop.hotspot.name
        else:
            row.pending += 1
            start = aware(stop.start_at)
            if start is not None and now > start + timedelta(minutes=grace):
                row.late += 1
            if row.next_site is None:
                row.next_site = stop.hotspot.name
                row.next_start_at = start
    return row


def last_checkins(office: Office, day: date) -> dict[int, datetime]:
    """The latest check-in per team of the office on ``day`` (also at stops since re-planned)."""
    rows = db.session.execute(
        sa.select(StopCheckin.team_id, sa.func.max(StopCheckin.at))
        .join(Team, Team.id == StopCheckin.team_id)
        .where(Team.office_id == office.id, StopCheckin.day == day)
        .group_by(StopCheckin.team_id)
    ).all()
    return {team_id: aware(at) for team_id, at in rows if at is not None}


# ------------------------------------------------------------------------------ totals


@dataclass
class DayTotals:
    """What the office's teams recorded on one day, and the stops done of all."""

    persons: dict[str, int] = field(default_factory=dict)
    cards_used: int = 0
    turned_away: int = 0
    outcomes: int = 0
    stops_done: int = 0
    stops_not_served: int = 0
    stops_total: int = 0

    @property
    def persons_total(self) -> int:
        return sum(self.persons.values())


def day_outcomes(office: Office, day: date) -> list[VisitOutcome]:
    """Outcomes recorded by the office's teams for ``day`` (with or without their stop)."""
    return list(
        db.session.scalars(
            sa.select(VisitOutcome)
            .join(Team, Team.id == VisitOutcome.team_id)
            .where(Team.office_id == office.id, VisitOutcome.day == day)
            .order_by(VisitOutcome.id)
        )
    )


def day_totals(outcomes: Sequence[VisitOutcome], teams: Sequence[TeamProgress]) -> DayTotals:
    """Sum persons recorded per service, cards used and persons turned away."""
    out = DayTotals()
    for o in outcomes:
        out.outcomes += 1
        out.cards_used += int(o.cards_used or 0)
        out.turned_away += int(o.turned_away or 0)
        for k, v in (o.recorded or {}).items():
            if k in SERVICES and int(v):
                out.persons[k] = out.persons.get(k, 0) + int(v)
    out.persons = {k: out.persons[k] for k in SERVICES if k in out.persons}
    out.stops_done = sum(t.done for t in teams)
    out.stops_not_served = sum(t.not_served for t in teams)
    out.stops_total = sum(t.stops_total for t in teams)
    return out


# -------------------------------------------------------------------- not served lately


@dataclass
class NotServed:
    """A visit the team could not carry out, whose site still waits for residents."""

    outcome_id: int
    hotspot_id: int
    hotspot_name: str
    kecamatan_name: str
    priority: int
    team_name: str
    day: date
    problems: list[str]
    remaining: int


def not_served_candidates(
    office: Office, today: date, days: int = NOT_SERVED_DAYS, limit: int = NOT_SERVED_LIMIT
) -> list[NotServed]:
    """Outcomes "could not serve" of the last ``days`` days (today included) whose site is
    open and still has remaining demand: candidates for the next plan, newest first."""
    rows = db.session.execute(
        sa.select(VisitOutcome, Team.name, Hotspot)
        .join(Team, Team.id == VisitOutcome.team_id)
        .join(Hotspot, Hotspot.id == VisitOutcome.hotspot_id)
        .where(
            Team.office_id == office.id,
            Hotspot.office_id == office.id,
            Hotspot.status != HotspotStatus.ARCHIVED,
            VisitOutcome.result == OutcomeResult.NOT_SERVED,
            VisitOutcome.day > today - timedelta(days=days),
            VisitOutcome.day <= today,
        )
        .options(selectinload(Hotspot.demands))
        .order_by(VisitOutcome.day.desc(), VisitOutcome.id.desc())
        .limit(limit)
    ).all()
    out = []
    for o, team_name, h in rows:
        left = h.remaining_total
        if left <= 0:
            continue
        out.append(
            NotServed(
                outcome_id=o.id,
                hotspot_id=h.id,
                hotspot_name=h.name,
                kecamatan_name=h.kecamatan_name or "",
                priority=int(h.priority or 3),
                team_name=team_name,
                day=o.day,
                problems=[str(p) for p in (o.problems or [])],
                remaining=left,
            )
        )
    return out


# ------------------------------------------------------------------------------ together


@dataclass
class Progress:
    """Today's field progress of one office."""

    office_id: int
    day: date
    now: datetime
    grace_minutes: int
    teams: list[TeamProgress]
    totals: DayTotals
    not_served: list[NotServed]


def office_progress(
    office: Office, now: datetime | None = None, grace: int | None = None
) -> Progress:
    """Today's progress per team with a published route, the day's totals, and the
    "could not serve" candidates of the last two weeks, for ``office`` at ``now``."""
    now = aware(now) or utcnow()
    grace = grace_minutes() if grace is None else grace
    day = office_today(office, now)
    teams = [team_progress(r, now, grace) for r in todays_routes(office, day)]
    checkins = last_checkins(office, day) if teams else {}  # only teams with a route show it
    for t in teams:
        t.last_checkin_at = checkins.get(t.team_id)
    return Progress(
        office_id=office.id,
        day=day,
        now=now,
        grace_minutes=grace,
        teams=teams,
        totals=day_totals(day_outcomes(office, day), teams),
        not_served=not_served_candidates(office, day),
    )


def progress_to_dict(p: Progress, zone: ZoneInfo) -> dict[str, Any]:
    """Plain data for ``/coord/progress.json``: times as ISO 8601 and HH:MM in ``zone``."""

    def iso(dt: datetime | None) -> str | None:
        return dt.astimezone(zone).isoformat() if dt is not None else None

    def hhmm(dt: datetime | None) -> str | None:
        return dt.astimezone(zone).strftime("%H:%M") if dt is not None else None

    return {
        "date": p.day.isoformat(),
        "now": iso(p.now),
        "updated": hhmm(p.now),
        "grace_minutes": p.grace_minutes,
        "teams": [
            {
                "team_id": t.team_id,
                "team_name": t.team_name,
                "plan_id": t.plan_id,
                "plan_name": t.plan_name,
                "stops_total": t.stops_total,
                "done": t.done,
                "not_served": t.not_served,
                "checked_in": t.checked_in,
                "pending": t.pending,
                "late": t.late,
                "last_checkin_at": iso(t.last_checkin_at),
                "last_checkin": hhmm(t.last_checkin_at),
                "current_site": t.current_site,
                "next_site": t.next_site,
                "next_start": hhmm(t.next_start_at),
            }
            for t in p.teams
        ],
        "totals": {
            "persons": dict(p.totals.persons),
            "persons_total": p.totals.persons_total,
            "cards_used": p.totals.cards_used,
            "turned_away": p.totals.turned_away,
            "outcomes": p.totals.outcomes,
            "stops_done": p.totals.stops_done,
            "stops_not_served": p.totals.stops_not_served,
            "stops_total": p.totals.stops_total,
        },
        "not_served": [
            {
                "outcome_id": n.outcome_id,
                "hotspot_id": n.hotspot_id,
                "hotspot_name": n.hotspot_name,
                "kecamatan_name": n.kecamatan_name,
                "priority": n.priority,
                "team_name": n.team_name,
                "day": n.day.isoformat(),
                "problems": list(n.problems),
                "remaining": n.remaining,
            }
            for n in p.not_served
        ],
    }
