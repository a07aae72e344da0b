"""Field team pages (tablet/phone): the day's route, a stop's check-in and outcome, offline.

Every page works without JavaScript: the check-in and outcome forms post to server routes that
call :mod:`outreach.field.service` (the same rules and idempotency as the JSON API). With
JavaScript, ``static/js/field.js`` sends the same data to the JSON API through an offline
outbox, and the service worker (``/field/sw.js``) keeps the visited pages for offline use.

Isolation: a stop id is looked up through :func:`service.stop_for_team` before anything else,
so another team's stop answers 404 for every GET and POST and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .. import maps
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..labels import (
    PROBLEM_LABELS,
    REQUEST_RELATION_LABELS,
    TURN_AWAY_LABELS,
    kind_label,
    service_label,
)
from ..models import (
    HotspotKind,
    OutcomeResult,
    RequestStatus,
    Role,
    Service,
    StopStatus,
    Team,
    VisitRequest,
    audit,
    utcnow,
)
from ..privacy import audit_home_view
from . import bp, service

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PHONE_CHARS_RE = re.compile(r"[^0-9+]")
STATE_COLOURS = {
    "pending": "#0b5cab",
    "checked_in": "#b45309",
    "done": "#1b5e20",
    "not_served": "#b3261e",
    "cancelled": "#55606b",
}
STATIC_ROOT = Path(__file__).resolve().parents[2] / "static"
SW_SOURCE = STATIC_ROOT / "js" / "field-sw.js"
# Static files every field page needs offline (pre-cached when the service worker installs).
OFFLINE_ASSETS = (
    "app.css",
    "js/field.js",
    "vendor/leaflet-1.9.4/leaflet.js",
    "vendor/leaflet-1.9.4/leaflet.css",
    "vendor/jquery-3.7.1/jquery.min.js",
)


def problem_labels() -> dict[str, str]:
    return {k: str(v) for k, v in PROBLEM_LABELS.items()}


def reason_labels() -> dict[str, str]:
    return {k: str(v) for k, v in TURN_AWAY_LABELS.items()}


def state_labels() -> dict[str, str]:
    return {
        "pending": _("not yet"),
        "checked_in": _("on site"),
        "done": _("done"),
        "not_served": _("not served"),
        "cancelled": _("cancelled"),
        "late": _("late"),
    }


# ------------------------------------------------------------------------------ view models


@dataclass
class StopView:
    """One stop as the team sees it, in the office's local time."""

    stop_id: int
    number: int
    state: str
    late: bool
    arrival: str
    start: str
    end: str
    name: str
    kind: str
    address: str
    kelurahan: str
    kecamatan: str
    contact_name: str
    contact_phone: str
    tel_href: str | None
    persons: list[tuple[str, str, int]]  # (service key, label, persons)
    cards: int
    cancelled: bool
    geo_url: str | None
    navigate_url: str | None
    lat: float | None
    lon: float | None
    checkin_at: str | None = None
    outcome: dict[str, Any] | None = None

    @property
    def badge(self) -> str:
        return "late" if self.late else self.state


@dataclass
class DayView:
    team: Team
    day: date
    today: date
    writable: bool
    stops: list[StopView] = field(default_factory=list)
    cards_to_bring: int = 0
    persons: list[tuple[str, int]] = field(default_factory=list)
    pending: int = 0


def _hm(dt: datetime | None, tz: ZoneInfo) -> str:
    return service.aware(dt).astimezone(tz).strftime("%H:%M") if dt is not None else ""


def tel_href(phone: str | None) -> str | None:
    """A ``tel:`` link for a phone number (digits and a leading +), or None."""
    if not phone:
        return None
    digits = PHONE_CHARS_RE.sub("", phone)
    digits = digits[0] + digits[1:].replace("+", "") if digits else ""
    return f"tel:{digits}" if len(digits.lstrip("+")) >= 3 else None


def geo_url(lat: float, lon: float, name: str) -> str:
    """``geo:`` URI (Android opens the map app); the label is percent-encoded."""
    return f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(name, safe='')})"


def directions_url(lat: float, lon: float) -> str:
    """Google Maps directions to the point (works in any browser and in the app)."""
    return "https://www.google.com/maps/dir/?" + urlencode(
        {"api": "1", "destination": f"{lat:.6f},{lon:.6f}"}, safe=","
    )


