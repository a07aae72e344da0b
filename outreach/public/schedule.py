"""What residents are told: the public schedule, written when a plan is published.

:func:`sync_publication` turns a publication's snapshot into :class:`PublicVisit` rows (one per
site and day) inside the publishing transaction. Nothing else writes them, so a published plan
that is being edited (a draft of its next version) keeps showing its last published version:
edits never open a gap for residents.

The rest of this module reads those rows for the public pages. Only public facts are copied
onto them; for home visits not even those: a home visit is a kelurahan and a day, nothing more.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort

from ..extensions import db
from ..models import (
    Hotspot,
    HotspotKind,
    Office,
    Plan,
    PlanStatus,
    PublicVisit,
    Service,
    utcnow,
)
from ..plans.adapter import aware, office_zone

HORIZON_DAYS = 31
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


# ------------------------------------------------------------------------------ offices


def slugify(name: str) -> str:
    """``"Dinas Dukcapil Kota Medan"`` → ``"dinas-dukcapil-kota-medan"`` (ASCII, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-")
    return slug or "kantor"


def office_key(office: Office) -> str:
    """The office's part of public URLs: its slug, or its id before it has one."""
    return office.slug or str(office.id)


def resolve_office(key: str) -> Office:
    """The office a public URL names (by slug, or by id), or 404."""
    key = (key or "")[:80]
    office = None
    if SLUG_RE.match(key) and not key.isdigit():
        office = db.session.scalar(sa.select(Office).where(Office.slug == key))
    elif key.isdigit() and len(key) < 10:
        office = db.session.get(Office, int(key))
    if office is None:
        abort(404)
    return office


def public_offices() -> list[Office]:
    """Every office, by name: a province lists each of its kabupaten/kota offices."""
    return list(db.session.scalars(sa.select(Office).order_by(Office.name, Office.id)))


def office_today(office: Office, now: datetime | None = None) -> date:
    tz = office_zone(office)
    return (now or utcnow()).astimezone(tz).date()


# ------------------------------------------------------------------------------ writing


def _parse(value: str | None) -> datetime | None:
    # Stored in UTC: SQLite keeps no offset and would silently read a +07:00 time as UTC.
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


@dataclass
class _Group:
    hotspot_id: int
    day: date
    start: datetime
    end: datetime
    services: set[str] = field(default_factory=set)
    teams: set[int] = field(default_factory=set)


def _groups(snapshot: Iterable[dict[str, Any]]) -> dict[tuple[int, date], _Group]:
    out: dict[tuple[int, date], _Group] = {}
    for row in snapshot:
        start, end = _parse(row.get("start")), _parse(row.get("end"))
        if start is None or end is None:
            continue
        key = (int(row["hotspot_id"]), date.fromisoformat(row["day"]))
        g = out.get(key)
        if g is None:
            g = out[key] = _Group(key[0], key[1], start, end)
        else:  # a split site: several visits of one site on one day are one public visit
            g.start, g.end = min(g.start, start), max(g.end, end)
        g.services.update(k for k, v in (row.get("persons") or {}).items() if int(v or 0) > 0)
        g.teams.add(int(row["team_id"]))
    return out


def _copy_public_facts(visit: PublicVisit, hotspot: Hotspot) -> None:
    """Copy what residents may see of the site; a home visit keeps only its area."""
    visit.is_home = hotspot.kind == HotspotKind.HOME
    visit.kecamatan_code = hotspot.kecamatan_code or ""
    visit.kecamatan_name = hotspot.kecamatan_name or ""
    visit.kelurahan_code = hotspot.kelurahan_code or ""
    visit.kelurahan_name = hotspot.kelurahan_name or ""
    if visit.is_home:
        visit.name, visit.kind, visit.address, visit.lat, visit.lon = "", "home", "", None, None
    else:
        visit.name = hotspot.name
        visit.kind = str(getattr(hotspot.kind, "value", hotspot.kind))
        visit.address = hotspot.address or ""
        visit.lat, visit.lon = hotspot.lat, hotspot.lon


def _previous(visit: PublicVisit, tz: ZoneInfo) -> dict[str, str]:
    return {
        "day": visit.day.isoformat(),
        "start": aware(visit.start_at).astimezone(tz).isoformat(),
        "end": aware(visit.end_at).astimezone(tz).isoformat(),
    }


def sync_publication(
    plan: Plan,
    snapshot: Sequence[dict[str, Any]],
    *,
    message: str = "",
    now: datetime | None = None,
) -> dict[str, int]:
    """Bring the plan's public visits in line with a new publication (caller commits).

    * a site-day in the snapshot is created, or updated (re-timed: the old times become the
      change notice);
    * a site-day no longer in the snapshot is kept as *cancelled*, pointing at the site's new
      day when it got one (*moved*);
    * visits of the office's other published plans on a (team, day) this plan now covers are
      *replaced*: cancelled, since the newer publication is what the teams follow.

    Returns counts of what happened, for the audit record.
    """
    now = now or utcnow()
    office = db.session.get(Office, plan.office_id)
    tz = office_zone(office)
    message = (message or "").strip()[:300]
    version = plan.published_version
    groups = _groups(snapshot)
    hotspots = {
        h.id: h
        for h in db.session.scalars(
            sa.select(Hotspot).where(Hotspot.id.in_({hid for hid, _ in groups}))
        )
    }
    existing = {
        (v.hotspot_id, v.day): v
        for v in db.session.scalars(sa.select(PublicVisit).where(PublicVisit.plan_id == plan.id))
    }
    counts = {"added": 0, "retimed": 0, "cancelled": 0, "moved": 0, "replaced": 0, "restored": 0}

    def note(visit: PublicVisit, kind: str, previous: dict[str, str] | None = None) -> None:
        visit.change = {"kind": kind, "at": now.isoformat(), "version": version}
        if previous:
            visit.change["previous"] = previous
        if message:
            visit.change["message"] = message
        visit.sequence = (visit.sequence or 0) + 1
        visit.published_version = version
        counts[kind] += 1

    new_by_hotspot: dict[int, list[PublicVisit]] = {}
    for key, g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        hotspot = hotspots.get(g.hotspot_id)
        if hotspot is None:
            continue
        visit = existing.get(key)
        created = visit is None
        if created:
            visit = PublicVisit(
                office_id=plan.office_id,
                plan_id=plan.id,
                hotspot_id=g.hotspot_id,
                day=g.day,
                change={},
                sequence=0,
                published_version=version,
            )
            db.session.add(visit)
            counts["added"] += 1
            new_by_hotspot.setdefault(g.hotspot_id, []).append(visit)
        previous = None if created else _previous(visit, tz)
        was_cancelled = not created and visit.cancelled
        retimed = not created and (aware(visit.start_at) != g.start or aware(visit.end_at) != g.end)
        visit.start_at, visit.end_at = g.start, g.end
        visit.services = sorted(g.services)
        visit.team_ids = sorted(g.teams)
        visit.cancelled = False
        visit.moved_to_id = None
        _copy_public_facts(visit, hotspot)
        if was_cancelled:
            note(visit, "restored", previous)
        elif retimed:
            note(visit, "retimed", previous)
        else:
            visit.published_version = version
    db.session.flush()

    for key, visit in existing.items():
        if key in groups or visit.cancelled:
            continue
        visit.cancelled = True
        successors = sorted(
            (v for v in new_by_hotspot.get(visit.hotspot_id, []) if v.day >= visit.day),
            key=lambda v: v.day,
        ) or new_by_hotspot.get(visit.hotspot_id, [])
        if successors:
            visit.moved_to_id = successors[0].id
            note(visit, "moved", _previous(visit, tz))
        else:
            note(visit, "cancelled", _previous(visit, tz))

    # A newer publication of another plan on the same team-days replaces the older visits.
    covered = {(int(r["team_id"]), date.fromisoformat(r["day"])) for r in snapshot}
    if covered:
        live: dict[int, list[PublicVisit]] = {}
        for v in db.session.scalars(
            sa.select(PublicVisit)
            .where(PublicVisit.plan_id == plan.id, PublicVisit.cancelled.is_(False))
            .order_by(PublicVisit.day)
        ):
            live.setdefault(v.hotspot_id, []).append(v)
        others = db.session.scalars(
            sa.select(PublicVisit).where(
                PublicVisit.office_id == plan.office_id,
                PublicVisit.plan_id != plan.id,
                PublicVisit.cancelled.is_(False),
                PublicVisit.day.in_({d for _, d in covered}),
            )
        )
        for visit in others:
            if not any((t, visit.day) in covered for t in visit.team_ids or []):
                continue
            visit.cancelled = True
            successors = live.get(visit.hotspot_id, [])
            later = [v for v in successors if v.day >= visit.day]
            if later or successors:
                visit.moved_to_id = (later or successors)[0].id
            note(visit, "replaced", _previous(visit, tz))
    return counts


def rebuild_from_publications() -> int:
    """Write public visits for published plans that have none yet (plans published before
    this table existed). Idempotent; returns the number of plans filled."""
    filled = 0
    plans = db.session.scalars(
        sa.select(Plan).where(Plan.published_version > 0).order_by(Plan.published_at, Plan.id)
    )
    for plan in plans:
        has_rows = db.session.scalar(
            sa.select(sa.func.count(PublicVisit.id)).where(PublicVisit.plan_id == plan.id)
        )
        if has_rows or not plan.publications:
            continue
        sync_publication(plan, plan.publications[-1].snapshot, now=plan.published_at)
        filled += 1
    db.session.commit()  # also ends the read transaction (SQLite holds its write lock)
    return filled


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class ScheduleFilter:
    """What a resident narrowed the schedule to (all optional)."""

    kecamatan: str = ""
    kelurahan: str = ""
    service: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args: Any) -> ScheduleFilter:
        service = (args.get("service") or "")[:20]
        return cls(
            kecamatan=(args.get("kecamatan") or "")[:20],
            kelurahan=(args.get("kelurahan") or "")[:20],
            service=service if service in {s.value for s in Service} else "",
            q=" ".join((args.get("q") or "").split())[:80],
        )

    @property
    def active(self) -> bool:
        return bool(self.kecamatan or self.kelurahan or self.service or self.q)


