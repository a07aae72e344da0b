"""Coordinator triage of residents' home-visit requests (issue 9).

* ``/coord/requests``: the queue by status (new, accepted, rejected, done). Its columns hold no
  personal data (number, day received, kelurahan, reason, persons, services, status), so
  listing needs no audit record.
* ``/coord/requests/<id>``: the whole request, personal data included; every view writes a
  ``visit_request.view`` audit record (which fields were shown, never their values).
* Approve turns the request into a hotspot of kind *home* that the next plan schedules like any
  other site; reject records a reason category the requester sees on the status page; done
  closes the request and starts the retention period (``HOME_VISIT_RETENTION_DAYS``).
* The requester's rights (UU PDP Art. 7, 8, 43; SECURITY row 49): *export* downloads
  everything held about them as JSON (:func:`outreach.privacy.subject_export`, audited as
  ``visit_request.export``); *erase* deletes it after a confirmation page where the
  coordinator types the request number (:func:`outreach.privacy.erase_subject`).

Every query is scoped to the coordinator's office: another office's request answers 404.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, format_date, format_datetime
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import ValidationError

from ..extensions import db
from ..labels import (
    REQUEST_REASON_LABELS,
    REQUEST_REJECTION_LABELS,
    REQUEST_RELATION_LABELS,
    REQUEST_STATUS_LABELS,
    SERVICE_LABELS,
)
from ..models import (
    Hotspot,
    HotspotDemand,
    HotspotKind,
    HotspotOpening,
    HotspotStatus,
    Office,
    RequestStatus,
    User,
    VisitRequest,
    audit,
    utcnow,
)
from ..plans.adapter import office_zone
from ..privacy import erase_subject, subject_export
from ..public.schedule import Area, office_areas, office_today
from . import bp
from .forms import choices
from .teams import acting_user, current_office

LIST_LIMIT = 500

# Priority of the home hotspot by reason (README "Priority": 1 = most urgent, 2 = urgent).
# Bedridden residents and hospital patients are the PRODUCT brief's "last, hardest" cases and
# README lists both under priority 1: they cannot come at all, and a patient may be discharged
# or worse before the next plan. Elderly residents and persons with a disability can sometimes
# be brought to a nearby service point with help, so they rank just below (2), above schools.
REASON_PRIORITY = {"bedridden": 1, "hospital": 1, "elderly": 2, "disability": 2}
DEFAULT_PRIORITY = 2

# A home is visited on working days, Monday to Friday 08:00-15:00 (minutes after midnight):
# inside every team's shift, and ending early enough for the team to get back to the office.
HOME_OPENING_WEEKDAYS = range(5)
HOME_OPENING = (8 * 60, 15 * 60)

# The tabs of the queue, in order; "new" is the received state.
TABS = (
    RequestStatus.RECEIVED,
    RequestStatus.ACCEPTED,
    RequestStatus.REJECTED,
    RequestStatus.DONE,
)

# What the detail page shows, for the audit record (names of fields, never their values).
DETAIL_FIELDS = (
    "requester_name",
    "requester_relation",
    "person_name",
    "nik",
    "phone",
    "address",
    "kelurahan_code",
    "lat",
    "lon",
    "persons",
    "services",
    "reason",
    "notes",
)


class RejectForm(FlaskForm):
    reason = SelectField(
        "",
        choices=choices(REQUEST_REJECTION_LABELS),
        validate_choice=False,
    )

    def validate_reason(self, field: SelectField) -> None:
        if field.data not in REQUEST_REJECTION_LABELS:
            raise ValidationError(_("Choose why the request is rejected."))


class ActionForm(FlaskForm):
    """Approve, done and export: nothing to fill in but the CSRF token."""


class EraseForm(FlaskForm):
    """Erasure: the coordinator types the request number to confirm."""

    confirm = StringField("")


# ------------------------------------------------------------------------------ helpers


def _request_or_404(request_id: int, office: Office) -> VisitRequest:
    req = db.session.get(VisitRequest, request_id) if 0 < request_id < 2**31 else None
    # Another office's request is as invisible as a missing one.
    if req is None or req.office_id != office.id:
        abort(404)
    return req


def _aware(dt: Any) -> Any:
    if dt is not None and dt.tzinfo is None:  # SQLite hands back naive UTC
        return dt.replace(tzinfo=UTC)
    return dt


def _kelurahan_names(office: Office) -> dict[str, Area]:
    _kecamatan, kelurahan = office_areas(office)
    return {a.code: a for a in kelurahan}


def _kelurahan_text(area: Area | None, code: str) -> str:
    if area is None:
        return code or "–"
    return f"{area.name} (Kec. {area.parent})" if area.parent else area.name


def _tab(raw: str | None) -> RequestStatus:
    for status in TABS:
        if raw == status.value:
            return status
    return RequestStatus.RECEIVED


def _counts(office: Office) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(VisitRequest.status, sa.func.count(VisitRequest.id))
        .where(VisitRequest.office_id == office.id)
        .group_by(VisitRequest.status)
    ).all()
    counts = {s.value: 0 for s in TABS}
    for status, n in rows:
        counts[RequestStatus(status).value] = n
    return counts


def _home_area(office: Office, code: str) -> dict[str, str]:
    """Kecamatan and kelurahan (code and name) of a request's kelurahan, from the office's
    sites; a kelurahan code ``12.71.01.1001`` lies in kecamatan ``12.71.01``."""
    kecamatan, kelurahan = office_areas(office)
    kel = next((a for a in kelurahan if a.code == code), None)
    kec_code = code.rsplit(".", 1)[0] if "." in code else ""
    kec = next((a for a in kecamatan if a.code == kec_code), None)
    if kec is None and kel is not None and kel.parent:
        kec = next((a for a in kecamatan if a.name == kel.parent), None)
    return {
        "kecamatan_code": kec.code if kec is not None else kec_code,
        "kecamatan_name": kec.name if kec is not None else (kel.parent if kel else ""),
        "kelurahan_code": code,
        "kelurahan_name": kel.name if kel is not None else code,
    }


def home_hotspot_name(req: VisitRequest) -> str:
    """The hotspot's name: a number, never the person (in the office's default language)."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return _("Home visit #%(number)s", number=req.id)


