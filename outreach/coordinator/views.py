"""Coordinator dashboard: what is left to do per kecamatan, and where; today's field progress."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import jsonify, render_template, request
from flask_babel import gettext as _

from .. import maps, roles
from ..errors import error_response
from ..extensions import db
from ..labels import PROBLEM_LABELS, SERVICE_LABELS, SERVICE_SHORT_LABELS
from ..models import Hotspot, HotspotDemand, HotspotKind, HotspotStatus, Office, Service, Team
from . import bp, progress

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


@dataclass(slots=True)
class MapSite:
    """An open site as the dashboard's map shows it: the columns and demands (service,
    remaining, requested) that :func:`outreach.maps.hotspot_map` and
    :func:`~outreach.maps.hotspot_map_key` read, without building ORM rows."""

    id: int
    name: str
    kind: HotspotKind
    lat: float | None
    lon: float | None
    kecamatan_code: str
    kecamatan_name: str
    kelurahan_code: str
    kelurahan_name: str
    priority: int
    demands: list[Any] = field(default_factory=list)

    @property
    def remaining_total(self) -> int:
        return sum(d.remaining for d in self.demands)


def current_office() -> Office | None:
    """The dashboard's office: the user's own (403 for a coordinator without one); an admin
    without an office sees the first office, or ``None`` while no office exists."""
    return roles.user_office(admin_first=True)


def live_progress(office: Office) -> dict:
    """Today's field progress as plain data with labels in the request's language."""
    from .plan_review import day_label, office_tz

    data = progress.progress_to_dict(progress.office_progress(office), office_tz(office))
    data["date_label"] = day_label(progress.office_today(office))
    data["totals"]["services"] = [
        {"code": k, "label": str(SERVICE_LABELS.get(k, k)), "persons": n}
        for k, n in data["totals"]["persons"].items()
    ]
    for row in data["not_served"]:
        row["problem_labels"] = [str(PROBLEM_LABELS.get(p, p)) for p in row["problems"]]
        row["day_label"] = day_label(date.fromisoformat(row["day"]))
    return data


def remaining_by_kecamatan(sites: Iterable[MapSite]) -> list[KecamatanRow]:
    """Sum remaining residents per kecamatan and service over the open sites (the map's rows,
    :func:`map_sites`: no query of their own), most remaining first."""
    rows: dict[str, KecamatanRow] = {}
    for site in sites:
        code = site.kecamatan_code
        row = rows.get(code)
        if row is None:
            row = rows[code] = KecamatanRow(code, site.kecamatan_name or code or "–")
        row.sites += 1
        for demand in site.demands:
            row.remaining[demand.service] = row.remaining.get(demand.service, 0) + int(
                demand.remaining or 0
            )
            row.requested += int(demand.requested or 0)
    return sorted(rows.values(), key=lambda r: (-r.total, r.name))


def map_sites(office_id: int) -> list[MapSite]:
    """The office's open sites with their demands (by service), by id: two column queries."""
    open_site = sa.and_(Hotspot.office_id == office_id, Hotspot.status.in_(OPEN_STATUSES))
    sites = {
        row.id: MapSite(*row)
        for row in db.session.execute(
            sa.select(
                Hotspot.id,
                Hotspot.name,
                Hotspot.kind,
                Hotspot.lat,
                Hotspot.lon,
                Hotspot.kecamatan_code,
                Hotspot.kecamatan_name,
                Hotspot.kelurahan_code,
                Hotspot.kelurahan_name,
                Hotspot.priority,
            )
            .where(open_site)
            .order_by(Hotspot.id)
        )
    }
    demands = db.session.execute(
        sa.select(
            HotspotDemand.hotspot_id,
            HotspotDemand.service,
            HotspotDemand.remaining,
            HotspotDemand.requested,
        )
        .join(HotspotDemand.hotspot)
        .where(open_site)
        .order_by(HotspotDemand.hotspot_id, HotspotDemand.service)  # Hotspot.demands' order
    )
    for demand in demands:
        sites[demand.hotspot_id].demands.append(demand)
    return list(sites.values())


@bp.get("/")
def dashboard():
    """Show remaining residents per kecamatan and the hotspot map."""
    office = current_office()
    if office is None:
        return render_template("coordinator/dashboard.html", office=None)
    color_by = request.args.get("color", "kind")
    if color_by not in ("kind", "priority"):
        color_by = "kind"

    hotspots = map_sites(office.id)
    rows = remaining_by_kecamatan(hotspots)
    totals = {s: sum(r.remaining.get(s, 0) for r in rows) for s in SERVICES}
    services = [s for s in SERVICES if any(s in r.remaining for r in rows)]
    needs_location = sum(1 for h in hotspots if h.lat is None)
    teams_active = db.session.scalar(
        sa.select(sa.func.count(Team.id)).where(Team.office_id == office.id, Team.active)
    )
    # Rendered once per distinct map (the key holds every value it shows), not per visit.
    site_map = maps.render_map_cached(
        maps.hotspot_map_key(hotspots, office, color_by=color_by),
        lambda: maps.hotspot_map(hotspots, office, color_by=color_by),
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
        live=live_progress(office),
    )


@bp.get("/progress.json")
def progress_json():
    """Return today's field progress of the user's office for the dashboard's refresh."""
    office = current_office()
    if office is None:
        return error_response(404, "no_office", _("Your account belongs to no office."))
    response = jsonify(live_progress(office))
    response.headers["Cache-Control"] = "no-store"
    return response
