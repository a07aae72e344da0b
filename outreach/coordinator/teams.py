"""Coordinator views: teams, their weekly working pattern and dated exceptions.

The calendar shows Indonesia's national holidays (``holidays``, country "ID") next to each team's
working days, so a coordinator sees at a glance that a team is off on 25 December unless an
"extra working day" exception says otherwise.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import holidays
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import roles
from ..auth.sessions import device_label, live_sessions, revoke
from ..extensions import db
from ..models import (
    MAX_COUNT,
    ExceptionKind,
    Office,
    Service,
    Team,
    TeamException,
    TeamWeeklyShift,
    User,
    UserSession,
    VehicleKind,
    audit,
)
from . import bp
from .forms import ClockField, MultiCheckboxField, StrictIntField, choices, hhmm

# ---------------------------------------------------------------------------------------------
# Shared helpers (also used by the hotspot and import screens)
# ---------------------------------------------------------------------------------------------

WEEKDAYS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
WEEKDAYS_SHORT = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))

SERVICE_LABELS = {
    Service.KTP_RECORD.value: _l("KTP-el recording"),
    Service.KTP_PRINT.value: _l("KTP-el printing"),
    Service.BIRTH_CERT.value: _l("Birth certificate"),
    Service.KIA.value: _l("Child ID card (KIA)"),
}
VEHICLE_LABELS = {
    VehicleKind.CAR.value: _l("Car"),
    VehicleKind.MOTORBIKE.value: _l("Motorbike"),
    VehicleKind.BOAT.value: _l("Boat"),
}
EXCEPTION_LABELS = {
    ExceptionKind.LEAVE.value: _l("Leave (not working)"),
    ExceptionKind.EXTRA.value: _l("Extra working day"),
    ExceptionKind.HOURS.value: _l("Different hours"),
}

# Friday prayer (Sholat Jumat): the long midday break every office plans around.
FRIDAY_PRAYER = (690, 810, "Sholat Jumat")
DEFAULT_LUNCH = (720, 780, "Istirahat")
DEFAULT_DAY = (480, 960)  # 08:00-16:00


def current_office() -> Office:
    """Return the office of the logged-in user; 403 for an account without one (admins too:
    these screens edit one office's data). See :func:`outreach.roles.current_office`."""
    return roles.current_office()


def acting_user() -> Any:
    """Return the real user object behind ``current_user`` (for audit rows)."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def holiday_names(years: list[int]) -> dict[date, str]:
    """Return Indonesia's national holidays in the UI language, keyed by date."""
    language = "id" if str(get_locale() or "id").startswith("id") else "en_US"
    return dict(holidays.country_holidays("ID", years=years, language=language).items())


# ---------------------------------------------------------------------------------------------
# Forms
# ---------------------------------------------------------------------------------------------


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    vehicle = SelectField(_l("Vehicle"), choices=choices(VEHICLE_LABELS), default="car")
    kits = StrictIntField(
        _l("Recording kits"),
        validators=[InputRequired(_("Enter the number of kits."))],
        low=1,
        high=10,
        default=1,
        description=_l("Most teams carry 1-3 kits; each records about 100-150 persons a day."),
    )
    services = MultiCheckboxField(_l("Services"), choices=choices(SERVICE_LABELS))
    has_printer = BooleanField(_l("Carries a KTP-el printer"))
    cards_per_day = StrictIntField(
        _l("Blank cards per day"),
        validators=[InputRequired(_("Enter a number (0 if the team prints nothing)."))],
        low=0,
        high=MAX_COUNT,
        default=0,
        description=_l("Daily allowance of blank KTP-el cards (blangko) the team takes out."),
    )
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args: Any, office: Office, team: Team | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._office, self._team = office, team

    def validate_name(self, field: StringField) -> None:
        name = (field.data or "").strip()
        clash = db.session.scalar(
            db.select(Team).filter(Team.office_id == self._office.id, Team.name == name)
        )
        if clash is not None and clash is not self._team:
            raise ValidationError(_("Another team of this office already has this name."))

    def validate_services(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError(_("Choose at least one service."))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if Service.KTP_PRINT.value in (self.services.data or []) and not self.has_printer.data:
            self.services.errors = [
                *self.services.errors,
                _('Printing on site needs a printer: tick "Carries a KTP-el printer".'),
            ]
            ok = False
        if Service.KTP_PRINT.value in (self.services.data or []) and not self.cards_per_day.data:
            self.cards_per_day.errors = [
                *self.cards_per_day.errors,
                _("Printing on site needs blank cards: enter the daily allowance."),
            ]
            ok = False
        return ok


def _check_breaks(
    start: int | None, end: int | None, breaks: list[tuple[int, int, str]], where: Any
) -> list[str]:
    """Return error messages for a working window and its breaks (empty when valid)."""
    errors: list[str] = []
    if start is None or end is None:
        errors.append(_("Enter the start and end time."))
        return errors
    if start >= end:
        errors.append(_("The end time must be after the start time."))
        return errors
    previous_end = None
    for b_start, b_end, _label in sorted(breaks):
        if b_start >= b_end:
            errors.append(_("A break must end after it starts."))
        elif b_start < start or b_end > end:
            errors.append(
                _(
                    "Break %(start)s-%(end)s lies outside the working hours.",
                    start=hhmm(b_start),
                    end=hhmm(b_end),
                )
            )
        elif previous_end is not None and b_start < previous_end:
            errors.append(_("Breaks must not overlap."))
        previous_end = b_end if previous_end is None else max(previous_end, b_end)
    return errors


class BreakMixin:
    """Two optional break slots; enough for lunch and Friday prayer."""

    def collect_breaks(self) -> tuple[list[tuple[int, int, str]], list[str]]:
        breaks: list[tuple[int, int, str]] = []
        errors: list[str] = []
        for i in (1, 2):
            b_start = getattr(self, f"break{i}_start").data
            b_end = getattr(self, f"break{i}_end").data
            label = (getattr(self, f"break{i}_label").data or "").strip()
            if b_start is None and b_end is None:
                continue
            if b_start is None or b_end is None:
                errors.append(_("Give a break both a start and an end time."))
                continue
            breaks.append((b_start, b_end, label or _("Break")))
        return breaks, errors


class DayForm(Form, BreakMixin):
    """One weekday of the weekly pattern (a sub-form: the parent form carries the CSRF token)."""

    working = BooleanField(_l("Working"))
    start = ClockField(_l("Start"))
    end = ClockField(_l("End"))
    break1_start = ClockField(_l("Break from"))
    break1_end = ClockField(_l("Break until"))
    break1_label = StringField(_l("Label"), validators=[Optional(), Length(max=40)])
    break2_start = ClockField(_l("Break from"))
    break2_end = ClockField(_l("Break until"))
    break2_label = StringField(_l("Label"), validators=[Optional(), Length(max=40)])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if not self.working.data:
            return ok
        breaks, errors = self.collect_breaks()
        errors += _check_breaks(self.start.data, self.end.data, breaks, self)
        if errors:
            self.start.errors = [*self.start.errors, *errors]
            return False
        return ok


class WeekForm(FlaskForm):
    days = FieldList(FormField(DayForm), min_entries=7, max_entries=7)


class ExceptionForm(FlaskForm, BreakMixin):
    day = DateField(_l("Date"), validators=[InputRequired(_("Choose a date."))])
    kind = SelectField(_l("Kind"), choices=choices(EXCEPTION_LABELS), default="leave")
    start = ClockField(_l("Start"))
    end = ClockField(_l("End"))
    break1_start = ClockField(_l("Break from"))
    break1_end = ClockField(_l("Break until"))
    break1_label = StringField(_l("Label"), validators=[Optional(), Length(max=40)])
    break2_start = ClockField(_l("Break from"))
    break2_end = ClockField(_l("Break until"))
    break2_label = StringField(_l("Label"), validators=[Optional(), Length(max=40)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.kind.data == ExceptionKind.LEAVE.value:
            return ok
        breaks, errors = self.collect_breaks()
        errors += _check_breaks(self.start.data, self.end.data, breaks, self)
        if errors:
            self.start.errors = [*self.start.errors, *errors]
            return False
        return ok


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


@dataclass
class DayCell:
    """One square of the month calendar."""

    day: date
    in_month: bool
    holiday: str | None
    status: str  # work | off | holiday | leave | extra | hours
    hours: str
    exception: TeamException | None


def _hours_text(start: int | None, end: int | None, breaks: list[list[Any]]) -> str:
    text = f"{hhmm(start)}–{hhmm(end)}"
    if breaks:
        text += " (" + ", ".join(f"{hhmm(b[0])}–{hhmm(b[1])}" for b in breaks) + ")"
    return text


def month_cells(team: Team, year: int, month: int) -> list[list[DayCell]]:
    """Return the weeks (Monday first) of a month with the team's availability per day."""
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    names = holiday_names(sorted({d.year for w in weeks for d in w}))
    shifts = {s.weekday: s for s in team.weekly_shifts}
    exceptions = {e.day: e for e in team.exceptions}
    out: list[list[DayCell]] = []
    for week in weeks:
        row = []
        for d in week:
            holiday = names.get(d)
            exc = exceptions.get(d)
            shift = shifts.get(d.weekday())
            if exc is not None and exc.kind == ExceptionKind.LEAVE:
                status, hours = "leave", ""
            elif exc is not None:
                status = exc.kind.value
                hours = _hours_text(exc.start_min, exc.end_min, exc.breaks)
            elif holiday:
                status, hours = "holiday", ""
            elif shift is not None:
                status, hours = "work", _hours_text(shift.start_min, shift.end_min, shift.breaks)
            else:
                status, hours = "off", ""
            row.append(DayCell(d, d.month == month, holiday, status, hours, exc))
        out.append(row)
    return out


def _parse_month(text: str | None) -> tuple[int, int]:
    m = re.match(r"^(\d{4})-(\d{2})$", text or "")
    if m and 2000 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12:
        return int(m.group(1)), int(m.group(2))
    today = date.today()
    return today.year, today.month


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


def _team_or_404(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    # Another office's team is as invisible as a missing one.
    if team is None or team.office_id != current_office().id:
        abort(404)
    return team


def default_week(team: Team) -> None:
    """Give a new team the usual office week: Mon-Fri 08:00-16:00, Friday prayer break."""
    for wd in range(5):
        brk = FRIDAY_PRAYER if wd == 4 else DEFAULT_LUNCH
        team.weekly_shifts.append(
            TeamWeeklyShift(
                weekday=wd, start_min=DEFAULT_DAY[0], end_min=DEFAULT_DAY[1], breaks=[list(brk)]
            )
        )


@bp.get("/teams")
def teams():
    """List the office's teams with their vehicle, kits, services and weekly days."""
    office = current_office()
    rows = db.session.scalars(
        db.select(Team).filter_by(office_id=office.id).order_by(Team.active.desc(), Team.name)
    ).all()
    return render_template(
        "coordinator/teams/list.html",
        teams=rows,
        service_labels=SERVICE_LABELS,
        vehicle_labels=VEHICLE_LABELS,
        weekdays_short=WEEKDAYS_SHORT,
    )


def _fill_team(team: Team, form: TeamForm) -> None:
    team.name = form.name.data.strip()
    team.vehicle = VehicleKind(form.vehicle.data)
    team.kits = form.kits.data
    team.services = [s for s in SERVICE_LABELS if s in form.services.data]
    team.has_printer = bool(form.has_printer.data)
    team.cards_per_day = form.cards_per_day.data
    team.active = bool(form.active.data)


@bp.route("/teams/new", methods=["GET", "POST"])
def team_new():
    """Create a team; it starts with the usual office week (editable afterwards)."""
    office = current_office()
    form = TeamForm(office=office)
    if request.method == "GET":
        form.services.data = [Service.KTP_RECORD.value]
    if form.validate_on_submit():
        team = Team(office=office)
        _fill_team(team, form)
        default_week(team)
        db.session.add(team)
        db.session.flush()
        audit("team.create", team, user=acting_user(), name=team.name)
        db.session.commit()
        flash(_("Team %(name)s created with the usual office week.", name=team.name), "success")
        return redirect(url_for("coord.team_week", team_id=team.id))
    return render_template("coordinator/teams/form.html", form=form, team=None), (
        400 if form.is_submitted() else 200
    )


@bp.route("/teams/<int:team_id>/edit", methods=["GET", "POST"])
def team_edit(team_id: int):
    """Edit a team's name, vehicle, kits, services, printer, card allowance and status."""
    team = _team_or_404(team_id)
    form = TeamForm(obj=team, office=team.office, team=team)
    if request.method == "GET":
        form.vehicle.data = team.vehicle.value
    if form.validate_on_submit():
        before = {"name": team.name, "kits": team.kits, "active": team.active}
        _fill_team(team, form)
        audit("team.update", team, user=acting_user(), before=before)
        db.session.commit()
        flash(_("Team %(name)s saved.", name=team.name), "success")
        return redirect(url_for("coord.teams"))
    return render_template(
        "coordinator/teams/form.html", form=form, team=team, members=member_devices(team)
    ), (400 if form.is_submitted() else 200)


# ---------------------------------------------------------------------------------------------
# Members' devices (field device sessions)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberDevice:
    """One live session of a team member, as the coordinator sees it."""

    id: int
    name: str
    last_seen: datetime


@dataclass(frozen=True)
class MemberDevices:
    """A team member and the devices they are signed in on."""

    id: int
    username: str
    active: bool
    devices: list[MemberDevice]


def _aware(dt: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they are UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def member_devices(team: Team) -> list[MemberDevices]:
    """The team's members, each with their live device sessions (most recent first)."""
    members = sorted(team.members, key=lambda u: u.username.casefold())
    return [
        MemberDevices(
            id=member.id,
            username=member.username,
            active=member.active,
            devices=[
                MemberDevice(row.id, device_label(row), _aware(row.last_seen_at))
                for row in live_sessions(member)
            ],
        )
        for member in members
    ]


def _member_or_404(team: Team, user_id: int) -> User:
    member = db.session.get(User, user_id)
    # A member of another team (or office) is as invisible as a missing account.
    if member is None or member.team_id != team.id:
        abort(404)
    return member


@bp.post("/teams/<int:team_id>/members/<int:user_id>/devices/<int:session_id>/revoke")
def team_device_revoke(team_id: int, user_id: int, session_id: int):
    """Sign one of a member's devices out (a lost or handed-over tablet)."""
    team = _team_or_404(team_id)
    member = _member_or_404(team, user_id)
    row = db.session.scalar(
        db.select(UserSession).where(UserSession.id == session_id, UserSession.user_id == member.id)
    )
    if row is None:
        abort(404)
    if revoke(row):
        # No names, device names or user agents in the trail: ids are enough to trace it.
        audit("session.revoke", row, user=acting_user(), team_id=team.id, member_id=member.id)
    db.session.commit()
    flash(_("The device is signed out. It must log in again to be used."), "success")
    return redirect(url_for("coord.team_edit", team_id=team.id) + "#devices")


@bp.post("/teams/<int:team_id>/members/<int:user_id>/devices/revoke")
def team_devices_revoke_all(team_id: int, user_id: int):
    """Sign all of a member's devices out."""
    team = _team_or_404(team_id)
    member = _member_or_404(team, user_id)
    count = sum(1 for row in live_sessions(member) if revoke(row))
    # Also close rows that are past their limits but not yet marked: nothing is left alive.
    for row in member.sessions:
        revoke(row)
    audit(
        "session.revoke",
        member,
        user=acting_user(),
        team_id=team.id,
        member_id=member.id,
        scope="all",
        count=count,
    )
    db.session.commit()
    flash(
        ngettext(
            "%(num)d device signed out.",
            "%(num)d devices signed out.",
            count,
        ),
        "success",
    )
    return redirect(url_for("coord.team_edit", team_id=team.id) + "#devices")


def _day_data(shift: TeamWeeklyShift | None, weekday: int) -> dict[str, Any]:
    if shift is None:
        # Prefill so ticking "working" gives sensible hours; Friday gets the prayer break.
        brk = FRIDAY_PRAYER if weekday == 4 else DEFAULT_LUNCH
        return {
            "working": False,
            "start": DEFAULT_DAY[0],
            "end": DEFAULT_DAY[1],
            "break1_start": brk[0],
            "break1_end": brk[1],
            "break1_label": brk[2],
        }
    data: dict[str, Any] = {"working": True, "start": shift.start_min, "end": shift.end_min}
    for i, brk in enumerate(shift.breaks[:2], start=1):
        data[f"break{i}_start"], data[f"break{i}_end"] = brk[0], brk[1]
        data[f"break{i}_label"] = brk[2] if len(brk) > 2 else ""
    return data


@bp.route("/teams/<int:team_id>/week", methods=["GET", "POST"])
def team_week(team_id: int):
    """Edit the weekly pattern: hours and breaks per weekday."""
    team = _team_or_404(team_id)
    shifts = {s.weekday: s for s in team.weekly_shifts}
    if request.method == "GET":
        form = WeekForm(data={"days": [_day_data(shifts.get(wd), wd) for wd in range(7)]})
    else:
        form = WeekForm()
    if form.validate_on_submit():
        for wd, entry in enumerate(form.days.entries):
            sub = entry.form
            shift = shifts.get(wd)
            if not sub.working.data:
                if shift is not None:
                    team.weekly_shifts.remove(shift)
                continue
            breaks, _errors = sub.collect_breaks()
            if shift is None:
                shift = TeamWeeklyShift(weekday=wd, start_min=0, end_min=1)
                team.weekly_shifts.append(shift)
            shift.start_min, shift.end_min = sub.start.data, sub.end.data
            shift.breaks = [list(b) for b in sorted(breaks)]
        audit(
            "team.week",
            team,
            user=acting_user(),
            days=[wd for wd, e in enumerate(form.days.entries) if e.form.working.data],
        )
        db.session.commit()
        flash(_("Weekly pattern of %(name)s saved.", name=team.name), "success")
        return redirect(url_for("coord.team_calendar", team_id=team.id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "coordinator/teams/week.html", form=form, team=team, weekdays=WEEKDAYS
    ), status


def _calendar_page(team: Team, form: ExceptionForm, year: int, month: int, status: int = 200):
    first = date(year, month, 1)
    prev_month = (first - timedelta(days=1)).strftime("%Y-%m")
    next_month = (first + timedelta(days=32)).strftime("%Y-%m")
    return render_template(
        "coordinator/teams/calendar.html",
        team=team,
        form=form,
        weeks=month_cells(team, year, month),
        month=first,
        month_title=format_date(first, "MMMM yyyy"),
        prev_month=prev_month,
        next_month=next_month,
        weekdays_short=WEEKDAYS_SHORT,
        exception_labels=EXCEPTION_LABELS,
        hhmm=hhmm,
    ), status


@bp.get("/teams/<int:team_id>/calendar")
def team_calendar(team_id: int):
    """Show a month with holidays, working days and exceptions; prefill the exception form."""
    team = _team_or_404(team_id)
    year, month = _parse_month(request.args.get("month"))
    form = ExceptionForm()
    picked = request.args.get("day", "")
    try:
        picked_day = date.fromisoformat(picked) if picked else None
    except ValueError:
        picked_day = None
    if picked_day is not None:
        form.day.data = picked_day
        year, month = picked_day.year, picked_day.month
        existing = next((e for e in team.exceptions if e.day == picked_day), None)
        if existing is not None:
            form.kind.data = existing.kind.value
            form.start.data, form.end.data = existing.start_min, existing.end_min
            for i, brk in enumerate(existing.breaks[:2], start=1):
                getattr(form, f"break{i}_start").data = brk[0]
                getattr(form, f"break{i}_end").data = brk[1]
                getattr(form, f"break{i}_label").data = brk[2] if len(brk) > 2 else ""
            form.note.data = existing.note
        else:
            shift = next((s for s in team.weekly_shifts if s.weekday == picked_day.weekday()), None)
            form.kind.data = "leave" if shift is not None else "extra"
            form.start.data, form.end.data = DEFAULT_DAY
    return _calendar_page(team, form, year, month)


@bp.post("/teams/<int:team_id>/exceptions")
def team_exception_save(team_id: int):
    """Add or replace the exception of one date (leave, extra day or different hours)."""
    team = _team_or_404(team_id)
    form = ExceptionForm()
    if not form.validate_on_submit():
        day = form.day.data or date.today()
        return _calendar_page(team, form, day.year, day.month, 400)
    kind = ExceptionKind(form.kind.data)
    exc = next((e for e in team.exceptions if e.day == form.day.data), None)
    created = exc is None
    if exc is None:
        exc = TeamException(day=form.day.data, kind=kind)
        team.exceptions.append(exc)
    exc.kind = kind
    if kind == ExceptionKind.LEAVE:
        exc.start_min = exc.end_min = None
        exc.breaks = []
    else:
        breaks, _errors = form.collect_breaks()
        exc.start_min, exc.end_min = form.start.data, form.end.data
        exc.breaks = [list(b) for b in sorted(breaks)]
    exc.note = (form.note.data or "").strip()
    db.session.flush()
    audit(
        "team.exception.create" if created else "team.exception.update",
        team,
        user=acting_user(),
        day=exc.day.isoformat(),
        kind=kind.value,
    )
    db.session.commit()
    flash(_("Exception on %(day)s saved.", day=exc.day.isoformat()), "success")
    return redirect(
        url_for("coord.team_calendar", team_id=team.id, month=exc.day.strftime("%Y-%m"))
    )


@bp.post("/teams/<int:team_id>/exceptions/<int:exception_id>/delete")
def team_exception_delete(team_id: int, exception_id: int):
    """Remove a dated exception; the weekly pattern applies again on that date."""
    team = _team_or_404(team_id)
    exc = next((e for e in team.exceptions if e.id == exception_id), None)
    if exc is None:
        abort(404)
    day = exc.day
    team.exceptions.remove(exc)
    audit("team.exception.delete", team, user=acting_user(), day=day.isoformat())
    db.session.commit()
    flash(_("Exception on %(day)s removed.", day=day.isoformat()), "success")
    return redirect(url_for("coord.team_calendar", team_id=team.id, month=day.strftime("%Y-%m")))