def hotspot_for_request(req: VisitRequest, office: Office) -> Hotspot:
    """A hotspot of kind *home* for an accepted request (the caller adds and commits).

    No name, phone, address or note of the resident is copied: the field team reads them from
    the request itself (audited). The demand is ``persons`` for each requested service.
    """
    placed = req.lat is not None and req.lon is not None
    hs = Hotspot(
        office_id=office.id,
        name=home_hotspot_name(req),
        kind=HotspotKind.HOME,
        address="",
        lat=req.lat if placed else None,
        lon=req.lon if placed else None,
        location_source="request" if placed else "none",
        priority=REASON_PRIORITY.get(req.reason, DEFAULT_PRIORITY),
        notes="",
        status=HotspotStatus.ACTIVE if placed else HotspotStatus.NEEDS_LOCATION,
        **_home_area(office, req.kelurahan_code or ""),
    )
    for service in req.services or []:
        hs.demands.append(
            HotspotDemand(service=service, requested=req.persons, remaining=req.persons)
        )
    start, end = HOME_OPENING
    for weekday in HOME_OPENING_WEEKDAYS:
        hs.openings.append(HotspotOpening(weekday=weekday, start_min=start, end_min=end))
    return hs


def _claim(req: VisitRequest, new_status: RequestStatus, user: User) -> bool:
    """Move a RECEIVED request to ``new_status`` unless someone decided it meanwhile.

    A conditional UPDATE: of two coordinators approving at once, exactly one wins.
    """
    result = db.session.execute(
        sa.update(VisitRequest)
        .where(VisitRequest.id == req.id, VisitRequest.status == RequestStatus.RECEIVED)
        .values(status=new_status, decided_at=utcnow(), decided_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    db.session.refresh(req)
    return True


def _refuse(req: VisitRequest):
    flash(
        _("This request was already decided (%(status)s).", status=_status_label(req)),
        "error",
    )
    return redirect(url_for("coord.request_detail", request_id=req.id), code=303)


def _status_label(req: VisitRequest) -> str:
    return str(REQUEST_STATUS_LABELS.get(RequestStatus(req.status).value, req.status))


def _row(req: VisitRequest, areas: dict[str, Area], office: Office) -> dict[str, Any]:
    """A queue row: no personal data (no name, phone, address, NIK or note)."""
    kel = areas.get(req.kelurahan_code or "")
    received = _aware(req.created_at).astimezone(office_zone(office))
    return {
        "id": req.id,
        "received": format_date(received.date(), "medium"),
        "received_iso": received.date().isoformat(),
        "kelurahan": kel.name if kel is not None else (req.kelurahan_code or "–"),
        "kecamatan": kel.parent if kel is not None else "",
        "reason": REQUEST_REASON_LABELS.get(req.reason, req.reason),
        "persons": req.persons,
        "services": [SERVICE_LABELS.get(s, s) for s in req.services or []],
        "status": RequestStatus(req.status).value,
    }


# ------------------------------------------------------------------------------ views


@bp.get("/requests")
def requests():
    """The queue of home-visit requests, one tab per status."""
    office = current_office()
    tab = _tab(request.args.get("status"))
    query = sa.select(VisitRequest).where(
        VisitRequest.office_id == office.id, VisitRequest.status == tab
    )
    if tab == RequestStatus.RECEIVED:
        query = query.order_by(VisitRequest.created_at, VisitRequest.id)  # oldest first
    else:
        query = query.order_by(VisitRequest.id.desc())
    rows = db.session.scalars(query.limit(LIST_LIMIT + 1)).all()
    areas = _kelurahan_names(office)
    return render_template(
        "coordinator/requests/index.html",
        tab=tab.value,
        tabs=[(s.value, REQUEST_STATUS_LABELS[s.value]) for s in TABS],
        status_labels=REQUEST_STATUS_LABELS,
        counts=_counts(office),
        rows=[_row(r, areas, office) for r in rows[:LIST_LIMIT]],
        truncated=len(rows) > LIST_LIMIT,
        limit=LIST_LIMIT,
    )


@bp.get("/requests/<int:request_id>")
def request_detail(request_id: int):
    """One request with the resident's data; each view is audit-logged."""
    office = current_office()
    req = _request_or_404(request_id, office)
    areas = _kelurahan_names(office)
    shown = [f for f in DETAIL_FIELDS if f != "nik" or req.nik]
    audit("visit_request.view", req, user=acting_user(), via="coordinator", fields=shown)
    db.session.commit()
    hotspot = db.session.get(Hotspot, req.hotspot_id) if req.hotspot_id else None
    decided_by = db.session.get(User, req.decided_by_id) if req.decided_by_id else None
    tz = office_zone(office)
    return render_template(
        "coordinator/requests/detail.html",
        req=req,
        row=_row(req, areas, office),
        status=RequestStatus(req.status).value,
        status_label=_status_label(req),
        relation=REQUEST_RELATION_LABELS.get(req.requester_relation, req.requester_relation),
        kelurahan=_kelurahan_text(areas.get(req.kelurahan_code or ""), req.kelurahan_code),
        created=format_datetime(_aware(req.created_at).astimezone(tz), "medium"),
        consent_at=format_datetime(_aware(req.consent_at).astimezone(tz), "medium"),
        decided_at=format_datetime(_aware(req.decided_at).astimezone(tz), "medium")
        if req.decided_at
        else None,
        decided_by=decided_by.username if decided_by is not None else None,
        rejection=REQUEST_REJECTION_LABELS.get(req.rejection_reason or ""),
        retain_until=format_date(req.retain_until, "long") if req.retain_until else None,
        hotspot=hotspot,
        tel=_tel(req.phone),
        reject_form=RejectForm(formdata=None),
        action_form=ActionForm(formdata=None),
        purged_at=format_datetime(_aware(req.purged_at).astimezone(tz), "medium")
        if req.purged_at
        else None,
        rejection_labels=REQUEST_REJECTION_LABELS,
        retention_days=int(current_app.config.get("HOME_VISIT_RETENTION_DAYS", 90)),
    )


def _tel(phone: str | None) -> str | None:
    digits = "".join(c for c in phone or "" if c.isdigit() or c == "+")
    return f"tel:{digits}" if len(digits) >= 3 else None


@bp.post("/requests/<int:request_id>/approve")
def request_approve(request_id: int):
    """Accept a new request: a home hotspot for the next plan."""
    office = current_office()
    req = _request_or_404(request_id, office)  # CSRF: checked by CSRFProtect before the view
    user = acting_user()
    if req.purged_at is not None:
        flash(_("The personal data of this request was deleted: it cannot be accepted."), "error")
        return redirect(url_for("coord.request_detail", request_id=req.id), code=303)
    if RequestStatus(req.status) != RequestStatus.RECEIVED or not _claim(
        req, RequestStatus.ACCEPTED, user
    ):
        return _refuse(req)
    hs = hotspot_for_request(req, office)
    db.session.add(hs)
    db.session.flush()
    req.hotspot_id = hs.id
    audit(
        "visit_request.approve",
        req,
        user=user,
        hotspot_id=hs.id,
        needs_location=hs.status == HotspotStatus.NEEDS_LOCATION,
    )
    db.session.commit()
    if hs.status == HotspotStatus.NEEDS_LOCATION:
        flash(
            _(
                "Request #%(number)s accepted. The house has no location yet: put a pin on "
                "the map so it can be planned.",
                number=req.id,
            ),
            "warning",
        )
        return redirect(url_for("coord.hotspot_location", hotspot_id=hs.id), code=303)
    flash(
        _("Request #%(number)s accepted: the next plan includes the home visit.", number=req.id),
        "success",
    )
    return redirect(url_for("coord.request_detail", request_id=req.id), code=303)


@bp.post("/requests/<int:request_id>/reject")
def request_reject(request_id: int):
    """Turn a new request down with a reason category the requester will see."""
    office = current_office()
    req = _request_or_404(request_id, office)
    form = RejectForm()
    if not form.validate():
        flash(_("Choose why the request is rejected."), "error")
        return redirect(url_for("coord.request_detail", request_id=req.id), code=303)
    user = acting_user()
    if RequestStatus(req.status) != RequestStatus.RECEIVED or not _claim(
        req, RequestStatus.REJECTED, user
    ):
        return _refuse(req)
    req.rejection_reason = form.reason.data
    audit("visit_request.reject", req, user=user, reason=form.reason.data)
    db.session.commit()
    flash(_("Request #%(number)s rejected.", number=req.id), "success")
    return redirect(url_for("coord.requests"), code=303)


@bp.post("/requests/<int:request_id>/done")
def request_done(request_id: int):
    """Close an accepted request after the visit; its data is kept until the retention ends."""
    office = current_office()
    req = _request_or_404(request_id, office)
    if RequestStatus(req.status) != RequestStatus.ACCEPTED:
        flash(_("Only an accepted request can be marked done."), "error")
        return redirect(url_for("coord.request_detail", request_id=req.id), code=303)
    user = acting_user()
    days = int(current_app.config.get("HOME_VISIT_RETENTION_DAYS", 90))
    req.status = RequestStatus.DONE
    req.retain_until = office_today(office) + timedelta(days=days)
    hotspot = db.session.get(Hotspot, req.hotspot_id) if req.hotspot_id else None
    archived = False
    if hotspot is not None and hotspot.status not in (HotspotStatus.DONE, HotspotStatus.ARCHIVED):
        # Nothing more to plan at this house: the field team would find no contact any more.
        hotspot.status = HotspotStatus.ARCHIVED
        archived = True
    audit(
        "visit_request.done",
        req,
        user=user,
        retain_until=req.retain_until.isoformat(),
        hotspot_archived=archived,
    )
    db.session.commit()
    flash(_("Request #%(number)s marked done.", number=req.id), "success")
    return redirect(url_for("coord.request_detail", request_id=req.id), code=303)


# ------------------------------------------------------------------------------ subject rights


@bp.post("/requests/<int:request_id>/export")
def request_export(request_id: int):
    """Download everything held about the requester as JSON (a subject access request)."""
    office = current_office()
    req = _request_or_404(request_id, office)
    # Audited before it is built, so the export's own access log shows this export too.
    audit("visit_request.export", req, user=acting_user(), via="coordinator", format="json")
    db.session.commit()
    body = json.dumps(subject_export(req), ensure_ascii=False, indent=2, sort_keys=True)
    response = Response(body.encode("utf-8"), content_type="application/json; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="permintaan-{req.id}-data-pribadi.json"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/requests/<int:request_id>/erase")
def request_erase_confirm(request_id: int):
    """Ask the coordinator to confirm the erasure by typing the request number."""
    office = current_office()
    req = _request_or_404(request_id, office)
    hotspot = db.session.get(Hotspot, req.hotspot_id) if req.hotspot_id else None
    return render_template(
        "coordinator/requests/erase.html",
        req=req,
        status=RequestStatus(req.status).value,
        hotspot=hotspot,
        form=EraseForm(formdata=None),
    )


@bp.post("/requests/<int:request_id>/erase")
def request_erase(request_id: int):
    """Delete the requester's data (UU PDP erasure request); keeps an anonymous trail."""
    office = current_office()
    req = _request_or_404(request_id, office)
    form = EraseForm()
    typed = (form.confirm.data or "").strip().lstrip("#")
    if not form.validate() or typed != str(req.id):
        flash(_("Type the request number to confirm the deletion."), "error")
        return redirect(url_for("coord.request_erase_confirm", request_id=req.id), code=303)
    number = req.id
    reference = erase_subject(req, acting_user(), via="coordinator")
    flash(
        _(
            "All personal data of request #%(number)s was deleted. Erasure reference: "
            "%(reference)s.",
            number=number,
            reference=reference,
        ),
        "success",
    )
    return redirect(url_for("coord.requests"), code=303)