def stop_view(ds: service.DayStop, tz: ZoneInfo, now: datetime, grace: int) -> StopView:
    hs = ds.hotspot
    placed = hs.lat is not None and hs.lon is not None
    outcome = None
    if ds.outcome is not None:
        o = ds.outcome
        outcome = {
            "result": str(getattr(o.result, "value", o.result)),
            "present": o.present,
            "recorded": [
                (service_label(k), int(v)) for k, v in (o.recorded or {}).items() if int(v)
            ],
            "turned_away": o.turned_away,
            "cards_carried": o.cards_carried,
            "cards_used": o.cards_used,
            "problems": [problem_labels().get(p, p) for p in (o.problems or [])],
            "reasons": [reason_labels().get(r, r) for r in (o.turned_away_reasons or [])],
            "notes": o.notes,
            "checked_out_at": _hm(o.checked_out_at, tz),
        }
    return StopView(
        stop_id=ds.stop_id,
        number=ds.number,
        state=ds.state,
        late=ds.is_late(now, grace),
        arrival=_hm(ds.arrival_at, tz),
        start=_hm(ds.start_at, tz),
        end=_hm(ds.end_at, tz),
        name=hs.name,
        kind=str(kind_label(hs.kind)),
        address=hs.address or "",
        kelurahan=hs.kelurahan_name or "",
        kecamatan=hs.kecamatan_name or "",
        contact_name=hs.contact_name or "",
        contact_phone=hs.contact_phone or "",
        tel_href=tel_href(hs.contact_phone),
        persons=[
            (s.value, str(service_label(s.value)), int(ds.persons[s.value]))
            for s in Service
            if ds.persons.get(s.value)
        ],
        cards=ds.cards,
        cancelled=ds.cancelled,
        geo_url=geo_url(hs.lat, hs.lon, hs.name) if placed else None,
        navigate_url=directions_url(hs.lat, hs.lon) if placed else None,
        lat=hs.lat if placed else None,
        lon=hs.lon if placed else None,
        checkin_at=_hm(ds.checkin.at, tz) if ds.checkin is not None else None,
        outcome=outcome,
    )


def day_view(team: Team, day: date) -> tuple[DayView, service.TeamDay]:
    td = service.team_day(team, day)
    tz = service.office_tz(team.office)
    now = utcnow()
    grace = int(current_app.config.get("FIELD_LATE_GRACE_MINUTES", 15))
    view = DayView(
        team=team,
        day=day,
        today=td.today,
        writable=td.writable,
        stops=[stop_view(s, tz, now, grace) for s in td.stops],
        cards_to_bring=td.cards_to_bring,
        persons=[(str(service_label(k)), v) for k, v in td.persons_by_service.items()],
        pending=td.pending,
    )
    return view, td


def day_map(stops: list[StopView], label: str) -> Markup | None:
    """The day's map: the route line and numbered stops coloured by state (escaped texts)."""
    import folium

    placed = [s for s in stops if s.lat is not None and s.lon is not None]
    if not placed:
        return None
    m = maps.base_map((placed[0].lat, placed[0].lon), zoom_start=13)
    states = state_labels()
    line = [(s.lat, s.lon) for s in placed if not s.cancelled]
    if len(line) > 1:
        folium.PolyLine(line, color="#0b5cab", weight=4, opacity=0.8).add_to(m)
    maps.add_markers(
        m,
        [
            maps.MapMarker(
                s.lat,
                s.lon,
                tooltip=f"{s.number}. {s.name} ({s.start}–{s.end})",
                popup=maps.popup_html(
                    f"{s.number}. {s.name}",
                    [
                        (_("Time"), f"{s.start}–{s.end}"),
                        (_("Address"), s.address),
                        (_("Status"), states[s.badge]),
                    ],
                ),
                color=STATE_COLOURS[s.state],
                label=s.number,
            )
            for s in placed
        ],
    )
    if len(placed) > 1:
        lats = [s.lat for s in placed]
        lons = [s.lon for s in placed]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30))
    html = maps.render_map(m, height="340px", label=label)
    # field.js finds the Leaflet map by this global name to add the member's own position.
    return (
        Markup(f'<div class="field-map" data-map-var="{m.get_name()}">') + html + Markup("</div>")
    )


# ------------------------------------------------------------------------------ helpers


def _team() -> Team | None:
    return getattr(current_user, "team", None)


def _member_team() -> Team:
    """The signed-in field member's team; anyone else gets a 404 on stop URLs."""
    team = _team()
    if team is None or current_user.role != Role.FIELD:
        raise NotFound(_("Only members of a field team record visits."), code="not_field_member")
    return team


