"""Coordinator views: plan exports (CSV, XLSX, GPX, iCalendar) and the printable day sheet.

The file formats live in ``outreach.exporting``; these views pick the rows the user may see,
name the file safely and send it as an attachment.

Every export, the printable day sheet included, writes a ``plan_export`` audit event with
its format and, in ``home_hotspots``, the ids of the home-visit sites it contains (their
position is a person's house), so :func:`outreach.privacy.who_accessed` can tell which
exports included a person (SECURITY row 50).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, render_template
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import HotspotKind, Office, PlannedRoute, PlannedStop, Team, audit
from . import bp
from .plan_review import availability, day_label, get_plan, hhmm, load_plan_for_review

MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpx": "application/gpx+xml",
    "ics": "text/calendar; charset=utf-8",
}


def attachment(body: str | bytes, filename: str, ext: str) -> Response:
    """Send ``body`` as a download under a sanitised file name."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    response = Response(body, mimetype=MIME[ext])
    response.headers["Content-Disposition"] = exporting().content_disposition(filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_filename(*parts: Any, ext: str) -> str:
    return exporting().safe_filename(*parts, ext=ext, fallback="rencana")


def exporting():
    # Imported lazily so the review page never pays for openpyxl and icalendar.
    from .. import exporting as module

    return module


def route_of(plan_id: int, route_id: int) -> PlannedRoute:
    plan = get_plan(plan_id)
    route = db.session.scalar(
        sa.select(PlannedRoute)
        .where(PlannedRoute.id == route_id, PlannedRoute.plan_id == plan.id)
        .options(selectinload(PlannedRoute.stops).selectinload(PlannedStop.hotspot))
    )
    if route is None:
        abort(404)
    return route


def home_sites(routes: Iterable[PlannedRoute]) -> list[int]:
    """Ids of the home-visit sites among the routes' stops (what an export reveals)."""
    return sorted(
        {
            stop.hotspot_id
            for route in routes
            for stop in route.stops
            if getattr(stop.hotspot.kind, "value", stop.hotspot.kind) == HotspotKind.HOME.value
        }
    )


def record_export(kind: str, obj: Any, routes: Iterable[PlannedRoute] = ()) -> None:
    """Audit an export: who, when, which plan or route, the format, the home sites in it."""
    from flask_login import current_user

    audit(
        "plan_export",
        obj,
        user=current_user._get_current_object(),
        format=kind,
        home_hotspots=home_sites(routes),
    )
    db.session.commit()


@bp.get("/plans/<int:plan_id>/export.csv")
def export_csv(plan_id: int):
    """Download the plan's stops as CSV (formula cells neutralised)."""
    plan = load_plan_for_review(plan_id)
    body = exporting().stops_csv(plan)
    record_export("csv", plan, plan.routes)
    return attachment(body, safe_filename("rencana", plan.id, plan.name, ext="csv"), "csv")


@bp.get("/plans/<int:plan_id>/export.xlsx")
def export_xlsx(plan_id: int):
    """Download the plan's stops as an Excel workbook."""
    plan = load_plan_for_review(plan_id)
    body = exporting().stops_xlsx(plan)
    record_export("xlsx", plan, plan.routes)
    return attachment(body, safe_filename("rencana", plan.id, plan.name, ext="xlsx"), "xlsx")


@bp.get("/plans/<int:plan_id>/routes/<int:route_id>.gpx")
def export_gpx(plan_id: int, route_id: int):
    """Download one team-day's route as GPX for a phone's navigation app."""
    route = route_of(plan_id, route_id)
    body = exporting().route_gpx(route)
    record_export("gpx", route, [route])
    name = safe_filename("rute", route.team.name, route.day.isoformat(), ext="gpx")
    return attachment(body, name, "gpx")


@bp.get("/plans/<int:plan_id>/teams/<int:team_id>.ics")
def export_ical(plan_id: int, team_id: int):
    """Download a team's visits in this plan as an iCalendar file."""
    plan = get_plan(plan_id)
    team = db.session.get(Team, team_id)
    if team is None or team.office_id != plan.office_id:
        abort(404)
    routes = db.session.scalars(
        sa.select(PlannedRoute)
        .where(PlannedRoute.plan_id == plan.id, PlannedRoute.team_id == team.id)
        .order_by(PlannedRoute.day)
        .options(selectinload(PlannedRoute.stops).selectinload(PlannedStop.hotspot))
    ).all()
    body = exporting().team_ical(team, list(routes))
    record_export("ics", plan, routes)
    return attachment(body, safe_filename("jadwal", team.name, plan.id, ext="ics"), "ics")


@bp.get("/plans/<int:plan_id>/routes/<int:route_id>/sheet")
def export_day_sheet(plan_id: int, route_id: int):
    """Show a printable day sheet for one team-day (print CSS, one page per team-day).

    The sheet shows each site's position (a home visit's is the person's house): every view
    is audited like a file export, with format ``sheet``.
    """
    route = route_of(plan_id, route_id)
    plan = get_plan(plan_id)
    office = db.session.get(Office, plan.office_id)
    shift, breaks = availability(route.team, route.day)
    rows = exporting().day_sheet_rows(route)
    record_export("sheet", route, [route])
    live = [r for r in rows if not r["cancelled"]]
    return render_template(
        "coordinator/plans/day_sheet.html",
        plan=plan,
        office=office,
        route=route,
        rows=rows,
        title=f"{route.team.name} — {day_label(route.day)}",
        shift=f"{hhmm(shift[0])}–{hhmm(shift[1])}" if shift else "",
        breaks=[f"{label or _('Break')} {hhmm(s)}–{hhmm(e)}" for s, e, label in breaks],
        persons=sum(r["persons_total"] for r in live),
        cards=sum(r["cards"] for r in live),
        km=route.distance_m / 1000,
    )
