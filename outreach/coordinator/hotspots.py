"""Coordinator views: the hotspot list with filters, the edit form and "drop/move the pin".

Rows imported without coordinates have status ``needs_location``; the list filters them and the
pin page walks the coordinator from one to the next. A pin the coordinator drops or moves is
recorded with ``location_source = "pin"`` so later imports and the audit trail can tell it apart.
"""

from __future__ import annotations

import math
import re
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..extensions import db
from ..gazetteer import area_by_code
from ..importing.fields import parse_phone
from ..models import (
    MAX_COUNT,
    PRIORITY_MAX,
    PRIORITY_MIN,
    Hotspot,
    HotspotDemand,
    HotspotKind,
    HotspotOpening,
    HotspotStatus,
    Office,
    audit,
)
from ..privacy import audit_home_view
from . import bp
from .forms import StrictIntField, choices, hhmm
from .teams import SERVICE_LABELS, WEEKDAYS, acting_user, current_office

KIND_LABELS = {
    HotspotKind.SCHOOL.value: _l("School (SMA/SMK/MA, SLB)"),
    HotspotKind.OFFICE.value: _l("Kelurahan/desa office"),
    HotspotKind.HOSPITAL.value: _l("Hospital"),
    HotspotKind.SOCIAL_HOME.value: _l("Nursing or social home"),
    HotspotKind.PRISON.value: _l("Prison (lapas/rutan)"),
    HotspotKind.MARKET.value: _l("Market or mall booth"),
    HotspotKind.HOME.value: _l("Home visit"),
    HotspotKind.VILLAGE_HALL.value: _l("Village hall (remote area)"),
    HotspotKind.OTHER.value: _l("Other"),
}
STATUS_LABELS = {
    HotspotStatus.ACTIVE.value: _l("active"),
    HotspotStatus.NEEDS_LOCATION.value: _l("needs location"),
    HotspotStatus.DONE.value: _l("done"),
    HotspotStatus.ARCHIVED.value: _l("archived"),
}
PRIORITY_LABELS = {
    "1": _l("1 – most urgent (bedridden, hospital, turning 17 soon)"),
    "2": _l("2 – urgent"),
    "3": _l("3 – normal"),
    "4": _l("4 – low"),
    "5": _l("5 – can wait"),
}
PAGE_SIZE = 50

# Indonesia's bounding box, the same rule as the importer (lat -11..6.5, lon 94..141.5).
LAT_RANGE, LON_RANGE = (-11.0, 6.5), (94.0, 141.5)
_DECIMAL = re.compile(r"^-?[0-9]{1,3}(?:[.,][0-9]{1,10})?$")
_KEC_CODE = re.compile(r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}$")
_KEL_CODE = re.compile(r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}$")
_WINDOW = re.compile(r"^([0-9]{2}):([0-9]{2})\s*[-–]\s*([0-9]{2}):([0-9]{2})$")


def parse_windows(text: str) -> list[tuple[int, int]]:
    """Parse ``"08:00-11:30, 13:30-16:00"`` into sorted minute windows; ValueError with a reason.

    Windows are separated by commas or semicolons; ``24:00`` is allowed as an end (malls).
    """
    windows: list[tuple[int, int]] = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        m = _WINDOW.match(part)
        if not m:
            raise ValueError(_('"%(part)s" is not a window like 08:00-16:00.', part=part))
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(_('"%(part)s" is not a valid time of day.', part=part))
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start >= end:
            raise ValueError(_('"%(part)s" must end after it starts.', part=part))
        windows.append((start, end))
    windows.sort()
    for (_s1, e1), (s2, _e2) in zip(windows, windows[1:], strict=False):
        if s2 < e1:
            raise ValueError(_("Opening windows must not overlap."))
    return windows


def format_windows(windows: list[tuple[int, int]]) -> str:
    return ", ".join(f"{hhmm(s)}-{hhmm(e)}" for s, e in windows)


def parse_coordinate(text: str) -> float:
    """Parse a decimal coordinate strictly (ASCII digits, one ``.`` or ``,``); ValueError."""
    text = text.strip()
    if not _DECIMAL.match(text):
        raise ValueError(text)
    value = float(text.replace(",", "."))
    if not math.isfinite(value):
        raise ValueError(text)
    return value


