"""Coordinator plan screens: the plan list and form, solve progress, review, publish preview.

Views parse the request, call the plans service and render. The review page reads the stored
plan rows (routes, stops, unserved hotspots) so that it always shows the plan as edited, not
the solver's first answer: that data is built in :mod:`outreach.coordinator.plan_review` and
the map in :mod:`outreach.coordinator.plan_map`. The edits (move, lock, drop and add stops,
re-optimise, re-plan, publish, cancel a solve) are in :mod:`outreach.coordinator.plan_edits`,
on the same blueprint.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from .. import roles
from ..errors import DomainError
from ..extensions import db
from ..labels import KIND_LABELS, SERVICE_LABELS, break_label, unserved_reasons
from ..models import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    Hotspot,
    HotspotStatus,
    JobStatus,
    Office,
    Plan,
    PlannedRoute,
    PlanStatus,
    SolveJob,
    StopStatus,
    Team,
)
from ..privacy import audit_home_view
from . import bp
from .forms import error_messages
from .plan_map import UNPLANNED_COLOUR, build_map
from .plan_review import (
    CHANGE_KINDS,
    as_utc,
    availability,
    change_lines,
    compute_kpis,
    day_label,
    get_plan,
    hhmm,
    legend_days,
    load_plan_for_review,
    local,
    move_targets,
    office_tz,
    plan_solver_sentence,
    publication_changes,
    published_now,
    replan_context,
    route_views,
    split_visits,
    unplanned_hotspots,
    unserved_sites,
)

MAX_HORIZON_DAYS = 31


# -- small helpers ---------------------------------------------------------------------------


def current_office() -> Office:
    """The office a new plan belongs to: the user's (403 for a coordinator without one), or the
    first office for an admin without one (404 while no office exists)."""
    office = roles.user_office(admin_first=True)
    if office is None:
        abort(404)
    return office


def get_job(job_id: str) -> SolveJob:
    job = db.session.get(SolveJob, job_id)
    if job is None:
        abort(404)
    get_plan(job.plan_id)  # office check
    return job


def service_module():
    # Imported lazily: the service pulls in the solver, which the review page does not need.
    from ..plans import service

    return service


def violation_text(v: Any) -> str:
    """A checker violation as one sentence, whatever shape the service stores."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return str(v.get("message") or v.get("text") or v.get("code") or v)
    return str(v)


# -- the day sheet's template globals ----------------------------------------------------------


@bp.app_template_global()
def day_sheet_splits(route: PlannedRoute) -> dict[int, str]:
    """For the day sheet: visit number (from 1) -> the other teams at that visit."""
    plan_routes = db.session.scalars(
        sa.select(PlannedRoute)
        .where(PlannedRoute.plan_id == route.plan_id, PlannedRoute.day == route.day)
        .options(selectinload(PlannedRoute.stops), selectinload(PlannedRoute.team))
    ).all()
    splits = split_visits(list(plan_routes))
    return {
        stop.position + 1: ", ".join(sorted({p.route.team.name for p in splits[stop.id]}))
        for stop in route.stops
        if stop.id in splits
    }


@bp.app_template_global()
def day_sheet_breaks(route: PlannedRoute) -> list[str]:
    """For the day sheet: the team's breaks that day, named in the reader's language."""
    _shift, breaks = availability(route.team, route.day)
    return [f"{break_label(label)} {hhmm(s)}–{hhmm(e)}" for s, e, label in breaks]


# -- the review page's context ------------------------------------------------------------------
# Here, not in plan_review: it joins the review data with the map (plan_map imports plan_review).


