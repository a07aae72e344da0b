"""Field team home: today's route of the signed-in member's team (tablet)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, render_template
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..labels import kind_label, service_label
from ..models import Plan, PlannedRoute, PlannedStop, PlanStatus, Service, StopStatus, Team
from . import bp


@dataclass(frozen=True)
class StopView:
    """One stop as the team sees it, in local time."""

    number: int
    start: str
    end: str
    name: str
    kind: str
    address: str
    kelurahan: str
    persons: list[tuple[str, int]]
    cards: int
    cancelled: bool
    navigate_url: str | None


def _local_hm(dt: datetime, tz: ZoneInfo) -> str:
    # SQLite returns naive datetimes for timezone-aware columns; they are UTC.
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(tz).strftime("%H:%M")


def todays_route(team: Team, today: date) -> PlannedRoute | None:
    """Return the team's route for ``today`` in the most recently published plan, if any."""
    return db.session.scalar(
        sa.select(PlannedRoute)
        .join(PlannedRoute.plan)
        .where(
            PlannedRoute.team_id == team.id,
            PlannedRoute.day == today,
            Plan.status == PlanStatus.PUBLISHED,
        )
        .options(selectinload(PlannedRoute.stops).selectinload(PlannedStop.hotspot))
        .order_by(Plan.published_at.desc().nulls_last(), Plan.id.desc())
        .limit(1)
    )


def _stop_views(route: PlannedRoute, tz: ZoneInfo) -> list[StopView]:
    views = []
    for number, stop in enumerate(route.stops, start=1):
        hs = stop.hotspot
        nav = None
        if hs.lat is not None and hs.lon is not None:
            nav = f"https://www.google.com/maps/dir/?api=1&destination={hs.lat:.6f},{hs.lon:.6f}"
        views.append(
            StopView(
                number=number,
                start=_local_hm(stop.start_at, tz),
                end=_local_hm(stop.end_at, tz),
                name=hs.name,
                kind=kind_label(hs.kind),
                address=hs.address,
                kelurahan=hs.kelurahan_name,
                persons=[
                    (service_label(s.value), int(stop.persons[s.value]))
                    for s in Service
                    if stop.persons.get(s.value)
                ],
                cards=stop.cards,
                cancelled=stop.status == StopStatus.CANCELLED,
                navigate_url=nav,
            )
        )
    return views


@bp.get("/")
def home():
    """Show the team's route for today."""
    team: Team | None = current_user.team
    tz_name = team.office.timezone if team else current_app.config["BABEL_DEFAULT_TIMEZONE"]
    tz = ZoneInfo(tz_name)
    today = datetime.now(tz).date()
    route = todays_route(team, today) if team else None
    return render_template(
        "field/home.html",
        team=team,
        today=today,
        tz_name=tz_name,
        route=route,
        stops=_stop_views(route, tz) if route else [],
    )
