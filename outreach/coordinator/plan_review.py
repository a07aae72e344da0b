"""The plan review page's data: what the review screen, the day sheet and the exports read.

Time and format helpers (day labels in the reader's language, local times), the office-scoped
plan loader, the solver's status as a sentence, split visits (one site, several teams), the
per-team-day route views with their timelines, the KPIs, the unplanned sites, the re-plan
and publication texts and the move targets. No views and no map here: the screens are in
:mod:`outreach.coordinator.plans` and the Folium map in :mod:`outreach.coordinator.plan_map`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..labels import SERVICE_LABELS, break_label
from ..models import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    Hotspot,
    HotspotDemand,
    HotspotStatus,
    Office,
    Plan,
    PlannedRoute,
    PlannedStop,
    PlanStatus,
    PlanUnserved,
    Service,
    StopStatus,
    Team,
)
from ..navigation import format_count
from ..roles import office_scope

# A distinct, colour-blind-friendly palette (Okabe–Ito plus a few); team-days cycle through it.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#7F3C8D",
    "#3B7D23",
    "#A0522D",
    "#1F3A93",
)
# Short day and month names: English msgids, Indonesian in the catalogue ("Sen 07 Des 2026").
DAY_NAMES = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
MONTHS = (
    _l("Jan"),
    _l("Feb"),
    _l("Mar"),
    _l("Apr"),
    _l("May"),
    _l("Jun"),
    _l("Jul"),
    _l("Aug"),
    _l("Sep"),
    _l("Oct"),
    _l("Nov"),
    _l("Dec"),
)
MAX_UNPLANNED_ON_MAP = 3000


# -- small helpers ---------------------------------------------------------------------------


def day_label(d: date) -> str:
    """Render a date as 'Sen 07 Des 2026' (Indonesian) or 'Mon 07 Dec 2026' (English)."""
    return f"{DAY_NAMES[d.weekday()]} {d.day:02d} {MONTHS[d.month - 1]} {d.year}"


def as_utc(dt: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone=True columns; they are stored as UTC.
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    aware = as_utc(dt)
    return aware.astimezone(tz) if aware else None


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def office_tz(office: Office | None) -> ZoneInfo:
    try:
        return ZoneInfo(office.timezone if office else "Asia/Jakarta")
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Jakarta")


def get_plan(plan_id: int) -> Plan:
    """Load a plan of the user's office, or 404 (never reveal another office's plan).

    A coordinator without an office gets 403; only an admin without one sees every office's
    plans (:func:`outreach.roles.office_scope`).
    """
    office_id = office_scope()
    plan = db.session.get(Plan, plan_id)
    if plan is None or (office_id is not None and plan.office_id != office_id):
        abort(404)
    return plan


# -- the solver's status as a sentence ---------------------------------------------------------

# OR-Tools' search status names (RoutingSearchStatus) and our own; the stored code may be cut
# to the column's 40 characters, so partial success is recognised by its prefix.
PARTIAL_PREFIX = "ROUTING_PARTIAL_SUCCESS"
FOUND_STATUSES = {"ROUTING_SUCCESS", "ROUTING_OPTIMAL", "GREEDY_FALLBACK"}
NO_PLAN_STATUSES = {"ROUTING_FAIL", "ROUTING_INFEASIBLE", "ROUTING_INVALID", "ROUTING_NOT_SOLVED"}
# A search that used this share of its time limit stopped on the limit, not by itself (large
# searches keep a margin of up to 10 % for their last local-search pass).
TIME_LIMIT_SHARE = 0.85


def solver_sentence(
    code: str | None,
    time_limit_s: float | None,
    runtime_s: float | None,
    unserved_persons: int = 0,
) -> str:
    """The solver's status as a sentence in the reader's language (never the raw code).

    ``code`` is ``Plan.solver_status``; ``runtime_s`` the solve's run time (``Plan.kpis``) and
    ``time_limit_s`` the plan's limit. A search that ran until its limit says a longer run
    may serve more residents (or shorten the routes when nobody is left out).
    """
    code = (code or "").strip().upper()
    seconds = runtime_s if runtime_s is not None else time_limit_s
    shown = format_count(round(seconds)) if seconds is not None else None
    limit = format_count(round(time_limit_s)) if time_limit_s else None
    on_limit = code.startswith(PARTIAL_PREFIX) or bool(
        time_limit_s and runtime_s is not None and runtime_s >= TIME_LIMIT_SHARE * time_limit_s
    )
    if code == "CANCELLED":
        if shown is None:
            return _("The search was stopped; this is the best plan found until then.")
        return _(
            "The search was stopped after %(seconds)s s; this is the best plan found until then.",
            seconds=shown,
        )
    if code == "NO_VEHICLES":
        return _("No team works on the days of this plan, so nothing could be planned.")
    if code == "ROUTING_FAIL_TIMEOUT":
        return _(
            "The search found no plan within %(seconds)s s; plan again with a longer time limit.",
            seconds=shown or limit or "?",
        )
    if code in NO_PLAN_STATUSES:
        return _("The search found no plan that fits the teams' hours and the opening hours.")
    if code == "GREEDY_FALLBACK":
        return _(
            "A quick plan was built because the search found none in %(seconds)s s; a longer "
            "run may serve more.",
            seconds=shown or limit or "?",
        )
    if code == "ROUTING_OPTIMAL" and shown is not None:
        return _("Optimal plan found in %(seconds)s s.", seconds=shown)
    if code in FOUND_STATUSES or code.startswith(PARTIAL_PREFIX):
        if shown is None:
            return _("Plan found.")
        if on_limit and unserved_persons:
            return _(
                "Best plan found in %(seconds)s s; a longer run may serve more.", seconds=shown
            )
        if on_limit:
            return _(
                "Best plan found in %(seconds)s s; a longer run may shorten the routes.",
                seconds=shown,
            )
        if limit:
            return _(
                "Plan found in %(seconds)s s, before the time limit of %(limit)s s.",
                seconds=shown,
                limit=limit,
            )
        return _("Plan found in %(seconds)s s.", seconds=shown)
    if not code:
        return ""
    if shown is None:
        return _("The solver has finished.")
    return _("The solver finished in %(seconds)s s.", seconds=shown)


def plan_solver_sentence(plan: Plan, unserved: Sequence[UnservedSite] | None = None) -> str:
    """:func:`solver_sentence` for a stored plan (its code, time limit, run time, unserved).

    ``unserved``: the plan's :func:`unserved_sites` when the caller has them already.
    """
    kpis, params = plan.kpis or {}, plan.params or {}

    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    return solver_sentence(
        plan.solver_status,
        number(params.get("time_limit_s")),
        number(kpis.get("runtime_s")),
        sum(int(u.persons or 0) for u in (plan.unserved if unserved is None else unserved)),
    )


# -- split sites: one visit by several teams ---------------------------------------------------


def split_visits(routes: list[PlannedRoute]) -> dict[int, list[PlannedStop]]:
    """Stop id -> the other teams' stops at the same site, day and start minute.

    When a site's demand is beyond one team's day the solver sends two (or more) teams at
    the same time: for residents and teams that is one visit with several teams.
    """
    groups: dict[tuple[int, date, datetime], list[PlannedStop]] = defaultdict(list)
    team_of: dict[int, int] = {}  # id(stop) -> team id, without a (lazy) stop.route per stop
    for route in routes:
        for stop in route.stops:
            if stop.status == StopStatus.CANCELLED or stop.start_at is None:
                continue
            start = as_utc(stop.start_at).replace(second=0, microsecond=0)  # type: ignore[union-attr]
            groups[(stop.hotspot_id, route.day, start)].append(stop)
            team_of[id(stop)] = route.team_id
    out: dict[int, list[PlannedStop]] = {}
    for stops in groups.values():
        if len(stops) > 1 and len({team_of[id(s)] for s in stops}) > 1:
            for stop in stops:
                out[stop.id] = [o for o in stops if o is not stop]
    return out


# -- the review page's data ------------------------------------------------------------------


@dataclass
class StopRow:
    stop: PlannedStop
    number: int
    arrival: datetime
    start: datetime
    end: datetime
    persons: int
    # a split site: the other teams at this visit ("Tim B"), else ""
    with_teams: str = ""
    # the three times as HH:MM, formatted once for the schedule, the timeline and the map
    arrival_hm: str = field(init=False)
    start_hm: str = field(init=False)
    end_hm: str = field(init=False)

    def __post_init__(self) -> None:
        self.arrival_hm = f"{self.arrival:%H:%M}"
        self.start_hm = f"{self.start:%H:%M}"
        self.end_hm = f"{self.end:%H:%M}"


@dataclass
class RouteView:
    route: PlannedRoute
    key: str
    label: str
    colour: str
    stops: list[StopRow]
    breaks: list[tuple[int, int, str]]
    shift: tuple[int, int] | None
    persons: int
    cards: int
    km: float
    hours: float
    timeline: list[dict[str, Any]] = field(default_factory=list)
    axis: list[dict[str, Any]] = field(default_factory=list)


def availability(
    team: Team, day: date
) -> tuple[tuple[int, int] | None, list[tuple[int, int, str]]]:
    """The team's shift (start, end minutes) and breaks on ``day``; exceptions win."""
    for exc in team.exceptions:
        if exc.day == day:
            if exc.kind == "leave" or exc.start_min is None or exc.end_min is None:
                return None, []
            return (exc.start_min, exc.end_min), [
                (int(b[0]), int(b[1]), str(b[2]) if len(b) > 2 else "") for b in exc.breaks
            ]
    for shift in team.weekly_shifts:
        if shift.weekday == day.weekday():
            return (shift.start_min, shift.end_min), [
                (int(b[0]), int(b[1]), str(b[2]) if len(b) > 2 else "") for b in shift.breaks
            ]
    return None, []