class WindowsField(StringField):
    """Opening windows of one weekday as text; ``data`` is a list of (start, end) minutes."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return format_windows(self.data or [])

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        self.raw_data = [text]
        if len(text) > 200:
            self.data = []
            raise ValueError(_("Too long: at most 200 characters."))
        try:
            self.data = parse_windows(text)
        except ValueError as exc:
            self.data = []
            raise ValueError(str(exc)) from None


class LocationMixin:
    """Latitude/longitude pair, both or neither, inside Indonesia."""

    def check_location(self) -> tuple[float | None, float | None] | None:
        lat_text = (self.lat.data or "").strip()
        lon_text = (self.lon.data or "").strip()
        if not lat_text and not lon_text:
            return (None, None)
        if not lat_text or not lon_text:
            target = self.lat if not lat_text else self.lon
            target.errors = [*target.errors, _("Fill in both latitude and longitude, or neither.")]
            return None
        try:
            lat = parse_coordinate(lat_text)
        except ValueError:
            self.lat.errors = [*self.lat.errors, _("Not a valid decimal number, e.g. 3.5952.")]
            return None
        try:
            lon = parse_coordinate(lon_text)
        except ValueError:
            self.lon.errors = [*self.lon.errors, _("Not a valid decimal number, e.g. 98.6722.")]
            return None
        lat_ok = LAT_RANGE[0] <= lat <= LAT_RANGE[1]
        lon_ok = LON_RANGE[0] <= lon <= LON_RANGE[1]
        if not (lat_ok and lon_ok):
            swapped = LAT_RANGE[0] <= lon <= LAT_RANGE[1] and LON_RANGE[0] <= lat <= LON_RANGE[1]
            if swapped:
                msg = _(
                    "Latitude and longitude look swapped: try latitude %(lon)s, longitude %(lat)s.",
                    lat=lat_text,
                    lon=lon_text,
                )
            else:
                msg = _(
                    "The point lies outside Indonesia (latitude -11 to 6.5, longitude 94 to 141.5)."
                )
            self.lat.errors = [*self.lat.errors, msg]
            return None
        return (lat, lon)


class HotspotForm(FlaskForm, LocationMixin):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS), default="other")
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    kecamatan_code = StringField(
        _l("Kecamatan code"), validators=[Optional(), Length(max=20)], description="12.71.01"
    )
    kecamatan_name = StringField(_l("Kecamatan name"), validators=[Optional(), Length(max=120)])
    kelurahan_code = StringField(
        _l("Kelurahan/desa code"),
        validators=[Optional(), Length(max=20)],
        description="12.71.01.1001",
    )
    kelurahan_name = StringField(
        _l("Kelurahan/desa name"), validators=[Optional(), Length(max=120)]
    )
    priority = SelectField(_l("Priority"), choices=choices(PRIORITY_LABELS), default="3")
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])
    # The site's contact person: shown to field teams only, never on public pages.
    contact_name = StringField(
        _l("Contact person"),
        validators=[Optional(), Length(max=120)],
        description=_l("E.g. the head teacher or the ward nurse. Shown to field teams only."),
    )
    contact_phone = StringField(
        _l("Contact phone"),
        validators=[Optional(), Length(max=32)],
        description=_l("E.g. 0812-3456-7890 or +62 61 4512345."),
        render_kw={"type": "tel", "autocomplete": "off", "inputmode": "tel"},
    )
    lat = StringField(_l("Latitude"), validators=[Optional(), Length(max=20)])
    lon = StringField(_l("Longitude"), validators=[Optional(), Length(max=20)])
    archived = BooleanField(_l("Archived: left out of plans and hidden from the list"))

    def validate_contact_phone(self, field: StringField) -> None:
        text = (field.data or "").strip()
        if text and parse_phone(text) is None:
            raise ValidationError(
                _(
                    'Enter a phone number with digits, spaces, "-" and a leading "+" only '
                    "(6 to 20 digits), e.g. 0812-3456-7890."
                )
            )

    def validate_kecamatan_code(self, field: StringField) -> None:
        if field.data and not _KEC_CODE.match(field.data.strip()):
            raise ValidationError(_("Write the code like 12.71.01."))

    def validate_kelurahan_code(self, field: StringField) -> None:
        code = (field.data or "").strip()
        if not code:
            return
        if not _KEL_CODE.match(code):
            raise ValidationError(_("Write the code like 12.71.01.1001."))
        kec = (self.kecamatan_code.data or "").strip()
        if kec and not code.startswith(kec + "."):
            raise ValidationError(
                _("Kelurahan %(kel)s is not inside kecamatan %(kec)s.", kel=code, kec=kec)
            )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for service in SERVICE_LABELS:
            req = getattr(self, f"requested_{service}")
            rem = getattr(self, f"remaining_{service}")
            if req.errors or rem.errors:
                continue
            if (rem.data or 0) > (req.data or 0):
                rem.errors = [*rem.errors, _("Remaining cannot exceed requested.")]
                ok = False
        self.location = self.check_location()
        return ok and self.location is not None


# One pair of demand fields per service and one opening-hours field per weekday.
for _service, _label in SERVICE_LABELS.items():
    setattr(
        HotspotForm,
        f"requested_{_service}",
        StrictIntField(_l("Requested"), low=0, high=MAX_COUNT),
    )
    setattr(
        HotspotForm,
        f"remaining_{_service}",
        StrictIntField(_l("Remaining"), low=0, high=MAX_COUNT),
    )
for _wd, _day in enumerate(WEEKDAYS):
    setattr(HotspotForm, f"open_{_wd}", WindowsField(_day))


class LocationForm(FlaskForm, LocationMixin):
    lat = StringField(_l("Latitude"), validators=[Optional(), Length(max=20)])
    lon = StringField(_l("Longitude"), validators=[Optional(), Length(max=20)])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        self.location = self.check_location()
        if self.location == (None, None):
            self.lat.errors = [
                *self.lat.errors,
                _("Drop the pin on the map or type the coordinates."),
            ]
            self.location = None
        return ok and self.location is not None


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _hotspot_or_404(hotspot_id: int) -> Hotspot:
    hs = db.session.get(Hotspot, hotspot_id)
    # Another office's hotspot is as invisible as a missing one.
    if hs is None or hs.office_id != current_office().id:
        abort(404)
    return hs


def map_context(office: Office, hs: Hotspot | None) -> dict[str, Any]:
    """Data attributes for the pin map: the point, or the best known centre to start from."""
    centre = (office.lat, office.lon)
    zoom = 12
    if hs is not None:
        area = area_by_code(hs.kelurahan_code or hs.kecamatan_code or "")
        if area is not None and area.code != office.region_code:
            centre, zoom = (area.lat, area.lon), 14
        if hs.lat is not None and hs.lon is not None:
            centre, zoom = (hs.lat, hs.lon), 16
    return {
        "center_lat": f"{centre[0]:.6f}",
        "center_lon": f"{centre[1]:.6f}",
        "zoom": zoom,
        "tile_url": current_app.config["MAP_TILE_URL"]
        if current_app.config.get("MAP_TILES_ENABLED", True)
        else "",
        "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION", ""),
    }


def _coord_text(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def derive_status(hs: Hotspot, *, archived: bool) -> HotspotStatus:
    """The status a hotspot's data implies: archived by choice, else location, else demand."""
    if archived:
        return HotspotStatus.ARCHIVED
    if hs.lat is None or hs.lon is None:
        return HotspotStatus.NEEDS_LOCATION
    if hs.demands and hs.remaining_total == 0:
        return HotspotStatus.DONE
    return HotspotStatus.ACTIVE


