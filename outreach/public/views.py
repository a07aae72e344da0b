"""Public home page: where and when the service comes next. Never shows a person.

Only aggregates leave the database here: for sites of kind "home" not even the name is
selected, only a count per kelurahan and day. Addresses, notes and visit requests are never read.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l

from ..demo import NATIONAL_COMPLAINT_CHANNELS
from ..extensions import db
from ..labels import kind_label
from ..models import (
    Hotspot,
    HotspotKind,
    Office,
    Plan,
    PlannedRoute,
    PlannedStop,
    PlanStatus,
    StopStatus,
)
from ..navigation import install as install_layout_helpers
from ..roles import public_view
from . import bp

bp.record_once(lambda state: install_layout_helpers(state.app))

HORIZON_DAYS = 31

# How each complaint channel is shown and linked; unknown keys (an office's own) show as text.
CHANNEL_LABELS = {
    "call_centre": _l("Call centre"),
    "whatsapp": _l("WhatsApp"),
    "sms": _l("SMS"),
    "email": _l("Email"),
    "facebook": _l("Facebook"),
    "x": _l("X (Twitter)"),
    "lapor": _l("SP4N-LAPOR!"),
}


def _channel_href(key: str, value: str) -> str | None:
    digits = "".join(c for c in value if c.isdigit())
    if key == "call_centre" and digits:
        return f"tel:{digits}"
    if key == "sms" and digits:
        return f"sms:{digits}"
    if key == "whatsapp" and digits:
        international = "62" + digits[1:] if digits.startswith("0") else digits
        return f"https://wa.me/{international}"
    if key == "email" and "@" in value and " " not in value:
        return f"mailto:{value}"
    if value.startswith("https://"):
        return value
    return None


@dataclass
class Site:
    """A public site on one day: name, kind and the time window in local time."""

    name: str
    kind: str
    start: str
    end: str


@dataclass
class KelurahanDay:
    """What happens in one kelurahan on one day."""

    code: str
    name: str
    kecamatan: str
    sites: dict[int, Site] = field(default_factory=dict)
    home_visits: set[int] = field(default_factory=set)


def _local(dt: datetime, tz: ZoneInfo) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they are UTC.
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(tz)


def upcoming_service_days(
    today: date, tz: ZoneInfo, kecamatan_code: str | None = None
) -> OrderedDict[date, list[KelurahanDay]]:
    """Group the published, not cancelled stops from ``today`` on by day and kelurahan."""
    is_home = Hotspot.kind == HotspotKind.HOME
    query = (
        sa.select(
            PlannedRoute.day,
            Hotspot.id,
            Hotspot.kind,
            # Never select a home visit's name: it may name a person or a house.
            sa.case((is_home, sa.null()), else_=Hotspot.name),
            Hotspot.kecamatan_name,
            Hotspot.kelurahan_code,
            Hotspot.kelurahan_name,
            PlannedStop.start_at,
            PlannedStop.end_at,
        )
        .select_from(PlannedStop)
        .join(PlannedStop.route)
        .join(PlannedRoute.plan)
        .join(PlannedStop.hotspot)
        .where(
            Plan.status == PlanStatus.PUBLISHED,
            PlannedStop.status != StopStatus.CANCELLED,
            PlannedRoute.day >= today,
            PlannedRoute.day < today + timedelta(days=HORIZON_DAYS),
        )
        .order_by(
            PlannedRoute.day, Hotspot.kecamatan_name, Hotspot.kelurahan_name, PlannedStop.start_at
        )
    )
    if kecamatan_code:
        query = query.where(Hotspot.kecamatan_code == kecamatan_code)
    days: OrderedDict[date, dict[str, KelurahanDay]] = OrderedDict()
    for day, hid, kind, name, kec, kel_code, kel_name, start, end in db.session.execute(query):
        kel = days.setdefault(day, {}).setdefault(
            kel_code, KelurahanDay(kel_code, kel_name or kel_code, kec or "")
        )
        if kind == HotspotKind.HOME:
            kel.home_visits.add(hid)
            continue
        start_s = _local(start, tz).strftime("%H:%M")
        end_s = _local(end, tz).strftime("%H:%M")
        site = kel.sites.get(hid)
        if site is None:
            kel.sites[hid] = Site(name, kind_label(kind), start_s, end_s)
        else:  # a large site split over several visits that day: show the whole span
            site.start, site.end = min(site.start, start_s), max(site.end, end_s)
    return OrderedDict((d, list(kels.values())) for d, kels in days.items())


@bp.get("/")
@public_view
def home():
    """Show where and when the service comes next."""
    office = db.session.scalar(sa.select(Office).order_by(Office.id).limit(1))
    tz = ZoneInfo(office.timezone if office else current_app.config["BABEL_DEFAULT_TIMEZONE"])
    today = datetime.now(tz).date()
    kecamatan_code = request.args.get("kecamatan", "")[:20] or None

    kecamatan = db.session.execute(
        sa.select(Hotspot.kecamatan_code, Hotspot.kecamatan_name)
        .where(Hotspot.kecamatan_code != "")
        .distinct()
        .order_by(Hotspot.kecamatan_name)
    ).all()
    channels = dict(NATIONAL_COMPLAINT_CHANNELS)
    if office is not None and office.complaint_channels:
        channels.update({str(k): str(v) for k, v in office.complaint_channels.items()})
    channel_rows = [
        {"label": CHANNEL_LABELS.get(k, k), "value": v, "href": _channel_href(k, v)}
        for k, v in channels.items()
    ]
    return render_template(
        "public/home.html",
        office=office,
        days=upcoming_service_days(today, tz, kecamatan_code),
        today=today,
        kecamatan=kecamatan,
        kecamatan_code=kecamatan_code,
        channels=channel_rows,
        horizon_days=HORIZON_DAYS,
    )