def _parse_day(raw: str) -> date:
    if not DATE_RE.match(raw):
        raise NotFound(_("Not a date."))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise NotFound(_("Not a date.")) from None


def day_title(day: date, today: date) -> str:
    """Which title the route page shows (the template holds the translated strings)."""
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return "other"


def js_texts() -> dict[str, Any]:
    """Strings field.js shows (translated on the server)."""
    return {
        "offline": _("Offline: saving on this device"),
        "online": _("Online"),
        "signin": _("Session ended: sign in again to send the saved visits."),
        "rejected": _("Not accepted"),
        "dismiss": _("Remove"),
        "queued_checkin": _(
            "Check-in saved on this device at %(time)s. It is sent when there is a network."
        ),
        "queued_outcome": _("Outcome saved on this device. It is sent when there is a network."),
        "sent_checkin": _("Checked in at %(time)s."),
        "sent_outcome": _("Outcome saved."),
        "waiting_badge": _("waiting to sync"),
        "you": _("You are here"),
        "locating": _("Getting position…"),
        "fix_errors": _("Please correct the marked fields."),
        "stop": _("Stop %(n)d"),
        "states": state_labels(),
        "errors": {
            "number": _("Must be a whole number."),
            "negative": _("Cannot be negative."),
            "served_gt_present": _("More served than present."),
            "turned_gt_present": _("Served and turned away together exceed those present."),
            "cards": _("More blank cards used than carried."),
            "reasons": _("Say why persons were turned away."),
            "problems": _("Say what stopped the service."),
            "not_served_recorded": _("A visit that could not serve records nobody."),
        },
    }


def field_config(
    team: Team | None, td: service.TeamDay | None = None, *, refresh: list[str] | None = None
) -> dict[str, Any]:
    """Everything field.js needs, rendered as JSON into the page.

    ``precache``: pages to keep for offline use when this page loads (the route page: its
    stop pages, tomorrow, the route JSON); ``refresh``: pages to fetch again after a sync.
    """
    cfg: dict[str, Any] = {
        "user": current_user.get_id(),
        "swUrl": url_for("field.service_worker"),
        "scope": url_for("field.home"),
        "csrfUrl": url_for("field.csrf_token"),
        "checkinsUrl": url_for("api_field.field_checkin"),
        "outcomesUrl": url_for("api_field.field_outcome"),
        "pagesCache": f"jb-field-pages-{sw_version()}",
        "texts": js_texts(),
        "precache": [],
        "refresh": refresh or [],
    }
    if team is not None and td is not None:
        today = td.today
        tomorrow = today + timedelta(days=1)
        urls = [url_for("field.stop", stop_id=s.stop_id) for s in td.stops if not s.cancelled]
        if td.day == today:
            urls += [
                url_for("field.home"),
                url_for("field.day", day=tomorrow.isoformat()),
                url_for("api_field.field_route", date=today.isoformat()),
                url_for("api_field.field_route", date=tomorrow.isoformat()),
            ]
        cfg["precache"] = urls
        cfg["refresh"] = [url_for("field.home") if td.day == today else _day_url(td.day, today)]
    return cfg


def _day_url(day: date, today: date) -> str:
    return url_for("field.home") if day == today else url_for("field.day", day=day.isoformat())


def _render_day(day: date | None):
    team = _team()
    if team is None:
        return render_template(
            "field/home.html",
            team=None,
            day=None,
            title="today",
            cfg=field_config(None),
        )
    today = service.office_today(team.office)
    view, td = day_view(team, day or today)
    # the route page and its map show home-visit sites: who saw them (SECURITY row 50)
    audit_home_view(
        "field.route_view",
        td.route or team,
        current_user._get_current_object(),
        (s.hotspot for s in td.stops),
    )
    db.session.commit()
    title = day_title(view.day, today)
    return render_template(
        "field/home.html",
        team=team,
        view=view,
        day=view.day,
        today=today,
        title=title,
        yesterday=view.day - timedelta(days=1),
        tomorrow=view.day + timedelta(days=1),
        map_html=day_map(view.stops, _("Map of the route")),
        states=state_labels(),
        cfg=field_config(team, td),
    )


def _stop_context(stop_id: int) -> tuple[Team, StopView, service.TeamDay, str | None]:
    team = _member_team()
    stop = service.stop_for_team(team, stop_id)  # 404 for anything not this team's
    td = service.team_day(team, stop.route.day)
    ds = next((s for s in td.stops if s.stop_id == stop.id), None)
    if ds is None:  # a stop of a plan that has been replaced by a newer publication
        raise service.StopNotFound(_("This stop is not on your team's routes."))
    tz = service.office_tz(team.office)
    grace = int(current_app.config.get("FIELD_LATE_GRACE_MINUTES", 15))
    blocked = None
    try:
        service.writable_stop(current_user, stop.id)
    except Conflict as exc:
        blocked = exc.message
    return team, stop_view(ds, tz, utcnow(), grace), td, blocked


