"""UU PDP duties for home-visit requests: retention, subject access, erasure, access trail.

**Retention** (SECURITY row 48). The consent notice tells the requester that the data is
deleted ``HOME_VISIT_RETENTION_DAYS`` days after the request is closed.
:func:`purge_expired_requests` keeps that promise: it blanks the requester's and the person's
name, phone, NIK, address, notes and coordinates of every request closed long enough ago, keeps
the facts that carry no person (office, kelurahan, reason, services, persons, status, dates) for
the office's statistics, and writes one audit event per purged request (ids and counts only).
``flask purge-requests`` runs it; it is meant for a daily timer (cron or systemd).

A request counts as closed when it is *done* (``retain_until`` is set then) or *rejected*
(from the decision date). A request nobody ever closed (still *received* or *accepted*) is
purged once it is older than ``HOME_VISIT_MAX_AGE_DAYS`` (counted from the day it was
received): a forgotten request must not keep a person's data forever either.

The home-visit site an approved request became keeps its place in past plans, but not the
house: its address, notes and contact are blanked, its position rounded to two decimals (about
1 km, the kelurahan) and it is archived. What the field team recorded there goes too: the
check-ins' GPS fixes (taken at the front door), the outcome's free-text notes, and the exact
coordinates in the site's audit events (``hotspot.pin``/``hotspot.update``), rounded the same.

**Subject access and erasure** (SECURITY row 49, UU PDP Art. 7, 8, 32, 43).
:func:`subject_export` collects everything held about one requester as JSON-ready data, the
access log included; :func:`erase_subject` deletes the request and anonymises what must stay
for the office's books, in one transaction, and leaves a ``subject.erase`` audit event that
names a random erasure reference instead of the request.

**Who saw it** (SECURITY row 50). :func:`who_accessed` lists every access to one person's
data: the audit events on the request (views by coordinators and field teams, exports,
decisions), the plan exports whose ``home_hotspots`` included the house, and the field
team's check-ins and outcomes at it. ``audit_event(object_type, object_id)`` is indexed, so
this stays fast on a large audit table.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from .extensions import db
from .models import (
    AuditEvent,
    Hotspot,
    HotspotKind,
    HotspotStatus,
    Office,
    Plan,
    PlannedRoute,
    PlannedStop,
    PlanPublication,
    PublicVisit,
    RequestStatus,
    StopCheckin,
    Team,
    User,
    VisitOutcome,
    VisitRequest,
    audit,
    utcnow,
)

PERSONAL_FIELDS = ("requester_name", "person_name", "phone", "address", "notes")

# How audit rows name their object (``audit()`` uses the lower-cased class name).
REQUEST_OBJECT = "visitrequest"
HOTSPOT_OBJECT = "hotspot"
STOP_OBJECT = "plannedstop"
# Audit rows about an erased requester keep their action, time and user, but name this type
# and the erasure reference instead of the request.
ERASED_OBJECT = "erased_subject"
EXPORT_ACTION = "plan_export"
EXPORT_FORMAT_VERSION = "jemput-bola/subject-export/1"

# Coordinates in audit details are rounded to this many decimals (about 1 km) when purged.
COORD_DECIMALS = 2
_COORD_KEYS = ("lat", "lon")
_DROP_KEYS = ("accuracy_m",)


# ---------------------------------------------------------------------------- small helpers


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:  # SQLite hands back naive UTC
        return dt.replace(tzinfo=UTC)
    return dt


def _zone(office: Office | None) -> ZoneInfo:
    try:
        return ZoneInfo((office.timezone if office is not None else "") or "Asia/Jakarta")
    except (ValueError, KeyError):
        return ZoneInfo("Asia/Jakarta")


def _iso(dt: datetime | None, tz: ZoneInfo) -> str | None:
    aware = _aware(dt)
    return aware.astimezone(tz).isoformat(timespec="seconds") if aware is not None else None


def _day(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def blur_coordinates(value: Any) -> Any:
    """``value`` (audit details) with every ``lat``/``lon`` rounded to about 1 km and GPS
    accuracies dropped, at any depth; other values unchanged."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _DROP_KEYS:
                out[key] = None
            elif (
                key in _COORD_KEYS and isinstance(item, int | float) and not isinstance(item, bool)
            ):
                out[key] = round(float(item), COORD_DECIMALS)
            else:
                out[key] = blur_coordinates(item)
        return out
    if isinstance(value, list):
        return [blur_coordinates(v) for v in value]
    return value