def review_context(plan: Plan) -> dict[str, Any]:
    """Everything the review template shows, computed from the stored rows."""
    office = db.session.get(Office, plan.office_id)
    tz = office_tz(office)
    views = route_views(plan, tz)
    planned = {row.stop.hotspot_id for rv in views for row in rv.stops}
    unplanned = unplanned_hotspots(plan, planned)
    unserved = unserved_sites(plan)
    unserved_ids = {u.hotspot_id for u in unserved}
    addable = [h for h in unplanned if h.id not in planned]
    map_html, pins = build_map(plan, views, unplanned, office)
    latest = plan.publications[-1] if plan.publications else None
    job = db.session.scalar(
        sa.select(SolveJob)
        .where(SolveJob.plan_id == plan.id)
        .order_by(SolveJob.created_at.desc())
        .limit(1)
    )
    return {
        "plan": plan,
        "office": office,
        "views": views,
        "kpis": compute_kpis(plan, views, office, unserved),
        "unserved": sorted(unserved, key=lambda u: (u.priority, -u.persons)),
        "unserved_reasons": unserved_reasons(unserved),
        "unserved_ids": unserved_ids,
        "addable": addable,
        "map_html": map_html,
        "pins": pins,
        "violations": [violation_text(v) for v in (plan.violations or [])],
        "latest_publication": latest,
        "changes": publication_changes(latest, tz),
        "published_local": local(latest.published_at, tz) if latest else None,
        "initial_publication": bool(latest and (latest.changes or {}).get("initial")),
        "published_stops": len(latest.snapshot or []) if latest else 0,
        "targets": move_targets(plan, views),
        "job": job,
        "service_labels": SERVICE_LABELS,
        "plan_teams": sorted(
            {rv.route.team_id: rv.route.team for rv in views}.values(), key=lambda t: t.name
        ),
        "editable": plan.status in (PlanStatus.SOLVED, PlanStatus.PUBLISHED, PlanStatus.FAILED),
        "legend_days": legend_days(views),
        "unplanned_count": len(unplanned),
        "unplanned_colour": UNPLANNED_COLOUR,
        "solver_sentence": plan_solver_sentence(plan, unserved),
        "published_now": published_now(plan),
        **replan_context(plan, office),
    }


STATUS_LABELS = {
    "draft": _l("Draft"),
    "solving": _l("Solving"),
    "solved": _l("Ready for review"),
    "failed": _l("Failed"),
    "published": _l("Published"),
    "archived": _l("Archived"),
    "queued": _l("Queued"),
    "running": _l("Running"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}


@bp.context_processor
def plan_labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS}


# -- views: list, form, progress ---------------------------------------------------------------


@bp.get("/plans")
def plans_index():
    """List the office's plans, newest first."""
    query = sa.select(Plan).order_by(Plan.created_at.desc(), Plan.id.desc())
    office_id = roles.office_scope()  # 403 for a coordinator without an office
    if office_id is not None:
        query = query.where(Plan.office_id == office_id)
    return render_template("coordinator/plans/index.html", plans=db.session.scalars(query).all())


def form_choices(office: Office) -> dict[str, Any]:
    teams = db.session.scalars(
        sa.select(Team).where(Team.office_id == office.id, Team.active).order_by(Team.name)
    ).all()
    kecamatan = db.session.execute(
        sa.select(Hotspot.kecamatan_code, Hotspot.kecamatan_name)
        .where(Hotspot.office_id == office.id, Hotspot.status == HotspotStatus.ACTIVE)
        .distinct()
        .order_by(Hotspot.kecamatan_name)
    ).all()
    return {
        "teams": teams,
        "kecamatan": [(code, name or code) for code, name in kecamatan if code or name],
        "kinds": KIND_LABELS,
        "services": SERVICE_LABELS,
        "priorities": range(PRIORITY_MIN, PRIORITY_MAX + 1),
        "max_seconds": int(current_app.config.get("SOLVER_MAX_SECONDS", 600)),
    }


def parse_plan_form(form) -> tuple[dict[str, Any], list[str]]:
    """Parse the plan form's dates, teams, filters and time limit; the service checks the rest."""
    from ..plans.service import HotspotFilter

    errors: list[str] = []
    values: dict[str, Any] = {}
    try:
        start = date.fromisoformat(form.get("start_date", ""))
        end = date.fromisoformat(form.get("end_date", "") or form.get("start_date", ""))
    except ValueError:
        errors.append(_("Enter a start date and an end date (format YYYY-MM-DD)."))
        start = end = None
    values["start_date"], values["end_date"] = start, end
    values["team_ids"] = sorted({int(t) for t in form.getlist("team_ids") if t.isdigit()})
    if not values["team_ids"]:
        errors.append(_("Choose at least one team."))
    raw_limit = form.get("time_limit_s", "").strip()
    max_seconds = int(current_app.config.get("SOLVER_MAX_SECONDS", 600))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= max_seconds:
        errors.append(_("The time limit must be between 1 and %(n)s seconds.", n=max_seconds))
    else:
        values["time_limit_s"] = int(raw_limit)
    values["filters"] = HotspotFilter(
        kecamatan_codes=tuple(k for k in form.getlist("kecamatan") if k),
        kinds=tuple(k for k in form.getlist("kind") if k in KIND_LABELS),
        priorities=tuple(int(p) for p in form.getlist("priority") if p.isdigit()),
        services=tuple(k for k in form.getlist("service") if k in SERVICE_LABELS),
    )
    name = form.get("name", "").strip()[:200]
    if not name and start and end:
        name = f"Rencana {day_label(start)}" + (f" – {day_label(end)}" if end != start else "")
    values["name"] = name or "Rencana"
    return values, errors