@dataclass
class HomeVisits:
    """Home visits in one kelurahan on one day: a count, never a place."""

    day: date
    kelurahan_code: str
    kelurahan_name: str
    kecamatan_name: str
    count: int


@dataclass
class ScheduleDay:
    day: date
    visits: list[PublicVisit] = field(default_factory=list)
    home: list[HomeVisits] = field(default_factory=list)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def upcoming_visits(
    office: Office,
    today: date,
    flt: ScheduleFilter = ScheduleFilter(),
    *,
    horizon_days: int = HORIZON_DAYS,
    include_home: bool = True,
) -> list[PublicVisit]:
    """Public visits of ``office`` from ``today`` on, by day, kecamatan, kelurahan, time."""
    q = sa.select(PublicVisit).where(
        PublicVisit.office_id == office.id,
        PublicVisit.day >= today,
        PublicVisit.day < today + timedelta(days=horizon_days),
    )
    if not include_home:
        q = q.where(PublicVisit.is_home.is_(False))
    if flt.kecamatan:
        q = q.where(PublicVisit.kecamatan_code == flt.kecamatan)
    if flt.kelurahan:
        q = q.where(PublicVisit.kelurahan_code == flt.kelurahan)
    if flt.q:
        pattern = f"%{_escape_like(flt.q.lower())}%"
        q = q.where(
            sa.or_(
                sa.func.lower(PublicVisit.name).like(pattern, escape="\\"),
                sa.func.lower(PublicVisit.address).like(pattern, escape="\\"),
                sa.func.lower(PublicVisit.kelurahan_name).like(pattern, escape="\\"),
                sa.func.lower(PublicVisit.kecamatan_name).like(pattern, escape="\\"),
            )
        )
    q = q.order_by(
        PublicVisit.day,
        PublicVisit.kecamatan_name,
        PublicVisit.kelurahan_name,
        PublicVisit.start_at,
        PublicVisit.id,
    )
    rows = list(db.session.scalars(q))
    if flt.service:
        rows = [v for v in rows if flt.service in (v.services or [])]
    return rows