def _blur_site(site: Hotspot) -> dict[str, int]:
    """Remove the house from a home-visit site and from what was recorded at it.

    Blanks the address, notes and contact, rounds the position, archives the site, drops the
    check-ins' GPS fixes, the outcomes' notes, and rounds the coordinates in the site's audit
    events. Returns counts (no values). Does not commit.
    """
    site.address = site.notes = site.contact_name = site.contact_phone = ""
    if site.lat is not None and site.lon is not None:
        site.lat = round(site.lat, COORD_DECIMALS)
        site.lon = round(site.lon, COORD_DECIMALS)
    site.status = HotspotStatus.ARCHIVED
    checkins = db.session.execute(
        sa.update(StopCheckin)
        .where(
            StopCheckin.hotspot_id == site.id,
            sa.or_(StopCheckin.lat.is_not(None), StopCheckin.accuracy_m.is_not(None)),
        )
        .values(lat=None, lon=None, accuracy_m=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    outcomes = db.session.execute(
        sa.update(VisitOutcome)
        .where(VisitOutcome.hotspot_id == site.id, VisitOutcome.notes != "")
        .values(notes="")
        .execution_options(synchronize_session="fetch")
    ).rowcount
    events = 0
    for event in db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_type == HOTSPOT_OBJECT, AuditEvent.object_id == str(site.id)
        )
    ):
        blurred = blur_coordinates(event.details or {})
        if blurred != (event.details or {}):
            event.details = blurred
            events += 1
    return {"checkins": int(checkins or 0), "outcomes": int(outcomes or 0), "audit_events": events}


def _site_of(req: VisitRequest) -> Hotspot | None:
    return db.session.get(Hotspot, req.hotspot_id) if req.hotspot_id else None


# ---------------------------------------------------------------------------- retention


def expired_requests(
    today: date, retention_days: int, max_age_days: int | None = None
) -> sa.Select:
    """Requests whose personal data must go on ``today``.

    Done requests from their ``retain_until``, rejected ones ``retention_days`` after the
    decision, and (with ``max_age_days``) requests never closed that were received more than
    ``max_age_days`` ago.
    """
    rejected_before = datetime.combine(
        today - timedelta(days=retention_days), datetime.min.time(), tzinfo=UTC
    )
    closed = sa.or_(
        sa.and_(
            VisitRequest.status == RequestStatus.DONE,
            VisitRequest.retain_until.is_not(None),
            VisitRequest.retain_until <= today,
        ),
        sa.and_(
            VisitRequest.status == RequestStatus.REJECTED,
            VisitRequest.decided_at.is_not(None),
            VisitRequest.decided_at < rejected_before,
        ),
    )
    if max_age_days is not None:
        received_before = datetime.combine(
            today - timedelta(days=max_age_days), datetime.min.time(), tzinfo=UTC
        )
        closed = sa.or_(
            closed,
            sa.and_(
                VisitRequest.status.in_((RequestStatus.RECEIVED, RequestStatus.ACCEPTED)),
                VisitRequest.created_at < received_before,
            ),
        )
    return sa.select(VisitRequest).where(VisitRequest.purged_at.is_(None), closed)


def purge_expired_requests(
    today: date, retention_days: int, max_age_days: int | None = None
) -> int:
    """Blank the personal data of expired requests in one transaction; return how many.

    One ``visit_request.purge`` audit event per purged request: its status, why it expired
    (``closed`` or ``stale``) and how many rows of its site were cleaned; no personal data.
    """
    now = utcnow()
    count = 0
    try:
        query = expired_requests(today, retention_days, max_age_days).with_for_update()
        for req in db.session.scalars(query).all():
            status = RequestStatus(req.status)
            for name in PERSONAL_FIELDS:
                setattr(req, name, "")
            req.nik = None
            req.lat = req.lon = None
            req.purged_at = now
            site = _site_of(req)
            cleaned = _blur_site(site) if site is not None else {}
            stale = status in (RequestStatus.RECEIVED, RequestStatus.ACCEPTED)
            audit(
                "visit_request.purge",
                req,
                None,
                status=str(status.value),
                reason="stale" if stale else "closed",
                site=site is not None,
                **cleaned,
            )
            count += 1
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return count