def _apply_location(hs: Hotspot, location: tuple[float | None, float | None]) -> bool:
    """Set the coordinates and the status they imply; return whether the point changed."""
    lat, lon = location
    changed = (lat, lon) != (hs.lat, hs.lon)
    hs.lat, hs.lon = lat, lon
    hs.status = derive_status(hs, archived=hs.status == HotspotStatus.ARCHIVED)
    if changed:
        hs.location_source = "pin" if lat is not None else "none"
    return changed


def _filters() -> dict[str, str]:
    keys = ("kecamatan", "kind", "priority", "service", "status", "q")
    return {k: request.args.get(k, "").strip()[:100] for k in keys}


def _filtered_query(office: Office, f: dict[str, str]) -> sa.Select:
    q = sa.select(Hotspot).where(Hotspot.office_id == office.id)
    if f["kecamatan"]:
        q = q.where(Hotspot.kecamatan_code == f["kecamatan"])
    if f["kind"] in KIND_LABELS:
        q = q.where(Hotspot.kind == HotspotKind(f["kind"]))
    if f["priority"] in PRIORITY_LABELS:
        q = q.where(Hotspot.priority == int(f["priority"]))
    if f["service"] in SERVICE_LABELS:
        q = q.where(
            Hotspot.demands.any(
                sa.and_(HotspotDemand.service == f["service"], HotspotDemand.remaining > 0)
            )
        )
    if f["status"] in STATUS_LABELS:
        q = q.where(Hotspot.status == HotspotStatus(f["status"]))
    else:
        q = q.where(Hotspot.status != HotspotStatus.ARCHIVED)
    if f["q"]:
        escaped = f["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(Hotspot.name.ilike(f"%{escaped}%", escape="\\"))
    return q


def _next_needing_location(office: Office, after_id: int) -> Hotspot | None:
    base = sa.select(Hotspot).where(
        Hotspot.office_id == office.id, Hotspot.status == HotspotStatus.NEEDS_LOCATION
    )
    nxt = db.session.scalar(base.where(Hotspot.id > after_id).order_by(Hotspot.id).limit(1))
    return nxt or db.session.scalar(base.order_by(Hotspot.id).limit(1))


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


@bp.get("/hotspots")
def hotspots():
    """List hotspots filtered by kecamatan, kind, priority, service and status."""
    office = current_office()
    f = _filters()
    query = _filtered_query(office, f)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page_no = min(page_no, pages)
    rows = db.session.scalars(
        query.order_by(Hotspot.priority, Hotspot.name, Hotspot.id)
        .limit(PAGE_SIZE)
        .offset((page_no - 1) * PAGE_SIZE)
    ).all()
    kecamatan = db.session.execute(
        sa.select(Hotspot.kecamatan_code, sa.func.max(Hotspot.kecamatan_name))
        .where(Hotspot.office_id == office.id, Hotspot.kecamatan_code != "")
        .group_by(Hotspot.kecamatan_code)
        .order_by(Hotspot.kecamatan_code)
    ).all()
    needs_location = db.session.scalar(
        sa.select(sa.func.count(Hotspot.id)).where(
            Hotspot.office_id == office.id, Hotspot.status == HotspotStatus.NEEDS_LOCATION
        )
    )
    return render_template(
        "coordinator/hotspots/list.html",
        rows=rows,
        total=total,
        page=page_no,
        pages=pages,
        filters=f,
        active_filters={k: v for k, v in f.items() if v},
        kecamatan=kecamatan,
        needs_location=needs_location,
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        priority_labels=PRIORITY_LABELS,
        service_labels=SERVICE_LABELS,
    )


def _form_data(hs: Hotspot) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": hs.name,
        "kind": hs.kind.value,
        "address": hs.address,
        "kecamatan_code": hs.kecamatan_code,
        "kecamatan_name": hs.kecamatan_name,
        "kelurahan_code": hs.kelurahan_code,
        "kelurahan_name": hs.kelurahan_name,
        "priority": str(hs.priority),
        "notes": hs.notes,
        "contact_name": hs.contact_name,
        "contact_phone": hs.contact_phone,
        "lat": _coord_text(hs.lat),
        "lon": _coord_text(hs.lon),
        "archived": hs.status == HotspotStatus.ARCHIVED,
    }
    for d in hs.demands:
        data[f"requested_{d.service}"] = d.requested
        data[f"remaining_{d.service}"] = d.remaining
    for wd in range(7):
        data[f"open_{wd}"] = [(o.start_min, o.end_min) for o in hs.openings if o.weekday == wd]
    return data