def render_plan_form(office: Office, form, errors: list[str], status: int = 200):
    return (
        render_template(
            "coordinator/plans/new.html",
            form=form,
            errors=errors,
            checked=form if errors else None,
            **form_choices(office),
        ),
        status,
    )


@bp.route("/plans/new", methods=["GET", "POST"])
def plan_new():
    """Show the plan form; on submit create the plan and start solving in the background."""
    office = current_office()
    if request.method == "GET":
        today = date.today()
        monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
        defaults = {
            "start_date": monday.isoformat(),
            "end_date": (monday + timedelta(days=4)).isoformat(),
            "time_limit_s": "30",
        }
        return render_plan_form(office, defaults, [])
    values, errors = parse_plan_form(request.form)
    if errors:
        return render_plan_form(office, request.form, errors, 422)
    service = service_module()
    try:
        plan = service.create_plan(office, current_user, **values)
    except service.PlanError as e:
        db.session.rollback()
        messages = error_messages(e.details)
        return render_plan_form(office, request.form, messages or [e.message], 422)
    try:
        job = service.start_solve(plan, current_user)
    except DomainError as e:  # queue down (503) or already solving (409): the plan stays a draft
        db.session.rollback()
        flash(e.message, "error")
        return redirect(url_for("coord.plan_review", plan_id=plan.id))
    return redirect(url_for("coord.job_progress", job_id=job.id))


def job_payload(job: SolveJob) -> dict[str, Any]:
    """The polling JSON: status, the best plan so far and where to go next."""
    plan = db.session.get(Plan, job.plan_id)
    progress = dict(job.progress or {})
    limit = (
        progress.get("time_limit_s") or (plan.params or {}).get("time_limit_s") if plan else None
    )
    elapsed = progress.get("elapsed_s")
    if elapsed is None and job.started_at is not None:
        end = as_utc(job.finished_at) or datetime.now(UTC)
        elapsed = (end - as_utc(job.started_at)).total_seconds()  # type: ignore[operator]
    done = job.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
    if done:
        fraction = 1.0
    elif progress.get("percent") is not None:
        fraction = min(float(progress["percent"]) / 100, 0.99)
    elif limit and elapsed is not None:
        fraction = min(float(elapsed) / float(limit), 0.99)
    else:
        fraction = 0.0
    return {
        "id": job.id,
        "plan_id": job.plan_id,
        "status": str(job.status),
        "done": done,
        "cancel_requested": job.cancel_requested,
        "fraction": round(fraction, 3),
        "elapsed_s": round(float(elapsed), 1) if elapsed is not None else None,
        "time_limit_s": limit,
        "persons": progress.get("persons_served"),
        "persons_requested": progress.get("persons_requested"),
        "km": progress.get("distance_km"),
        "solver_status": progress.get("solver_status"),
        "error": job.error or None,
        "review_url": url_for("coord.plan_review", plan_id=job.plan_id),
        "parts": [_part_view(p) for p in progress.get("parts") or []],
    }


def _part_view(part: dict[str, Any]) -> dict[str, Any]:
    """One part of a decomposed solve as the progress page shows it (labels translated)."""
    span = ""
    if part.get("first") and part.get("last"):
        first, last = date.fromisoformat(part["first"]), date.fromisoformat(part["last"])
        span = f"{first:%d/%m}–{last:%d/%m}"
    status = str(part.get("status") or "queued")
    return {
        "index": part.get("index"),
        "label": _("Area %(n)s · %(span)s", n=part.get("territory", ""), span=span),
        "detail": _(
            "%(sites)s sites, %(teams)s teams", sites=part.get("sites"), teams=part.get("teams")
        ),
        "status": status,
        "status_label": str(STATUS_LABELS.get(status, status)),
        "attempts": part.get("attempts") or 0,
        "percent": part.get("percent") or 0,
        "persons": part.get("persons_served"),
    }