# ---------------------------------------------------------------------------- access log


def _users(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(wanted)))}


def _kind_of(action: str) -> str:
    if action == "visit_request.view" or action in HOME_VIEW_ACTIONS:
        return "view"
    if action in ("visit_request.export", EXPORT_ACTION):
        return "export"
    if action.startswith("field."):
        return "field"
    return "change"


def _channel(action: str, details: dict[str, Any], user: User | None) -> str:
    via = details.get("via")
    if isinstance(via, str) and via:
        return via
    if user is None:
        return "public" if action == "visit_request.create" else "system"
    role = _value(user.role)
    return "field" if role == "field" else "coordinator"


def _what(action: str, details: dict[str, Any]) -> str:
    if action == EXPORT_ACTION:
        return f"export {details.get('format', '')}".strip()
    if action == "visit_request.export":
        return "export json"
    return action.split(".", 1)[-1].replace("_", " ")


def _in_chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _events_on(object_type: str, ids: Iterable[Any]) -> list[AuditEvent]:
    keys = sorted({str(i) for i in ids})
    out: list[AuditEvent] = []
    for chunk in _in_chunks(keys):
        out.extend(
            db.session.scalars(
                sa.select(AuditEvent).where(
                    AuditEvent.object_type == object_type, AuditEvent.object_id.in_(chunk)
                )
            )
        )
    return out


HOME_VIEW_ACTIONS = ("plan.view", "field.route_view", "hotspot.view")
"""Views that show a home-visit site's position or contact on a screen (review map, field
route, the site's own pages); each records the home sites it showed in ``home_hotspots``."""


def is_home_site(hotspot: Hotspot) -> bool:
    return getattr(hotspot.kind, "value", hotspot.kind) == HotspotKind.HOME.value


def audit_home_view(action: str, obj: Any, user: User | None, hotspots: Iterable[Hotspot]) -> None:
    """Audit a screen that shows home-visit sites (none: nothing to record). The caller's
    transaction commits it."""
    homes = sorted({h.id for h in hotspots if is_home_site(h)})
    if homes:
        audit(action, obj, user=user, home_hotspots=homes)


def _export_events(site_id: int, plan_ids: set[int], route_ids: set[int]) -> list[AuditEvent]:
    """Plan exports and screens that showed the site: those listing it in ``home_hotspots``,
    and older exports (recorded before that detail existed) of a plan or route that holds it."""
    out: dict[int, AuditEvent] = {}
    candidates = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action.in_((EXPORT_ACTION, *HOME_VIEW_ACTIONS)),
            sa.cast(AuditEvent.details, sa.Text).like(f"%{int(site_id)}%"),
        )
    )
    for event in candidates:
        listed = (event.details or {}).get("home_hotspots")
        if isinstance(listed, list) and site_id in listed:
            out[event.id] = event
    legacy = _events_on("plan", plan_ids) + _events_on("plannedroute", route_ids)
    for event in legacy:
        if event.action == EXPORT_ACTION and "home_hotspots" not in (event.details or {}):
            out[event.id] = event
    return list(out.values())