def day_window(
    office: Office,
    start: date,
    flt: ScheduleFilter = ScheduleFilter(),
    *,
    max_days: int,
    max_visits: int,
) -> int:
    """How many days from ``start`` one page shows: whole days, at most ``max_days``, and no
    more than ``max_visits`` site visits unless the first day alone has more. Keeps a page
    light for a province-size office as much as for a small one."""
    q = (
        sa.select(PublicVisit.day, sa.func.count(PublicVisit.id))
        .where(
            PublicVisit.office_id == office.id,
            PublicVisit.day >= start,
            PublicVisit.day < start + timedelta(days=max_days),
            PublicVisit.is_home.is_(False),
        )
        .group_by(PublicVisit.day)
        .order_by(PublicVisit.day)
    )
    if flt.kecamatan:
        q = q.where(PublicVisit.kecamatan_code == flt.kecamatan)
    if flt.kelurahan:
        q = q.where(PublicVisit.kelurahan_code == flt.kelurahan)
    total = 0
    for day, count in db.session.execute(q):
        if total and total + count > max_visits:
            return (day - start).days
        total += count
    return max_days


def _visible(visits: Iterable[PublicVisit]) -> list[PublicVisit]:
    """Drop the cancelled row of a site-day another plan now serves (one line per site-day)."""
    live = {(v.hotspot_id, v.day) for v in visits if not v.cancelled}
    return [v for v in visits if not (v.cancelled and (v.hotspot_id, v.day) in live)]