@bp.get("/jobs/<job_id>")
def job_progress(job_id: str):
    """Show a solve's progress bar, the best plan so far, and a cancel button."""
    job = get_job(job_id)
    plan = get_plan(job.plan_id)
    # The polling script shows these texts in the page's language (it has no catalogue).
    js_labels = {key: str(label) for key, label in STATUS_LABELS.items()}
    js_labels |= {
        "title_failed": _("Solving failed"),
        "title_done": _("Solving finished"),
        "retry": _("retry"),
    }
    return render_template(
        "coordinator/plans/progress.html",
        job=job,
        plan=plan,
        data=job_payload(job),
        js_labels=js_labels,
    )


@bp.get("/jobs/<job_id>.json")
def job_json(job_id: str):
    """Return a solve's status and progress for the polling script."""
    response = jsonify(job_payload(get_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


# -- views: review and publish ------------------------------------------------------------------


@bp.get("/plans/<int:plan_id>")
def plan_review(plan_id: int):
    """Show the plan on a map, its schedule, timelines, unserved sites and KPIs."""
    plan = load_plan_for_review(plan_id)
    page = render_template("coordinator/plans/review.html", **review_context(plan))
    # the review map and schedule show home-visit sites: who saw them (UU PDP, SECURITY row 50)
    audit_home_view(
        "plan.view",
        plan,
        current_user._get_current_object(),
        (stop.hotspot for route in plan.routes for stop in route.stops),
    )
    db.session.commit()
    return page


def back_to_review(plan_id: int, anchor: str = "adjust"):
    return redirect(url_for("coord.plan_review", plan_id=plan_id, _anchor=anchor))


def publish_preview(plan: Plan) -> dict[str, Any]:
    """What publishing the plan now changes for residents and teams (read-only).

    The plan's live stops against the latest publication, with the service's own
    ``snapshot_of``/``diff_snapshots``: the same comparison ``publish`` records.
    """
    service = service_module()
    snapshot = service.snapshot_of(plan)
    latest = plan.publications[-1] if plan.publications else None
    if latest is None:
        changes: dict[str, list] = {kind: [] for kind in CHANGE_KINDS}
        changes["added"] = list(snapshot)
        public = {(s["hotspot_id"], s["day"]) for s in snapshot}
    else:
        changes = service.diff_snapshots(latest.snapshot or [], snapshot)
        public = set()
        for kind in CHANGE_KINDS:
            for item in changes.get(kind) or []:
                for side in (item, item.get("from") or {}, item.get("to") or {}):
                    if side.get("day"):
                        public.add((item.get("hotspot_id"), side["day"]))
    team_ids = set()
    for kind in CHANGE_KINDS:
        for item in changes.get(kind) or []:
            for side in (item, item.get("from") or {}, item.get("to") or {}):
                if side.get("team_id") is not None:
                    team_ids.add(side["team_id"])
    teams = db.session.scalars(sa.select(Team.name).where(Team.id.in_(team_ids))).all()
    return {
        "first": latest is None,
        "stops": len(snapshot),
        "lines": change_lines(changes),
        "counts": {kind: len(changes.get(kind) or []) for kind in CHANGE_KINDS},
        "changed": sum(len(changes.get(kind) or []) for kind in CHANGE_KINDS),
        "public_visits": len(public),
        "teams": sorted(teams),
        "next_version": plan.published_version + 1,
    }


@bp.get("/plans/<int:plan_id>/publish")
def plan_publish_confirm(plan_id: int):
    """Show what publishing changes for residents and teams, and ask for confirmation."""
    plan = load_plan_for_review(plan_id)
    can_publish = plan.status in (PlanStatus.SOLVED, PlanStatus.PUBLISHED) and any(
        s.status != StopStatus.CANCELLED for r in plan.routes for s in r.stops
    )
    if not can_publish:
        flash(_("This plan cannot be published yet."), "error")
        return back_to_review(plan_id, "publish")
    return render_template(
        "coordinator/plans/publish.html",
        plan=plan,
        preview=publish_preview(plan),
        violations=[violation_text(v) for v in (plan.violations or [])],
    )