def _fill_hotspot(hs: Hotspot, form: HotspotForm) -> dict[str, Any]:
    hs.name = form.name.data.strip()
    hs.kind = HotspotKind(form.kind.data)
    hs.address = (form.address.data or "").strip()
    hs.kecamatan_code = (form.kecamatan_code.data or "").strip()
    hs.kecamatan_name = (form.kecamatan_name.data or "").strip()
    hs.kelurahan_code = (form.kelurahan_code.data or "").strip()
    hs.kelurahan_name = (form.kelurahan_name.data or "").strip()
    hs.priority = max(PRIORITY_MIN, min(PRIORITY_MAX, int(form.priority.data)))
    hs.notes = (form.notes.data or "").strip()
    hs.contact_name = " ".join((form.contact_name.data or "").split())
    hs.contact_phone = parse_phone(form.contact_phone.data or "") or ""
    for service in SERVICE_LABELS:
        requested = getattr(form, f"requested_{service}").data or 0
        remaining = getattr(form, f"remaining_{service}").data or 0
        row = hs.demand_of(service)
        if requested == 0 and remaining == 0:
            if row is not None:
                hs.demands.remove(row)
            continue
        if row is None:
            row = HotspotDemand(service=service)
            hs.demands.append(row)
        row.requested, row.remaining = requested, remaining
    hs.openings.clear()
    for wd in range(7):
        for start, end in getattr(form, f"open_{wd}").data or []:
            hs.openings.append(HotspotOpening(weekday=wd, start_min=start, end_min=end))
    moved = _apply_location(hs, form.location)
    hs.status = derive_status(hs, archived=bool(form.archived.data))
    return {"moved": moved}


