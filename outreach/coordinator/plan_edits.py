"""Coordinator plan edits: the POST handlers that change a plan or its solve.

Move, lock, unlock and drop a stop, add a visit to a hotspot, re-optimise, re-plan the
remaining days, publish, and cancel a running solve. Each view parses the form, calls the plans
service with the plan version the page was rendered from (optimistic locking) and returns to
the review page of :mod:`outreach.coordinator.plans`; a stale version answers 409 with that
page and a message. The views hang on the coordinator blueprint, so their endpoints are
``coord.<function name>`` like the screens'.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..errors import DomainError
from ..extensions import db
from ..models import Plan
from . import bp
from .forms import flash_error, posted_int
from .plan_review import get_plan, load_plan_for_review
from .plans import back_to_review, get_job, review_context, service_module

CONFLICT_MESSAGE = _l("Another coordinator has changed this plan; reload it.")


# -- shared by the edits -----------------------------------------------------------------------


def expected_version() -> int:
    """The plan version the form was rendered from (the optimistic-lock token)."""
    return posted_int("expected_version", _("The plan version is missing from the form."))


def conflict_response(plan_id: int, message: str | None = None):
    """Render the review page with the conflict message and status 409."""
    db.session.rollback()
    plan = load_plan_for_review(plan_id)
    text = str(CONFLICT_MESSAGE)
    if message and message != text:
        text = f"{text} ({message})"
    return (
        render_template("coordinator/plans/review.html", conflict=text, **review_context(plan)),
        409,
    )


def run_edit(plan_id: int, action, success: str, anchor: str = "adjust"):
    """Apply one edit through the service; a stale version answers 409 with the message."""
    service = service_module()
    plan = get_plan(plan_id)
    version = expected_version()
    try:
        action(service, plan, version)
    except service.PlanConflict as e:
        return conflict_response(plan_id, e.message)
    except service.PlanNotFound:
        db.session.rollback()
        abort(404)
    except service.PlanError as e:  # a refused edit: say why, nothing changed
        db.session.rollback()
        flash_error(e)
        return back_to_review(plan_id, anchor)
    violations = db.session.get(Plan, plan_id).violations or []
    flash(success, "success")
    if violations:
        flash(_("Check the %(n)s checker notes above.", n=len(violations)), "warning")
    return back_to_review(plan_id, anchor)


def parse_target(raw: str) -> tuple[int, date]:
    """A "team_id:YYYY-MM-DD" option value from the move and add forms."""
    team, _sep, day = raw.partition(":")
    try:
        return int(team), date.fromisoformat(day)
    except ValueError:
        abort(400, description=_("Choose the target team and day."))


def parse_position() -> int | None:
    # The form counts from 1 like the schedule table; the service counts from 0.
    raw = request.form.get("position", "").strip()
    return int(raw) - 1 if raw.isdigit() and int(raw) > 0 else None


# -- stops and visits --------------------------------------------------------------------------


@bp.post("/plans/<int:plan_id>/stops/move")
def stop_move(plan_id: int):
    """Move a stop to another team, day and position."""
    stop_id = posted_int("stop_id", _("Choose the visit to move."))
    team_id, day = parse_target(request.form.get("target", ""))
    position = parse_position()

    def action(service, plan, version):
        service.move_stop(
            plan,
            stop_id,
            team_id,
            day,
            position=position,
            expected_version=version,
            user=current_user,
        )

    return run_edit(plan_id, action, _("Visit moved and locked in its new place."))


@bp.post("/plans/<int:plan_id>/stops/<int:stop_id>/lock")
def stop_lock(plan_id: int, stop_id: int):
    """Lock a stop so re-optimising keeps it where it is."""

    def action(service, plan, version):
        service.lock_stop(plan, stop_id, expected_version=version, user=current_user)

    return run_edit(plan_id, action, _("Visit locked."), anchor=f"stop-{stop_id}")


@bp.post("/plans/<int:plan_id>/stops/<int:stop_id>/unlock")
def stop_unlock(plan_id: int, stop_id: int):
    """Unlock a stop so re-optimising may move it."""

    def action(service, plan, version):
        service.unlock_stop(plan, stop_id, expected_version=version, user=current_user)

    return run_edit(plan_id, action, _("Visit unlocked."), anchor=f"stop-{stop_id}")


@bp.post("/plans/<int:plan_id>/stops/<int:stop_id>/drop")
def stop_drop(plan_id: int, stop_id: int):
    """Drop a stop; its hotspot is listed as unserved (dropped by the coordinator)."""

    def action(service, plan, version):
        service.drop_stop(plan, stop_id, expected_version=version, user=current_user)

    return run_edit(plan_id, action, _("Visit removed from the plan."))


@bp.post("/plans/<int:plan_id>/hotspots")
def hotspot_add(plan_id: int):
    """Add a visit to a hotspot on a team's day."""
    hotspot_id = posted_int("hotspot_id", _("Choose a service point."))
    team_id, day = parse_target(request.form.get("target", ""))
    position = parse_position()

    def action(service, plan, version):
        service.add_hotspot(
            plan,
            hotspot_id,
            team_id,
            day,
            position=position,
            expected_version=version,
            user=current_user,
        )

    return run_edit(plan_id, action, _("Service point added to the plan."))