def home_visit_contact(team: Team, stop_id: int) -> dict[str, Any] | None:
    """Who to ask for at a home-visit stop, from the accepted request (audited per view).

    Only on the stop page of the team's own, not cancelled stop: never in the route JSON. The
    hotspot itself holds no personal data, so the team reads it here to find the house.
    """
    stop = service.stop_for_team(team, stop_id)
    hs = stop.hotspot
    if hs.kind != HotspotKind.HOME or stop.status == StopStatus.CANCELLED:
        return None
    req = db.session.scalar(
        db.select(VisitRequest)
        .where(
            VisitRequest.hotspot_id == hs.id,
            VisitRequest.office_id == team.office_id,
            VisitRequest.status == RequestStatus.ACCEPTED,
        )
        .order_by(VisitRequest.id)
        .limit(1)
    )
    if req is None:
        return None
    audit(
        "visit_request.view",
        req,
        user=current_user._get_current_object(),
        via="field",
        stop_id=stop.id,
    )
    db.session.commit()
    return {
        "person_name": req.person_name,
        "requester_name": req.requester_name,
        "relation": str(REQUEST_RELATION_LABELS.get(req.requester_relation, "")),
        "self": req.requester_relation == "self",
        "phone": req.phone,
        "tel_href": tel_href(req.phone),
        "address": req.address,
        "notes": req.notes or "",
    }


def _outcome_defaults(sv: StopView) -> dict[str, Any]:
    return {
        "result": OutcomeResult.SERVED.value,
        "present": "",
        "recorded": {key: "" for key, _label, _n in sv.persons},
        "turned_away": "0",
        "turned_away_reasons": [],
        "cards_carried": str(sv.cards),
        "cards_used": "0",
        "problems": [],
        "notes": "",
    }


def _outcome_services(sv: StopView) -> list[tuple[str, str, int | None]]:
    """Services to ask about: the expected ones; all of them when nothing was expected."""
    if sv.persons:
        return [(k, label, n) for k, label, n in sv.persons]
    return [(s.value, str(service_label(s.value)), None) for s in Service]


def _render_stop(
    stop_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    checkin_errors: dict[str, str] | None = None,
    form_error: str | None = None,
    status: int = 200,
):
    team, sv, td, blocked = _stop_context(stop_id)
    values = values or _outcome_defaults(sv)
    numbers = [s.stop_id for s in td.stops]
    idx = numbers.index(sv.stop_id)
    nxt = td.stops[idx + 1] if idx + 1 < len(td.stops) else None
    body = render_template(
        "field/stop.html",
        team=team,
        stop=sv,
        day=td.day,
        today=td.today,
        blocked=blocked,
        values=values,
        errors=errors or {},
        checkin_errors=checkin_errors or {},
        form_error=form_error,
        services=_outcome_services(sv),
        problems=problem_labels(),
        reasons=reason_labels(),
        states=state_labels(),
        client_uuid=str(uuid.uuid4()),
        checkin_uuid=str(uuid.uuid4()),
        next_stop=nxt,
        home_visit=home_visit_contact(team, sv.stop_id),
        cfg=field_config(
            team,
            refresh=[
                _day_url(td.day, td.today),
                url_for("field.stop", stop_id=sv.stop_id),
            ],
        ),
    )
    return body, status


def _errors_by_field(exc: ValidationFailed) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in exc.details or []:
        if isinstance(item, dict):
            key = str(item.get("field", "form"))
            out[key] = f"{out[key]} {item['message']}" if key in out else str(item["message"])
    return out


def _form_values() -> dict[str, Any]:
    form = request.form
    return {
        "result": form.get("result", OutcomeResult.SERVED.value),
        "present": form.get("present", ""),
        "recorded": {
            s.value: form.get(f"recorded.{s.value}", "")
            for s in Service
            if f"recorded.{s.value}" in form
        },
        "turned_away": form.get("turned_away", ""),
        "turned_away_reasons": form.getlist("turned_away_reasons"),
        "cards_carried": form.get("cards_carried", ""),
        "cards_used": form.get("cards_used", ""),
        "problems": form.getlist("problems"),
        "notes": form.get("notes", ""),
    }