def schedule_days(visits: Iterable[PublicVisit]) -> list[ScheduleDay]:
    """Group visits by day; home visits become counts per kelurahan."""
    days: OrderedDict[date, ScheduleDay] = OrderedDict()
    homes: dict[tuple[date, str], HomeVisits] = {}
    for v in _visible(list(visits)):
        day = days.setdefault(v.day, ScheduleDay(v.day))
        if v.is_home:
            if v.cancelled:
                continue
            key = (v.day, v.kelurahan_code)
            h = homes.get(key)
            if h is None:
                h = homes[key] = HomeVisits(
                    v.day, v.kelurahan_code, v.kelurahan_name, v.kecamatan_name, 0
                )
                day.home.append(h)
            h.count += 1
        else:
            day.visits.append(v)
    return [d for d in days.values() if d.visits or d.home]


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    parent: str = ""
    lat: float | None = None
    lon: float | None = None


def office_areas(office: Office) -> tuple[list[Area], list[Area]]:
    """The office's kecamatan and kelurahan (from its sites), with rough centres for "near"."""
    rows = db.session.execute(
        sa.select(
            Hotspot.kecamatan_code,
            Hotspot.kecamatan_name,
            Hotspot.kelurahan_code,
            Hotspot.kelurahan_name,
            sa.func.avg(Hotspot.lat),
            sa.func.avg(Hotspot.lon),
        )
        .where(Hotspot.office_id == office.id, Hotspot.kelurahan_code != "")
        .group_by(
            Hotspot.kecamatan_code,
            Hotspot.kecamatan_name,
            Hotspot.kelurahan_code,
            Hotspot.kelurahan_name,
        )
    ).all()
    kec: dict[str, Area] = {}
    kel: dict[str, Area] = {}
    for kec_code, kec_name, kel_code, kel_name, lat, lon in rows:
        if kec_code and kec_code not in kec:
            kec[kec_code] = Area(kec_code, kec_name or kec_code)
        if kel_code not in kel:
            kel[kel_code] = Area(kel_code, kel_name or kel_code, kec_name or "", lat, lon)
    return (
        sorted(kec.values(), key=lambda a: a.name.casefold()),
        sorted(kel.values(), key=lambda a: (a.name.casefold(), a.parent.casefold())),
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def nearest_first(
    visits: Iterable[PublicVisit], lat: float, lon: float
) -> list[tuple[PublicVisit, float]]:
    """Live visits with a location, nearest first (then soonest)."""
    out = [
        (v, distance_km(lat, lon, v.lat, v.lon))
        for v in _visible(list(visits))
        if not v.cancelled and not v.is_home and v.lat is not None and v.lon is not None
    ]
    out.sort(key=lambda t: (round(t[1], 1), t[0].day, t[0].start_at))
    return out


def public_visit(visit_id: int) -> PublicVisit:
    """A public visit by id, or 404. Home visits have no page."""
    visit = db.session.get(PublicVisit, visit_id) if 0 < visit_id < 2**31 else None
    if visit is None or visit.is_home:
        abort(404)
    return visit


def kelurahan_visits(office: Office, kelurahan_code: str, since: date) -> list[PublicVisit]:
    """Every public site visit in one kelurahan from ``since`` on (cancelled ones included)."""
    return _visible(
        list(
            db.session.scalars(
                sa.select(PublicVisit)
                .where(
                    PublicVisit.office_id == office.id,
                    PublicVisit.kelurahan_code == kelurahan_code,
                    PublicVisit.day >= since,
                    PublicVisit.is_home.is_(False),
                )
                .order_by(PublicVisit.day, PublicVisit.start_at, PublicVisit.id)
            )
        )
    )


def plan_is_public(plan: Plan) -> bool:
    return plan.published_version > 0 and plan.status != PlanStatus.ARCHIVED
