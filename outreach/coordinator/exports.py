"""Coordinator views: plan exports (CSV, XLSX, GPX, iCalendar) and the printable day sheet.

The file formats live in ``outreach.exporting``; these views pick the rows the user may see,
name the file safely and send it as an attachment.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, render_template
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Office, PlannedRoute, PlannedStop, Team, audit
from . import bp
from .plans import (
    SERVICE_LABELS,
    availability,
    day_label,
    get_plan,
    hhmm,
    load_plan_for_review,
    office_tz,
    route_views,
)

MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpx": "application/gpx+xml",
    "ics": "text/calendar; charset=utf-8",
}


def safe_filename(*parts: Any, ext: str) -> str:
    """An ASCII file name from free text: no quotes, slashes, control or header characters."""
    text = "-".join(str(p) for p in parts if p not in (None, ""))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    text = re.sub(r"-{2,}", "-", text)[:80] or "rencana"
    return f"{text}.{ext}"


def attachment(body: str | bytes, filename: str, ext: str) -> Response:
    """Send ``body`` as a download; the name is already sanitised, so plain quoting is safe."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    response = Response(body, mimetype=MIME[ext])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


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


def record_export(kind: str, obj: Any) -> None:
    from flask_login import current_user

    audit("plan_export", obj, user=current_user, format=kind)
    db.session.commit()


@bp.get("/plans/<int:plan_id>/export.csv")
def export_csv(plan_id: int):
    """Download the plan's stops as CSV (formula cells neutralised)."""
    plan = load_plan_for_review(plan_id)
    body = exporting().stops_csv(plan)
    record_export("csv", plan)
    return attachment(body, safe_filename("rencana", plan.id, plan.name, ext="csv"), "csv")


@bp.get("/plans/<int:plan_id>/export.xlsx")
def export_xlsx(plan_id: int):
    """Download the plan's stops as an Excel workbook."""
    plan = load_plan_for_review(plan_id)
    body = exporting().stops_xlsx(plan)
    record_export("xlsx", plan)
    return attachment(body, safe_filename("rencana", plan.id, plan.name, ext="xlsx"), "xlsx")


@bp.get("/plans/<int:plan_id>/routes/<int:route_id>.gpx")
def export_gpx(plan_id: int, route_id: int):
    """Download one team-day's route as GPX for a phone's navigation app."""
    route = route_of(plan_id, route_id)
    body = exporting().route_gpx(route)
    record_export("gpx", route)
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
    record_export("ics", plan)
    return attachment(body, safe_filename("jadwal", team.name, plan.id, ext="ics"), "ics")


@bp.get("/plans/<int:plan_id>/routes/<int:route_id>/sheet")
def export_day_sheet(plan_id: int, route_id: int):
    """Show a printable day sheet for one team-day (print CSS, one page per team-day)."""
    route = route_of(plan_id, route_id)
    plan = load_plan_for_review(plan_id)
    office = db.session.get(Office, plan.office_id)
    view = next(v for v in route_views(plan, office_tz(office)) if v.route.id == route.id)
    shift, breaks = availability(route.team, route.day)
    return render_template(
        "coordinator/plans/day_sheet.html",
        plan=plan,
        office=office,
        view=view,
        title=day_label(route.day),
        shift=f"{hhmm(shift[0])}–{hhmm(shift[1])}" if shift else "",
        breaks=[f"{label or 'Istirahat'} {hhmm(s)}–{hhmm(e)}" for s, e, label in breaks],
        service_labels=SERVICE_LABELS,
    )