# ------------------------------------------------------------------------------ routes


@bp.get("/")
def home():
    """The team's route for today."""
    return _render_day(None)


@bp.get("/day/<day>")
def day(day: str):
    """The team's route for any day (yesterday/tomorrow are one tap away)."""
    return _render_day(_parse_day(day))


@bp.get("/stop/<int:stop_id>")
def stop(stop_id: int):
    """One stop: details, check-in and the outcome form."""
    return _render_stop(stop_id)


@bp.post("/stop/<int:stop_id>/checkin")
def stop_checkin(stop_id: int):
    """Record the arrival (form post; JavaScript uses the JSON API instead)."""
    team = _member_team()
    service.stop_for_team(team, stop_id)  # before reading anything: 404 for other teams
    form = request.form
    data = {
        "client_uuid": form.get("client_uuid"),
        "stop_id": stop_id,
        "at": form.get("at") or None,
        "lat": form.get("lat") or None,
        "lon": form.get("lon") or None,
        "accuracy_m": form.get("accuracy_m") or None,
    }
    try:
        row, created = service.record_checkin(current_user._get_current_object(), data)
    except ValidationFailed as exc:
        return _render_stop(
            stop_id, checkin_errors=_errors_by_field(exc), form_error=exc.message, status=400
        )
    except Conflict as exc:
        return _render_stop(stop_id, form_error=exc.message, status=409)
    tz = service.office_tz(team.office)
    if created:
        flash(_("Checked in at %(time)s.", time=_hm(row.at, tz)), "success")
    else:
        flash(_("Already checked in at %(time)s.", time=_hm(row.at, tz)), "info")
    return redirect(url_for("field.stop", stop_id=stop_id))


@bp.post("/stop/<int:stop_id>/outcome")
def stop_outcome(stop_id: int):
    """Record the outcome and check out (form post; JavaScript uses the JSON API instead)."""
    team = _member_team()
    service.stop_for_team(team, stop_id)  # before validating: 404 for other teams
    values = _form_values()
    data = {
        **{k: v for k, v in values.items() if k != "recorded"},
        "recorded": {k: v for k, v in values["recorded"].items() if str(v).strip()},
        "client_uuid": request.form.get("client_uuid"),
        "stop_id": stop_id,
        "checked_in_at": request.form.get("checked_in_at") or None,
    }
    try:
        _row, created = service.record_outcome(current_user._get_current_object(), data)
    except ValidationFailed as exc:
        return _render_stop(
            stop_id,
            values=values,
            errors=_errors_by_field(exc),
            form_error=exc.message,
            status=400,
        )
    except Conflict as exc:
        return _render_stop(stop_id, values=values, form_error=exc.message, status=409)
    if created:
        flash(_("Outcome saved. Thank you!"), "success")
    else:
        flash(_("This outcome was already saved."), "info")
    return redirect(url_for("field.stop", stop_id=stop_id))


@bp.get("/csrf")
def csrf_token():
    """A fresh CSRF token for the page script's API calls (cached pages hold old ones)."""
    resp = jsonify({"csrf_token": generate_csrf()})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@lru_cache(maxsize=1)
def _asset_digest() -> str:
    h = hashlib.sha256()
    for path in (SW_SOURCE, *(STATIC_ROOT / p for p in OFFLINE_ASSETS)):
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(path.name.encode())
    return h.hexdigest()[:12]


def sw_version() -> str:
    """Cache version: changes whenever the worker or an offline asset changes."""
    return _asset_digest() if not current_app.debug else _asset_digest.__wrapped__()


@bp.get("/sw.js")
def service_worker():
    """The service worker, scoped to /field/ (offline pages, assets and route JSON)."""
    config = {
        "version": sw_version(),
        "scope": url_for("field.home"),
        "assets": [url_for("static", filename=p) for p in OFFLINE_ASSETS],
        "staticPrefix": current_app.static_url_path + "/",
        "routeApi": url_for("api_field.field_route"),
        "noCache": [url_for("field.csrf_token"), url_for("field.service_worker")],
        "loginPath": url_for("auth.login"),
        "offlineText": str(
            escape(_("No network, and this page is not saved on this device. Open today's route."))
        ),
    }
    source = SW_SOURCE.read_text(encoding="utf-8")
    body = source.replace("/*__CONFIG__*/{}", json.dumps(config))
    resp = Response(body, mimetype="application/javascript")
    resp.headers["Service-Worker-Allowed"] = url_for("field.home")
    resp.headers["Cache-Control"] = "no-cache"
    return resp