def _edit_page(form: HotspotForm, hs: Hotspot | None, office: Office, status: int = 200):
    return render_template(
        "coordinator/hotspots/form.html",
        form=form,
        hotspot=hs,
        services=SERVICE_LABELS,
        weekdays=WEEKDAYS,
        status_labels=STATUS_LABELS,
        map=map_context(office, hs),
    ), status


@bp.route("/hotspots/new", methods=["GET", "POST"])
def hotspot_new():
    """Add a hotspot by hand (e.g. a site found after the import)."""
    office = current_office()
    form = HotspotForm()
    if form.validate_on_submit():
        hs = Hotspot(office=office, status=HotspotStatus.ACTIVE, location_source="pin")
        db.session.add(hs)
        _fill_hotspot(hs, form)
        db.session.flush()
        audit("hotspot.create", hs, user=acting_user(), name=hs.name)
        db.session.commit()
        flash(_("Hotspot %(name)s added.", name=hs.name), "success")
        return redirect(url_for("coord.hotspot_edit", hotspot_id=hs.id))
    return _edit_page(form, None, office, 400 if form.is_submitted() else 200)


@bp.route("/hotspots/<int:hotspot_id>/edit", methods=["GET", "POST"])
def hotspot_edit(hotspot_id: int):
    """Edit a hotspot: place, demand per service, priority, opening hours, notes, location."""
    hs = _hotspot_or_404(hotspot_id)
    if request.method == "GET":
        audit_home_view("hotspot.view", hs, acting_user(), [hs])  # a home's address and pin
        db.session.commit()
    form = HotspotForm() if request.method == "POST" else HotspotForm(data=_form_data(hs))
    if form.validate_on_submit():
        before = {"lat": hs.lat, "lon": hs.lon, "priority": hs.priority}
        result = _fill_hotspot(hs, form)
        audit("hotspot.update", hs, user=acting_user(), before=before, moved=result["moved"])
        db.session.commit()
        flash(_("Hotspot %(name)s saved.", name=hs.name), "success")
        return redirect(url_for("coord.hotspot_edit", hotspot_id=hs.id))
    return _edit_page(form, hs, hs.office, 400 if form.is_submitted() else 200)


@bp.route("/hotspots/<int:hotspot_id>/location", methods=["GET", "POST"])
def hotspot_location(hotspot_id: int):
    """Drop or move a hotspot's pin; then go on to the next one that needs a location."""
    hs = _hotspot_or_404(hotspot_id)
    if request.method == "GET":
        audit_home_view("hotspot.view", hs, acting_user(), [hs])  # a home's pin
        db.session.commit()
    if request.method == "POST":
        form = LocationForm()
    else:
        form = LocationForm(data={"lat": _coord_text(hs.lat), "lon": _coord_text(hs.lon)})
    if form.validate_on_submit():
        before = {"lat": hs.lat, "lon": hs.lon, "status": hs.status.value}
        _apply_location(hs, form.location)
        audit("hotspot.pin", hs, user=acting_user(), before=before, lat=hs.lat, lon=hs.lon)
        db.session.commit()
        flash(_("Location of %(name)s saved.", name=hs.name), "success")
        if request.form.get("next") == "1":
            nxt = _next_needing_location(hs.office, hs.id)
            if nxt is not None:
                return redirect(url_for("coord.hotspot_location", hotspot_id=nxt.id))
            flash(_("Every hotspot has a location now."), "success")
        return redirect(url_for("coord.hotspots", status="needs_location"))
    remaining = db.session.scalar(
        sa.select(sa.func.count(Hotspot.id)).where(
            Hotspot.office_id == hs.office_id, Hotspot.status == HotspotStatus.NEEDS_LOCATION
        )
    )
    return render_template(
        "coordinator/hotspots/location.html",
        form=form,
        hotspot=hs,
        kind_labels=KIND_LABELS,
        remaining=remaining,
        map=map_context(hs.office, hs),
    ), (400 if form.is_submitted() else 200)