# -- solving again -----------------------------------------------------------------------------


@bp.post("/plans/<int:plan_id>/reoptimise")
def plan_reoptimise(plan_id: int):
    """Re-plan in the background, keeping locked stops and the coordinator's edits."""
    service = service_module()
    plan = get_plan(plan_id)
    version = expected_version()
    try:
        job = service.reoptimise(plan, current_user, expected_version=version)
    except service.PlanConflict as e:
        return conflict_response(plan_id, e.message)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, "error")
        return back_to_review(plan_id)
    return redirect(url_for("coord.job_progress", job_id=job.id))


@bp.post("/plans/<int:plan_id>/replan")
def plan_replan(plan_id: int):
    """Re-plan the remaining days in the background; earlier days stay exactly as they are."""
    service = service_module()
    plan = get_plan(plan_id)
    version = expected_version()
    raw = request.form.get("from_date", "").strip()
    from_date = None
    if raw:
        try:
            from_date = date.fromisoformat(raw)
        except ValueError:
            flash(_("Enter the first day to re-plan as a date."), "error")
            return back_to_review(plan_id, "replan-form")
    try:
        job = service.replan_remaining(plan, current_user, version, from_date)
    except service.PlanConflict as e:
        return conflict_response(plan_id, e.message)
    except DomainError as e:
        db.session.rollback()
        flash_error(e)
        return back_to_review(plan_id, "replan-form")
    return redirect(url_for("coord.job_progress", job_id=job.id))


@bp.post("/jobs/<job_id>/cancel")
def job_cancel(job_id: str):
    """Ask the solver to stop; the best plan found so far is kept."""
    job = get_job(job_id)
    service_module().cancel_job(job, current_user)
    flash(_("Cancellation requested; the best plan so far is kept."), "info")
    return redirect(url_for("coord.job_progress", job_id=job.id))


# -- publishing --------------------------------------------------------------------------------


@bp.post("/plans/<int:plan_id>/publish")
def plan_publish(plan_id: int):
    """Publish the plan as a new version for field teams and residents."""
    service = service_module()
    plan = get_plan(plan_id)
    version = expected_version()
    try:
        notice = " ".join((request.form.get("notice") or "").split())[:300]
        pub = service.publish(plan, current_user, expected_version=version, notice=notice)
    except service.PlanConflict as e:
        return conflict_response(plan_id, e.message)
    except service.PlanError as e:
        flash_error(e)
        return back_to_review(plan_id, "publish")
    # The confirmation is shown inside the publish section, which the anchor scrolls into
    # view (a flash would sit at the top of a long page, out of sight).
    return redirect(
        url_for("coord.plan_review", plan_id=plan_id, published=pub.version, _anchor="publish")
    )