def who_accessed(req: VisitRequest) -> list[dict[str, Any]]:
    """Every access to the person behind ``req``, oldest first.

    Each entry: ``at`` (ISO, office time zone), ``at_text`` (``YYYY-MM-DD HH:MM:SS WIB``),
    ``user`` and ``role`` (``None`` for the public form or the system), ``action``, ``kind``
    (view, export, field, change), ``channel`` (coordinator, field, cli, public, system),
    ``what`` and ``object``. No personal data of the resident.
    """
    office = db.session.get(Office, req.office_id)
    tz = _zone(office)
    rows: list[tuple[datetime | None, int | None, str, str, dict[str, Any], int]] = []
    for event in _events_on(REQUEST_OBJECT, [req.id]):
        rows.append((event.at, event.user_id, event.action, "request", event.details or {}, 0))
    site = _site_of(req)
    if site is not None:
        stops = db.session.execute(
            sa.select(PlannedStop.id, PlannedRoute.id, PlannedRoute.plan_id)
            .join(PlannedRoute, PlannedStop.route_id == PlannedRoute.id)
            .where(PlannedStop.hotspot_id == site.id)
        ).all()
        stop_ids = {s for s, _r, _p in stops}
        route_ids = {r for _s, r, _p in stops}
        plan_ids = {p for _s, _r, p in stops}
        for event in _export_events(site.id, plan_ids, route_ids):
            label = {"plan": "plan", "plannedroute": "route", "hotspot": "site"}.get(
                event.object_type, event.object_type
            )
            obj = f"{label} {event.object_id}".strip()
            rows.append((event.at, event.user_id, event.action, obj, event.details or {}, 1))
        for event in _events_on(STOP_OBJECT, stop_ids):
            obj = f"stop {event.object_id}"
            rows.append((event.at, event.user_id, event.action, obj, event.details or {}, 2))
        # Check-ins and outcomes whose stop a re-plan removed lost their audit link: the rows
        # themselves still say who was at the house and when.
        for model, action in ((StopCheckin, "field.checkin"), (VisitOutcome, "field.outcome")):
            orphans = db.session.scalars(
                sa.select(model).where(
                    model.hotspot_id == site.id,
                    sa.or_(model.stop_id.is_(None), model.stop_id.not_in(sorted(stop_ids) or [0])),
                )
            )
            for row in orphans:
                at = getattr(row, "at", None) or row.created_at
                rows.append((at, row.recorded_by_id, action, f"site {site.id}", {}, 3))
    users = _users(r[1] for r in rows)
    out = []
    for at, user_id, action, obj, details, _order in sorted(
        rows, key=lambda r: (_aware(r[0]) or datetime.min.replace(tzinfo=UTC), r[5])
    ):
        user = users.get(user_id) if user_id is not None else None
        local = _aware(at).astimezone(tz) if at is not None else None
        out.append(
            {
                "at": local.isoformat(timespec="seconds") if local else None,
                "at_text": local.strftime("%Y-%m-%d %H:%M:%S %Z") if local else "",
                "user": user.username if user is not None else None,
                "role": str(_value(user.role)) if user is not None else None,
                "action": action,
                "kind": _kind_of(action),
                "channel": _channel(action, details, user),
                "what": _what(action, details),
                "object": obj,
            }
        )
    return out


# ---------------------------------------------------------------------------- subject access


def _request_data(req: VisitRequest, tz: ZoneInfo) -> dict[str, Any]:
    decided_by = db.session.get(User, req.decided_by_id) if req.decided_by_id else None
    return {
        "id": req.id,
        "status": str(_value(req.status)),
        "requester_name": req.requester_name,
        "requester_relation": req.requester_relation,
        "person_name": req.person_name,
        "nik": req.nik,
        "phone": req.phone,
        "address": req.address,
        "kelurahan_code": req.kelurahan_code,
        "lat": req.lat,
        "lon": req.lon,
        "persons": req.persons,
        "services": list(req.services or []),
        "reason": req.reason,
        "notes": req.notes,
        "received_at": _iso(req.created_at, tz),
        "decided_at": _iso(req.decided_at, tz),
        "decided_by": decided_by.username if decided_by is not None else None,
        "rejection_reason": req.rejection_reason or None,
        "retain_until": _day(req.retain_until),
        "personal_data_deleted_at": _iso(req.purged_at, tz),
    }


def _site_data(site: Hotspot) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "kind": str(_value(site.kind)),
        "address": site.address,
        "lat": site.lat,
        "lon": site.lon,
        "location_source": site.location_source,
        "kecamatan_code": site.kecamatan_code,
        "kecamatan_name": site.kecamatan_name,
        "kelurahan_code": site.kelurahan_code,
        "kelurahan_name": site.kelurahan_name,
        "priority": site.priority,
        "notes": site.notes,
        "status": str(_value(site.status)),
        "demand": [
            {"service": d.service, "requested": d.requested, "remaining": d.remaining}
            for d in site.demands
        ],
        "opening_hours": [
            {"weekday": o.weekday, "start_min": o.start_min, "end_min": o.end_min}
            for o in site.openings
        ],
    }


