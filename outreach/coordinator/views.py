"""Coordinator dashboard: what is left to do per kecamatan, and where."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from .. import maps
from ..extensions import db
from ..labels import SERVICE_LABELS, SERVICE_SHORT_LABELS
from ..models import Hotspot, HotspotDemand, HotspotStatus, Office, Service, Team
from . import bp

# Sites that still count: planned work or waiting for a pin.
OPEN_STATUSES = (HotspotStatus.ACTIVE, HotspotStatus.NEEDS_LOCATION)
SERVICES = tuple(s.value for s in Service)


@dataclass
class KecamatanRow:
    """Remaining and requested residents of one kecamatan."""

    code: str
    name: str
    sites: int = 0
    remaining: dict[str, int] = field(default_factory=dict)
    requested: int = 0

    @property
    def total(self) -> int:
        return sum(self.remaining.values())


def current_office() -> Office | None:
    """Return the signed-in user's office, or the first office for an admin without one."""
    if current_user.office_id is not None:
        return db.session.get(Office, current_user.office_id)
    return db.session.scalar(sa.select(Office).order_by(Office.id).limit(1))


def remaining_by_kecamatan(office_id: int) -> list[KecamatanRow]:
    """Sum remaining residents per kecamatan and service over open sites, most remaining first."""
    open_site = sa.and_(Hotspot.office_id == office_id, Hotspot.status.in_(OPEN_STATUSES))
    rows: dict[str, KecamatanRow] = {}
    sites = db.session.execute(
        sa.select(Hotspot.kecamatan_code, Hotspot.kecamatan_name, sa.func.count(Hotspot.id))
        .where(open_site)
        .group_by(Hotspot.kecamatan_code, Hotspot.kecamatan_name)
    )
    for code, name, count in sites:
        row = rows.setdefault(code, KecamatanRow(code, name or code or "–"))
        row.sites += count
    demand = db.session.execute(
        sa.select(
            Hotspot.kecamatan_code,
            HotspotDemand.service,
            sa.func.sum(HotspotDemand.remaining),
            sa.func.sum(HotspotDemand.requested),
        )
        .join(HotspotDemand.hotspot)
        .where(open_site)
        .group_by(Hotspot.kecamatan_code, HotspotDemand.service)
    )
    for code, service, remaining, requested in demand:
        row = rows.setdefault(code, KecamatanRow(code, code or "–"))
        row.remaining[service] = row.remaining.get(service, 0) + int(remaining or 0)
        row.requested += int(requested or 0)
    return sorted(rows.values(), key=lambda r: (-r.total, r.name))


@bp.get("/")
def dashboard():
    """Show remaining residents per kecamatan and the hotspot map."""
    office = current_office()
    if office is None:
        return render_template("coordinator/dashboard.html", office=None)
    color_by = request.args.get("color", "kind")
    if color_by not in ("kind", "priority"):
        color_by = "kind"

    rows = remaining_by_kecamatan(office.id)
    totals = {s: sum(r.remaining.get(s, 0) for r in rows) for s in SERVICES}
    services = [s for s in SERVICES if any(s in r.remaining for r in rows)]
    hotspots = db.session.scalars(
        sa.select(Hotspot)
        .where(Hotspot.office_id == office.id, Hotspot.status.in_(OPEN_STATUSES))
        .options(selectinload(Hotspot.demands))
        .order_by(Hotspot.id)
    ).all()
    needs_location = sum(1 for h in hotspots if h.lat is None)
    teams_active = db.session.scalar(
        sa.select(sa.func.count(Team.id)).where(Team.office_id == office.id, Team.active)
    )
    site_map = maps.render_map(
        maps.hotspot_map(hotspots, office, color_by=color_by),
        height="520px",
        label=_("Map of sites"),
    )
    return render_template(
        "coordinator/dashboard.html",
        office=office,
        rows=rows,
        services=services,
        service_labels=SERVICE_LABELS,
        service_short_labels=SERVICE_SHORT_LABELS,
        totals=totals,
        total_remaining=sum(totals.values()),
        total_requested=sum(r.requested for r in rows),
        site_count=len(hotspots),
        needs_location=needs_location,
        teams_active=teams_active,
        site_map=site_map,
        color_by=color_by,
    )