def build_timeline(rv: RouteView, labels: dict[tuple[str, str], str] | None = None) -> None:
    """Position stops and breaks as percentages of the team-day's window (CSS bars).

    ``labels`` keeps the translated bar labels (waiting, break names) across the team-days
    of one page, so that each is looked up once, not once per bar.
    """
    labels = {} if labels is None else labels

    def label(kind: str, name: str = "") -> str:
        key = (kind, name)
        if key not in labels:
            labels[key] = break_label(name) if kind == "break" else _("Waiting")
        return labels[key]

    mins = [s.arrival.hour * 60 + s.arrival.minute for s in rv.stops]
    # A visit ending after midnight (rare, but possible in a hand edit) stays on the bar.
    ends = [
        s.end.hour * 60 + s.end.minute + (1440 if s.end.date() > s.start.date() else 0)
        for s in rv.stops
    ]
    lo, hi = rv.shift if rv.shift else (480, 960)
    if mins:
        lo, hi = min(lo, *mins), max(hi, *ends)
    lo, hi = (lo // 60) * 60, -(-hi // 60) * 60
    span = max(hi - lo, 60)

    def pct(m: int) -> float:
        return round((m - lo) * 100 / span, 2)

    for b_start, b_end, name in rv.breaks:
        rv.timeline.append(
            {
                "kind": "break",
                "left": pct(b_start),
                "width": pct(b_end) - pct(b_start),
                "label": label("break", name),
                "text": f"{hhmm(b_start)}–{hhmm(b_end)}",
            }
        )
    for row, arrive, end in zip(rv.stops, mins, ends, strict=True):
        start = row.start.hour * 60 + row.start.minute
        if start > arrive:
            rv.timeline.append(
                {
                    "kind": "wait",
                    "left": pct(arrive),
                    "width": pct(start) - pct(arrive),
                    "label": label("wait"),
                    "text": f"{row.arrival_hm}–{row.start_hm}",
                }
            )
        rv.timeline.append(
            {
                "kind": "stop",
                "left": pct(start),
                "width": max(pct(end) - pct(start), 0.8),
                "label": f"{row.number}. {row.stop.hotspot.name}",
                "number": row.number,
                "text": f"{row.start_hm}–{row.end_hm}",
            }
        )
    rv.axis = [{"left": pct(m), "text": hhmm(m)} for m in range(lo, hi + 1, 60)]


def load_plan_for_review(plan_id: int) -> Plan:
    """Load a plan of the user's office with everything the review page touches in a few
    queries, or 404 (the office check of :func:`get_plan`, in the query itself)."""
    office_id = office_scope()  # 403 for a coordinator without an office
    query = sa.select(Plan).where(Plan.id == plan_id)
    if office_id is not None:
        query = query.where(Plan.office_id == office_id)
    # The loaded rows must hang off the plan itself: the session's identity map holds
    # objects weakly, so rows loaded by a separate query would be lazy-loaded again.
    # Neither the sites' demands (the KPIs read them as columns) nor the unserved rows (read
    # as columns too, see unserved_sites): hundreds of ORM objects the page never edits. No
    # populate_existing: nothing of the plan is in the session yet, and after a rolled-back
    # edit (conflict_response) every row is expired, so the query reads it again anyway.
    plan = db.session.scalars(
        query.options(
            # each route's team in the same rows (many-to-one), its hours in two queries
            selectinload(Plan.routes)
            .joinedload(PlannedRoute.team)
            .options(selectinload(Team.weekly_shifts), selectinload(Team.exceptions)),
            # each stop's site in the same rows: many-to-one, no fan-out
            selectinload(Plan.routes)
            .selectinload(PlannedRoute.stops)
            .joinedload(PlannedStop.hotspot),
            selectinload(Plan.publications),
        )
    ).one_or_none()
    if plan is None:
        abort(404)  # never reveal another office's plan
    return plan


def route_views(plan: Plan, tz: ZoneInfo) -> list[RouteView]:
    """One view per team-day, with numbered stops in local time and a timeline."""
    views: list[RouteView] = []
    splits = split_visits(list(plan.routes))
    # translated once per page, not per team-day or bar
    days = {d: day_label(d) for d in {route.day for route in plan.routes}}
    labels: dict[tuple[str, str], str] = {}
    for i, route in enumerate(plan.routes):
        rows: list[StopRow] = []
        live = [s for s in route.stops if s.status != StopStatus.CANCELLED]
        for n, stop in enumerate(live, start=1):
            rows.append(
                StopRow(
                    stop=stop,
                    number=n,
                    arrival=local(stop.arrival_at, tz),  # type: ignore[arg-type]
                    start=local(stop.start_at, tz),  # type: ignore[arg-type]
                    end=local(stop.end_at, tz),  # type: ignore[arg-type]
                    persons=sum(int(v) for v in (stop.persons or {}).values()),
                    with_teams=", ".join(
                        sorted({p.route.team.name for p in splits.get(stop.id, [])})
                    ),
                )
            )
        shift, breaks = availability(route.team, route.day)
        if route.duration_s:
            hours = route.duration_s / 3600
        elif rows:
            hours = (rows[-1].end - rows[0].arrival).total_seconds() / 3600
        else:
            hours = 0.0
        rv = RouteView(
            route=route,
            key=f"r{route.id}",
            label=f"{route.team.name} · {days[route.day]}",
            colour=PALETTE[i % len(PALETTE)],
            stops=rows,
            breaks=breaks,
            shift=shift,
            persons=sum(r.persons for r in rows),
            cards=sum(r.stop.cards for r in rows),
            km=route.distance_m / 1000,
            hours=hours,
        )
        build_timeline(rv, labels)
        views.append(rv)
    return views


def plan_hotspot_ids(plan: Plan, unserved: Sequence[UnservedSite]) -> set[int]:
    """The hotspots the plan was asked to serve: the form's selection, or what it holds."""
    params = plan.params or {}
    ids = {int(h) for h in params.get("hotspot_ids", []) if str(h).isdigit()}
    for route in plan.routes:
        ids.update(s.hotspot_id for s in route.stops)
    ids.update(u.hotspot_id for u in unserved)
    return ids


def compute_kpis(
    plan: Plan, views: list[RouteView], office: Office, unserved: Sequence[UnservedSite]
) -> dict[str, Any]:
    """Served vs requested per service and priority, cards vs stock, km, hours, utilisation.

    ``unserved``: the plan's :func:`unserved_sites`.
    """
    ids = plan_hotspot_ids(plan, unserved)
    # The priorities of the sites of the plan's stops (load_plan_for_review) and unserved rows
    # are known already: read only the others' instead of all of them again.
    priorities: dict[int, int] = {}
    for route in plan.routes:
        for stop in route.stops:
            if stop.hotspot_id in ids:
                priorities.setdefault(stop.hotspot_id, stop.hotspot.priority)
    for u in unserved:
        if u.hotspot_id in ids:
            priorities.setdefault(u.hotspot_id, u.priority)
    missing = ids - priorities.keys()
    if missing:
        rows = db.session.execute(
            sa.select(Hotspot.id, Hotspot.priority).where(Hotspot.id.in_(missing))
        )
        priorities.update((hs_id, priority) for hs_id, priority in rows)
    requested: dict[str, int] = defaultdict(int)
    by_priority: dict[int, list[int]] = {p: [0, 0] for p in range(PRIORITY_MIN, PRIORITY_MAX + 1)}
    # The demand the plan was solved for (a snapshot), else what the hotspots still need
    # (read as columns, only for the sites the snapshot does not cover).
    snapshot = (plan.params or {}).get("demand") or {}
    live_ids = [hs_id for hs_id in priorities if not snapshot.get(str(hs_id))]
    live: dict[int, dict[str, int]] = defaultdict(dict)
    if live_ids:
        for hs_id, service, remaining in db.session.execute(
            sa.select(HotspotDemand.hotspot_id, HotspotDemand.service, HotspotDemand.remaining)
            .where(HotspotDemand.hotspot_id.in_(live_ids))
            .order_by(HotspotDemand.hotspot_id, HotspotDemand.service)
        ):
            live[hs_id][service] = remaining
    for hs_id, priority in priorities.items():
        wanted = snapshot.get(str(hs_id)) or live.get(hs_id, {})
        for service, n in wanted.items():
            requested[service] += int(n)
            by_priority[priority][1] += int(n)
    served: dict[str, int] = defaultdict(int)
    for rv in views:
        for row in rv.stops:
            for service, n in (row.stop.persons or {}).items():
                served[service] += int(n)
            prio = row.stop.hotspot.priority
            by_priority[prio][0] += row.persons
    services = [
        {
            "code": s.value,
            "label": SERVICE_LABELS[s.value],
            "served": served.get(s.value, 0),
            "requested": requested.get(s.value, 0),
            "pct": round(100 * served.get(s.value, 0) / requested[s.value])
            if requested.get(s.value)
            else None,
        }
        for s in Service
        if served.get(s.value) or requested.get(s.value)
    ]
    priorities = [
        {
            "priority": p,
            "served": v[0],
            "requested": v[1],
            "pct": round(100 * v[0] / v[1]) if v[1] else None,
        }
        for p, v in by_priority.items()
        if v[0] or v[1]
    ]
    # Utilisation: service time over shift time minus breaks, on the horizon's working days.
    busy: dict[int, float] = defaultdict(float)
    teams: dict[int, Team] = {}
    for rv in views:
        teams[rv.route.team_id] = rv.route.team
        for row in rv.stops:
            busy[rv.route.team_id] += (row.end - row.start).total_seconds()
    for team_id in (plan.params or {}).get("team_ids", []):
        if isinstance(team_id, int) and team_id not in teams:
            team = db.session.get(Team, team_id)
            if team is not None and team.office_id == plan.office_id:
                teams[team_id] = team
    utilisation = []
    for team_id, team in sorted(teams.items(), key=lambda kv: kv[1].name):
        capacity = 0
        d = plan.start_date
        while d <= plan.end_date:
            shift, breaks = availability(team, d)
            if shift:
                capacity += (shift[1] - shift[0] - sum(e - s for s, e, _label in breaks)) * 60
            d += timedelta(days=1)
        pct = round(100 * busy[team_id] / capacity) if capacity else None
        utilisation.append({"team": team.name, "hours": round(busy[team_id] / 3600, 1), "pct": pct})
    cards = sum(rv.cards for rv in views)
    # After a re-plan of the remaining days the plan is checked against the stock it was
    # solved for (the kept days' cards included), not against today's office figure.
    stock = (plan.params or {}).get("card_stock")
    limit = int(stock) if isinstance(stock, int) else office.card_stock
    return {
        "services": services,
        "priorities": priorities,
        "served_total": sum(served.values()),
        "requested_total": sum(requested.values()),
        "cards": cards,
        "card_stock": office.card_stock,
        "cards_short": cards > limit,
        "km": round(sum(rv.km for rv in views), 1),
        "hours": round(sum(rv.hours for rv in views), 1),
        "stops": sum(len(rv.stops) for rv in views),
        "routes": sum(1 for rv in views if rv.stops),
        "utilisation": utilisation,
    }


@dataclass(eq=False, slots=True)
class UnservedSite:
    """A site the plan left out (a ``PlanUnserved`` row) with its site's name, kecamatan and
    priority, as the review page lists it. Compared and hashed by identity, like ORM rows
    (:func:`outreach.labels.unserved_reasons` keys its sentences by row)."""

    id: int
    hotspot_id: int
    reason_code: str
    reason_text: str
    reason_params: dict[str, str] | None
    persons: int
    name: str
    kecamatan_name: str
    priority: int


def unserved_sites(plan: Plan) -> list[UnservedSite]:
    """The plan's unserved rows with their sites, read as columns in one query."""
    rows = db.session.execute(
        sa.select(
            PlanUnserved.id,
            PlanUnserved.hotspot_id,
            PlanUnserved.reason_code,
            PlanUnserved.reason_text,
            PlanUnserved.reason_params,
            PlanUnserved.persons,
            Hotspot.name,
            Hotspot.kecamatan_name,
            Hotspot.priority,
        )
        .join(Hotspot, Hotspot.id == PlanUnserved.hotspot_id)
        .where(PlanUnserved.plan_id == plan.id)
        .order_by(PlanUnserved.id)
    )
    return [UnservedSite(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class UnplannedSite:
    """An unplanned site as the review page shows it (a grey pin, an "add" option)."""

    id: int
    name: str
    lat: float
    lon: float
    kelurahan_name: str
    kecamatan_name: str
    priority: int
    remaining_total: int


def unplanned_hotspots(plan: Plan, planned: set[int]) -> list[UnplannedSite]:
    """Active hotspots of the office with a location that no stop of this plan visits.

    Columns and the remaining residents (a sum in SQL), not ORM rows with their demands:
    hundreds of sites on a big office's page, and nothing here is edited.
    """
    remaining = (
        sa.select(sa.func.coalesce(sa.func.sum(HotspotDemand.remaining), 0))
        .where(HotspotDemand.hotspot_id == Hotspot.id)
        .correlate(Hotspot)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(
            Hotspot.id,
            Hotspot.name,
            Hotspot.lat,
            Hotspot.lon,
            Hotspot.kelurahan_name,
            Hotspot.kecamatan_name,
            Hotspot.priority,
            remaining,
        )
        .where(
            Hotspot.office_id == plan.office_id,
            Hotspot.status == HotspotStatus.ACTIVE,
            Hotspot.lat.is_not(None),
            Hotspot.id.not_in(planned) if planned else sa.true(),
        )
        .order_by(Hotspot.priority, Hotspot.name)
        .limit(MAX_UNPLANNED_ON_MAP)
    )
    return [UnplannedSite(*row) for row in rows]


def legend_days(views: list[RouteView]) -> list[dict[str, Any]]:
    """The legend beside the map: every team-day with stops, grouped by day."""
    days: dict[date, list[RouteView]] = defaultdict(list)
    for rv in views:
        if rv.stops:
            days[rv.route.day].append(rv)
    return [
        {
            "label": day_label(day),
            "routes": sorted(days[day], key=lambda rv: rv.route.team.name),
        }
        for day in sorted(days)
    ]


def published_now(plan: Plan) -> int | None:
    """The version just published, when the page was reached from the publish button."""
    raw = request.args.get("published", "")
    if raw.isdigit() and int(raw) == plan.published_version:
        return int(raw)
    return None


def replan_context(plan: Plan, office: Office | None) -> dict[str, Any]:
    """What the review page says about re-planning the remaining days."""
    from ..plans import adapter

    kept = adapter.kept_before(plan)
    today = datetime.now(UTC).astimezone(office_tz(office)).date()
    first = max(today + timedelta(days=1), plan.start_date)
    return {
        "kept_before": kept,
        "kept_before_label": day_label(kept) if kept else None,
        "replan_possible": plan.status in (PlanStatus.SOLVED, PlanStatus.PUBLISHED)
        and first <= plan.end_date,
        # Once published, today's and earlier routes are in the field: not re-planned.
        "replan_min": first if plan.published_version else plan.start_date,
        "replan_default_label": day_label(first) if first <= plan.end_date else None,
    }


CHANGE_KINDS = ("cancelled", "moved", "retimed", "added")


def publication_changes(pub, tz: ZoneInfo) -> dict[str, list[str]]:
    """A publication's change list as sentences per kind (cancelled, moved, retimed, added)."""
    if pub is None:
        return {}
    return change_lines(pub.changes or {})


def change_lines(changes: dict[str, Any]) -> dict[str, list[str]]:
    """Changes (``diff_snapshots``' shape) as one line per visit: site, team, day and time."""
    team_names = dict(db.session.execute(sa.select(Team.id, Team.name)).all())

    def when(item: dict[str, Any]) -> str:
        team = team_names.get(item.get("team_id"), f"#{item.get('team_id')}")
        day = item.get("day", "")
        try:
            day = day_label(date.fromisoformat(day))
        except (TypeError, ValueError):
            pass
        start = str(item.get("start") or "")[11:16]
        return f"{team}, {day} {start}".strip()

    out: dict[str, list[str]] = {}
    for kind in CHANGE_KINDS:
        lines = []
        for item in changes.get(kind) or []:
            if not isinstance(item, dict):
                lines.append(str(item))
            elif kind in ("moved", "retimed"):
                lines.append(
                    f"{item.get('hotspot_name', '')}: {when(item.get('from') or {})} → "
                    f"{when(item.get('to') or {})}"
                )
            else:
                lines.append(f"{item.get('hotspot_name', '')}: {when(item)}")
        out[kind] = lines
    return out


def move_targets(plan: Plan, views: list[RouteView]) -> list[tuple[str, str]]:
    """Every team × day of the horizon as "team_id:date" options (a day without a route too)."""
    team_ids = {rv.route.team_id for rv in views}
    team_ids.update(int(t) for t in (plan.params or {}).get("team_ids", []) if str(t).isdigit())
    teams = db.session.scalars(
        sa.select(Team).where(Team.id.in_(team_ids), Team.office_id == plan.office_id)
    ).all()
    teams = sorted(teams, key=lambda t: t.name)
    out = []
    d = plan.start_date
    while d <= plan.end_date:
        label = None  # the day's label, translated once for all its teams
        for team in teams:
            if availability(team, d)[0] is not None:
                label = label or day_label(d)
                out.append((f"{team.id}:{d.isoformat()}", f"{team.name} · {label}"))
        d += timedelta(days=1)
    return out