def _visits_data(site: Hotspot, tz: ZoneInfo) -> list[dict[str, Any]]:
    rows = db.session.execute(
        sa.select(PlannedStop, PlannedRoute, Plan)
        .join(PlannedRoute, PlannedStop.route_id == PlannedRoute.id)
        .join(Plan, PlannedRoute.plan_id == Plan.id)
        .where(PlannedStop.hotspot_id == site.id)
        .order_by(PlannedRoute.day, PlannedStop.id)
    ).all()
    return [
        {
            "stop_id": stop.id,
            "plan_id": plan.id,
            "plan_name": plan.name,
            "plan_status": str(_value(plan.status)),
            "day": _day(route.day),
            "team": route.team.name if route.team is not None else None,
            "arrival": _iso(stop.arrival_at, tz),
            "start": _iso(stop.start_at, tz),
            "end": _iso(stop.end_at, tz),
            "persons": dict(stop.persons or {}),
            "status": str(_value(stop.status)),
            "locked": bool(stop.locked),
        }
        for stop, route, plan in rows
    ]


def _team_names(ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(db.session.execute(sa.select(Team.id, Team.name).where(Team.id.in_(wanted))).all())


def _field_data(site: Hotspot, tz: ZoneInfo) -> tuple[list[dict], list[dict]]:
    checkins = list(
        db.session.scalars(
            sa.select(StopCheckin).where(StopCheckin.hotspot_id == site.id).order_by(StopCheckin.at)
        )
    )
    outcomes = list(
        db.session.scalars(
            sa.select(VisitOutcome)
            .where(VisitOutcome.hotspot_id == site.id)
            .order_by(VisitOutcome.day, VisitOutcome.id)
        )
    )
    teams = _team_names([r.team_id for r in checkins] + [r.team_id for r in outcomes])
    users = _users([r.recorded_by_id for r in checkins] + [r.recorded_by_id for r in outcomes])

    def who(user_id: int | None) -> str | None:
        user = users.get(user_id) if user_id is not None else None
        return user.username if user is not None else None

    return (
        [
            {
                "stop_id": r.stop_id,
                "day": _day(r.day),
                "team": teams.get(r.team_id),
                "at": _iso(r.at, tz),
                "lat": r.lat,
                "lon": r.lon,
                "accuracy_m": r.accuracy_m,
                "recorded_by": who(r.recorded_by_id),
            }
            for r in checkins
        ],
        [
            {
                "stop_id": r.stop_id,
                "day": _day(r.day),
                "team": teams.get(r.team_id),
                "result": str(_value(r.result)),
                "checked_in_at": _iso(r.checked_in_at, tz),
                "checked_out_at": _iso(r.checked_out_at, tz),
                "present": r.present,
                "recorded": dict(r.recorded or {}),
                "turned_away": r.turned_away,
                "turned_away_reasons": list(r.turned_away_reasons or []),
                "problems": list(r.problems or []),
                "notes": r.notes,
                "recorded_by": who(r.recorded_by_id),
            }
            for r in outcomes
        ],
    )


def _publications_data(site: Hotspot, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The site's entries in every published snapshot (snapshots outlive re-plans)."""
    out = []
    pubs = db.session.scalars(
        sa.select(PlanPublication)
        .join(Plan, PlanPublication.plan_id == Plan.id)
        .where(Plan.office_id == site.office_id)
        .order_by(PlanPublication.plan_id, PlanPublication.version)
    )
    for pub in pubs:
        entries = [e for e in pub.snapshot or [] if _hotspot_of(e) == site.id]
        if entries:
            out.append(
                {
                    "plan_id": pub.plan_id,
                    "version": pub.version,
                    "published_at": _iso(pub.published_at, tz),
                    "entries": entries,
                }
            )
    return out


def _public_data(site: Hotspot, tz: ZoneInfo) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        sa.select(PublicVisit).where(PublicVisit.hotspot_id == site.id).order_by(PublicVisit.day)
    )
    return [
        {
            "plan_id": r.plan_id,
            "day": _day(r.day),
            "start": _iso(r.start_at, tz),
            "end": _iso(r.end_at, tz),
            "cancelled": bool(r.cancelled),
            "kelurahan_code": r.kelurahan_code,
        }
        for r in rows
    ]


def _history_data(req: VisitRequest, tz: ZoneInfo) -> list[dict[str, Any]]:
    events = sorted(_events_on(REQUEST_OBJECT, [req.id]), key=lambda e: (_aware(e.at), e.id))
    users = _users(e.user_id for e in events)
    out = []
    for e in events:
        user = users.get(e.user_id) if e.user_id is not None else None
        out.append(
            {
                "at": _iso(e.at, tz),
                "action": e.action,
                "user": user.username if user is not None else None,
                "role": str(_value(user.role)) if user is not None else None,
                "details": dict(e.details or {}),
            }
        )
    return out


def subject_export(req: VisitRequest) -> dict[str, Any]:
    """Everything held about the requester of ``req``, as JSON-serialisable data.

    The request and its consent, its audit history, the home-visit site it became (demand,
    opening hours), the planned visits there, the field team's check-ins and outcomes, the
    published schedule entries naming the site, the public schedule rows, and the access log
    (:func:`who_accessed`). Times are ISO 8601 in the office's time zone.
    """
    office = db.session.get(Office, req.office_id)
    tz = _zone(office)
    site = _site_of(req)
    checkins: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    if site is not None:
        checkins, outcomes = _field_data(site, tz)
    return {
        "format": EXPORT_FORMAT_VERSION,
        "generated_at": _iso(utcnow(), tz),
        "controller": {"office_id": req.office_id, "name": office.name if office else None},
        "request": _request_data(req, tz),
        "consent": {"given_at": _iso(req.consent_at, tz), "notice_version": req.consent_version},
        "history": _history_data(req, tz),
        "home_visit_site": _site_data(site) if site is not None else None,
        "planned_visits": _visits_data(site, tz) if site is not None else [],
        "checkins": checkins,
        "outcomes": outcomes,
        "published_schedule": _publications_data(site, tz) if site is not None else [],
        "public_schedule": _public_data(site, tz) if site is not None else [],
        "access_log": who_accessed(req),
    }


# ---------------------------------------------------------------------------- erasure


def new_erasure_reference() -> str:
    """A random reference for one erasure (``ER-`` and 16 hex digits), never the request."""
    return "ER-" + secrets.token_hex(8).upper()


def erased_site_name() -> str:
    """The name an erased requester's home-visit site keeps (office's default language)."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "id")):
        return _("Home visit (erased)")


def _hotspot_of(entry: Any) -> int | None:
    if isinstance(entry, dict):
        value = entry.get("hotspot_id")
        return value if isinstance(value, int) else None
    return None


def _rename_entries(value: Any, site_id: int, new_name: str) -> Any:
    """Snapshot/changes data with ``hotspot_name`` of the site's entries replaced."""
    if isinstance(value, list):
        return [_rename_entries(v, site_id, new_name) for v in value]
    if isinstance(value, dict):
        out = {k: _rename_entries(v, site_id, new_name) for k, v in value.items()}
        if _hotspot_of(value) == site_id and "hotspot_name" in out:
            out["hotspot_name"] = new_name
        return out
    return value


def _names_in(value: Any, site_id: int) -> set[str]:
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= _names_in(v, site_id)
    elif isinstance(value, dict):
        if _hotspot_of(value) == site_id and isinstance(value.get("hotspot_name"), str):
            found.add(value["hotspot_name"])
        for v in value.values():
            found |= _names_in(v, site_id)
    return found


def _replace_text(value: Any, pattern: re.Pattern[str], new: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(new, value)
    if isinstance(value, list):
        return [_replace_text(v, pattern, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_text(v, pattern, new) for k, v in value.items()}
    return value


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _scrub_numbered_names(names: set[str], request_id: int, new_name: str) -> int:
    """Replace, in every text and JSON column of every table, the site names that carry the
    request's number (``Kunjungan rumah #12``: plan violations, unserved reasons, job
    messages, ...) by ``new_name``. Returns the number of rows changed.

    Only names with ``#<number>`` are replaced everywhere: a name a coordinator typed by hand
    could be an ordinary word. ``#12`` never matches ``#123``.
    """
    numbered = sorted(n for n in names if re.search(rf"#{request_id}(?!\d)", n))
    if not numbered:
        return 0
    pattern = re.compile("|".join(rf"{re.escape(n)}(?!\d)" for n in numbered))
    changed = 0
    for table in db.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            continue
        for column in table.columns:
            if column.primary_key or not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                continue
            text = sa.cast(column, sa.Text)
            found = db.session.execute(
                sa.select(pk[0], column).where(
                    sa.or_(*(text.like(f"%{_like_escape(n)}%", escape="\\") for n in numbered))
                )
            ).all()
            for key, value in found:
                new_value = _replace_text(value, pattern, new_name)
                if new_value != value:
                    db.session.execute(
                        sa.update(table).where(pk[0] == key).values({column.name: new_value})
                    )
                    changed += 1
    return changed


def erase_subject(req: VisitRequest, user: User | None, *, via: str = "coordinator") -> str:
    """Delete the requester's data and everything derived from it, in one transaction.

    * the request row goes (names, phone, NIK, address, notes, coordinates, the status code's
      hash);
    * its home-visit site stays for past plans and statistics, anonymised: named
      "Kunjungan rumah (dihapus)", no address, notes or contact, position rounded to about
      1 km, archived; the check-ins' GPS fixes and the outcomes' notes there are dropped and
      the coordinates in the site's audit events rounded;
    * published snapshots (and their change lists) rename the site's entries; other copies of
      its numbered name (violations, unserved reasons) are replaced;
    * audit events about the request keep action, time and user but name the erasure reference
      instead of the request (``object_type`` ``erased_subject``);
    * one ``subject.erase`` event records the reference and row counts: no personal data, no
      request id.

    Returns the erasure reference. Rolls back and re-raises on any error.
    """
    reference = new_erasure_reference()
    request_id = req.id
    office_id = req.office_id
    try:
        site = _site_of(req)
        counts: dict[str, int] = {"request": 1}
        if site is not None and _value(site.kind) == HotspotKind.HOME.value:
            new_name = erased_site_name()
            names = {site.name}
            pubs = db.session.scalars(
                sa.select(PlanPublication)
                .join(Plan, PlanPublication.plan_id == Plan.id)
                .where(Plan.office_id == site.office_id)
            ).all()
            renamed = 0
            for pub in pubs:
                old = (pub.snapshot, pub.changes)
                names |= _names_in(pub.snapshot, site.id) | _names_in(pub.changes, site.id)
                snapshot = _rename_entries(pub.snapshot or [], site.id, new_name)
                changes = _rename_entries(pub.changes or {}, site.id, new_name)
                if (snapshot, changes) != old:
                    pub.snapshot, pub.changes = snapshot, changes
                    renamed += 1
            counts.update(_blur_site(site))
            site.name = new_name
            site.external_code = None
            for event in db.session.scalars(
                sa.select(AuditEvent).where(
                    AuditEvent.object_type == HOTSPOT_OBJECT,
                    AuditEvent.object_id == str(site.id),
                )
            ):
                if isinstance(event.details, dict) and "name" in event.details:
                    event.details = {**event.details, "name": new_name}
            counts["publications"] = renamed
            db.session.flush()
            counts["texts"] = _scrub_numbered_names(names, request_id, new_name)
        # Pseudonymise the trail: the events stay (who saw what, when), the request does not.
        events = db.session.execute(
            sa.update(AuditEvent)
            .where(
                AuditEvent.object_type == REQUEST_OBJECT,
                AuditEvent.object_id == str(request_id),
            )
            .values(object_type=ERASED_OBJECT, object_id=reference)
            .execution_options(synchronize_session=False)
        ).rowcount
        counts["request_events"] = int(events or 0)
        db.session.delete(req)
        db.session.flush()
        event = audit("subject.erase", None, user, via=via, office_id=office_id, rows=counts)
        event.object_type, event.object_id = ERASED_OBJECT, reference
        event.details = {**event.details, "reference": reference}
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    db.session.expire_all()
    return reference


def find_request(request_id: int | None = None, code: str | None = None) -> VisitRequest | None:
    """The request by id or by the resident's status code (``None`` when there is none).

    Raises ``ValueError`` for a text that cannot be a status code.
    """
    if code is not None:
        from .public.requests import status_code_hash

        digest = status_code_hash(code)
        return db.session.scalar(sa.select(VisitRequest).where(VisitRequest.token_hash == digest))
    if request_id is None or not 0 < request_id < 2**31:
        return None
    return db.session.get(VisitRequest, request_id)
