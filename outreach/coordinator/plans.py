"""Coordinator plan screens: the plan list and form, solve progress, review, publish preview.

Views parse the request, call the plans service and render. The review page reads the stored
plan rows (routes, stops, unserved hotspots) so that it always shows the plan as edited, not
the solver's first answer. The edits (move, lock, drop and add stops, re-optimise, re-plan,
publish, cancel a solve) are in :mod:`outreach.coordinator.plan_edits`, on the same blueprint.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from branca.element import MacroElement
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from folium.template import Template
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from .. import maps
from ..errors import DomainError
from ..extensions import db
from ..labels import KIND_LABELS, SERVICE_LABELS, break_label, unserved_reasons
from ..models import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    Hotspot,
    HotspotStatus,
    JobStatus,
    Office,
    Plan,
    PlannedRoute,
    PlannedStop,
    PlanStatus,
    PlanUnserved,
    Service,
    SolveJob,
    StopStatus,
    Team,
)
from ..navigation import format_count
from . import bp
from .forms import error_messages

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
MAX_HORIZON_DAYS = 31
MAX_UNPLANNED_ON_MAP = 3000
UNPLANNED_COLOUR = "#6b7280"
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


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


def user_office_id() -> int | None:
    """The coordinator's office; admins without one see every office."""
    return getattr(current_user, "office_id", None)


def current_office() -> Office:
    """The office a new plan belongs to: the user's, or the only one for an admin."""
    office_id = user_office_id()
    if office_id is not None:
        office = db.session.get(Office, office_id)
    else:
        office = db.session.scalar(sa.select(Office).order_by(Office.id).limit(1))
    if office is None:
        abort(404)
    return office


def get_plan(plan_id: int) -> Plan:
    """Load a plan of the user's office, or 404 (never reveal another office's plan)."""
    plan = db.session.get(Plan, plan_id)
    office_id = user_office_id()
    if plan is None or (office_id is not None and plan.office_id != office_id):
        abort(404)
    return plan


def get_job(job_id: str) -> SolveJob:
    job = db.session.get(SolveJob, job_id)
    if job is None:
        abort(404)
    get_plan(job.plan_id)  # office check
    return job


def service_module():
    # Imported lazily: the service pulls in the solver, which the review page does not need.
    from ..plans import service

    return service


def violation_text(v: Any) -> str:
    """A checker violation as one sentence, whatever shape the service stores."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return str(v.get("message") or v.get("text") or v.get("code") or v)
    return str(v)


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


def plan_solver_sentence(plan: Plan) -> str:
    """:func:`solver_sentence` for a stored plan (its code, time limit, run time, unserved)."""
    kpis, params = plan.kpis or {}, plan.params or {}

    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    return solver_sentence(
        plan.solver_status,
        number(params.get("time_limit_s")),
        number(kpis.get("runtime_s")),
        sum(int(u.persons or 0) for u in plan.unserved),
    )


# -- split sites: one visit by several teams ---------------------------------------------------


def split_visits(routes: list[PlannedRoute]) -> dict[int, list[PlannedStop]]:
    """Stop id -> the other teams' stops at the same site, day and start minute.

    When a site's demand is beyond one team's day the solver sends two (or more) teams at
    the same time: for residents and teams that is one visit with several teams.
    """
    groups: dict[tuple[int, date, datetime], list[PlannedStop]] = defaultdict(list)
    for route in routes:
        for stop in route.stops:
            if stop.status == StopStatus.CANCELLED or stop.start_at is None:
                continue
            start = as_utc(stop.start_at).replace(second=0, microsecond=0)  # type: ignore[union-attr]
            groups[(stop.hotspot_id, route.day, start)].append(stop)
    out: dict[int, list[PlannedStop]] = {}
    for stops in groups.values():
        if len({s.route.team_id for s in stops}) > 1:
            for stop in stops:
                out[stop.id] = [o for o in stops if o is not stop]
    return out


SPLIT_REASON = _l("Demand beyond one team's day")


@bp.app_template_global()
def day_sheet_splits(route: PlannedRoute) -> dict[int, str]:
    """For the day sheet: visit number (from 1) -> the other teams at that visit."""
    plan_routes = db.session.scalars(
        sa.select(PlannedRoute)
        .where(PlannedRoute.plan_id == route.plan_id, PlannedRoute.day == route.day)
        .options(selectinload(PlannedRoute.stops), selectinload(PlannedRoute.team))
    ).all()
    splits = split_visits(list(plan_routes))
    return {
        stop.position + 1: ", ".join(sorted({p.route.team.name for p in splits[stop.id]}))
        for stop in route.stops
        if stop.id in splits
    }


@bp.app_template_global()
def day_sheet_breaks(route: PlannedRoute) -> list[str]:
    """For the day sheet: the team's breaks that day, named in the reader's language."""
    _shift, breaks = availability(route.team, route.day)
    return [f"{break_label(label)} {hhmm(s)}–{hhmm(e)}" for s, e, label in breaks]


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


def build_timeline(rv: RouteView) -> None:
    """Position stops and breaks as percentages of the team-day's window (CSS bars)."""
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

    for b_start, b_end, label in rv.breaks:
        rv.timeline.append(
            {
                "kind": "break",
                "left": pct(b_start),
                "width": pct(b_end) - pct(b_start),
                "label": break_label(label),
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
                    "label": _("Waiting"),
                    "text": f"{row.arrival:%H:%M}–{row.start:%H:%M}",
                }
            )
        rv.timeline.append(
            {
                "kind": "stop",
                "left": pct(start),
                "width": max(pct(end) - pct(start), 0.8),
                "label": f"{row.number}. {row.stop.hotspot.name}",
                "number": row.number,
                "text": f"{row.start:%H:%M}–{row.end:%H:%M}",
            }
        )
    rv.axis = [{"left": pct(m), "text": hhmm(m)} for m in range(lo, hi + 1, 60)]


def load_plan_for_review(plan_id: int) -> Plan:
    """Load a plan with everything the review page touches in a few queries."""
    get_plan(plan_id)  # office check first
    # The loaded rows must hang off the plan itself: the session's identity map holds
    # objects weakly, so rows loaded by a separate query would be lazy-loaded again.
    return db.session.scalars(
        sa.select(Plan)
        .where(Plan.id == plan_id)
        .options(
            selectinload(Plan.routes)
            .selectinload(PlannedRoute.team)
            .selectinload(Team.weekly_shifts),
            selectinload(Plan.routes).selectinload(PlannedRoute.team).selectinload(Team.exceptions),
            selectinload(Plan.routes)
            .selectinload(PlannedRoute.stops)
            .selectinload(PlannedStop.hotspot)
            .selectinload(Hotspot.demands),
            selectinload(Plan.unserved)
            .selectinload(PlanUnserved.hotspot)
            .selectinload(Hotspot.demands),
            selectinload(Plan.publications),
        )
        .execution_options(populate_existing=True)
    ).one()


def route_views(plan: Plan, tz: ZoneInfo) -> list[RouteView]:
    """One view per team-day, with numbered stops in local time and a timeline."""
    views: list[RouteView] = []
    splits = split_visits(list(plan.routes))
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
            label=f"{route.team.name} · {day_label(route.day)}",
            colour=PALETTE[i % len(PALETTE)],
            stops=rows,
            breaks=breaks,
            shift=shift,
            persons=sum(r.persons for r in rows),
            cards=sum(r.stop.cards for r in rows),
            km=route.distance_m / 1000,
            hours=hours,
        )
        build_timeline(rv)
        views.append(rv)
    return views


def plan_hotspot_ids(plan: Plan) -> set[int]:
    """The hotspots the plan was asked to serve: the form's selection, or what it holds."""
    params = plan.params or {}
    ids = {int(h) for h in params.get("hotspot_ids", []) if str(h).isdigit()}
    for route in plan.routes:
        ids.update(s.hotspot_id for s in route.stops)
    ids.update(u.hotspot_id for u in plan.unserved)
    return ids


def compute_kpis(plan: Plan, views: list[RouteView], office: Office) -> dict[str, Any]:
    """Served vs requested per service and priority, cards vs stock, km, hours, utilisation."""
    hotspots = {}
    ids = plan_hotspot_ids(plan)
    if ids:
        for hs in db.session.scalars(
            sa.select(Hotspot).where(Hotspot.id.in_(ids)).options(selectinload(Hotspot.demands))
        ):
            hotspots[hs.id] = hs
    requested: dict[str, int] = defaultdict(int)
    by_priority: dict[int, list[int]] = {p: [0, 0] for p in range(PRIORITY_MIN, PRIORITY_MAX + 1)}
    # The demand the plan was solved for (a snapshot), else what the hotspots still need.
    snapshot = (plan.params or {}).get("demand") or {}
    for hs in hotspots.values():
        wanted = snapshot.get(str(hs.id)) or {d.service: d.remaining for d in hs.demands}
        for service, n in wanted.items():
            requested[service] += int(n)
            by_priority[hs.priority][1] += int(n)
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


def unplanned_hotspots(plan: Plan, planned: set[int]) -> list[Hotspot]:
    """Active hotspots of the office with a location that no stop of this plan visits."""
    return list(
        db.session.scalars(
            sa.select(Hotspot)
            .where(
                Hotspot.office_id == plan.office_id,
                Hotspot.status == HotspotStatus.ACTIVE,
                Hotspot.lat.is_not(None),
                Hotspot.id.not_in(planned) if planned else sa.true(),
            )
            .options(selectinload(Hotspot.demands))
            .order_by(Hotspot.priority, Hotspot.name)
            .limit(MAX_UNPLANNED_ON_MAP)
        )
    )


def map_safe(text: object) -> str:
    """``maps.map_text`` plus ``{`` and ``}`` as character references.

    Folium (branca) compiles every rendered macro's output as a Jinja template once more
    (``Element(rendered)``), so ``{{ ... }}`` inside a name would run on the server. As HTML
    the references show the braces literally.
    """
    return brace_safe(maps.map_text(text))


def brace_safe(html: str) -> str:
    return str(html).replace("{", "&#123;").replace("}", "&#125;")


class BulkMarkers(MacroElement):
    """Many pins from one JSON block: a loop over rows instead of one Folium element per pin.

    Folium compiles several Jinja templates per ``Marker`` (~15 ms a pin: a 500-stop plan took
    over 10 s), and branca compiles every macro's *output* as a template again. So the rows
    are not in the map script at all: the page carries them once as
    ``<script type="application/json" id="plan-pins">`` (see :func:`pins_json`) and this
    script only names its key. Texts went through ``maps.map_text``/``maps.popup_html``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var parent = {{ this._parent.get_name() }};
            window.JB_PLAN_PINS = window.JB_PLAN_PINS
                || JSON.parse(document.getElementById("plan-pins").textContent);
            (window.JB_PLAN_PINS[{{ this.key|tojson }}] || []).forEach(function (r) {
                var size = r.l ? 26 : 16;
                var icon = L.divIcon({
                    html: '<span class="jb-pin jb-pin--dot" style="background:' + r.c + '">'
                        + r.l + "</span>",
                    iconSize: [size, size],
                    iconAnchor: [size / 2, size / 2],
                    className: "jb-pin-icon"
                });
                L.marker([r.y, r.x], {icon: icon})
                    .bindTooltip(r.t, {sticky: true})
                    .bindPopup(r.p, {maxWidth: 320})
                    .addTo(parent);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, key: str) -> None:
        super().__init__()
        self._name = "BulkMarkers"
        self.key = key
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        lat: float,
        lon: float,
        *,
        tooltip: object,
        popup: Markup,
        colour: str,
        label: object = "",
    ) -> None:
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return  # folium accepts inf; a map must never see it (SECURITY.md row 21)
        if not HEX_COLOUR.match(colour):
            raise ValueError(f"not a hex colour: {colour!r}")
        self.rows.append(
            {
                "y": lat,
                "x": lon,
                "t": map_safe(tooltip),
                "p": brace_safe(popup),
                "c": colour,
                "l": map_safe(label),
            }
        )


def build_map(
    plan: Plan, views: list[RouteView], unplanned: list[Hotspot], office: Office
) -> tuple[Markup, dict[str, list[dict[str, Any]]]]:
    """The review map: a layer per team-day, numbered stops, lines, clustered unplanned sites.

    Returns the map's HTML and the pins per layer key, which the page embeds as JSON.

    Every text goes through ``maps.map_text``/``maps.popup_html`` (folium does not escape).
    """
    import folium

    fmap = maps.base_map((office.lat, office.lon), zoom_start=12)
    # Quarter zoom steps: the opening frame fits the planned stops closely (whole steps can
    # leave them in the middle half of a tablet's map).
    fmap.options.update(zoom_snap=0.25)
    pin_rows: dict[str, list[dict[str, Any]]] = {}
    # Labels looked up once: gettext per pin costs more than the pin itself on big plans.
    services = {k: str(v) for k, v in SERVICE_LABELS.items()}
    t = {
        "route": _("Team-day"),
        "arrive": _("Arrival"),
        "service": _("Service"),
        "persons": _("Expected residents"),
        "cards": _("Blank cards"),
        "status": _("Status"),
        "locked": _("Locked"),
        "left": _("remaining"),
        "kel": _("Kelurahan"),
        "kec": _("Kecamatan"),
        "remaining": _("Residents remaining"),
        "priority": _("Priority"),
        "teams": _("Teams"),
        "why": _("Why several teams"),
        "split": str(SPLIT_REASON),
    }
    bounds: list[tuple[float, float]] = []
    unplanned_bounds: list[tuple[float, float]] = []
    for rv in views:
        if not rv.stops:
            continue
        layer = folium.FeatureGroup(name=map_safe(rv.label), show=True)
        pins = BulkMarkers(rv.key)
        line: list[tuple[float, float]] = []
        for row in rv.stops:
            hs = row.stop.hotspot
            if hs.lat is None or hs.lon is None:
                continue
            line.append((hs.lat, hs.lon))
            details: list[tuple[object, object]] = [
                (t["route"], rv.label),
                (t["arrive"], f"{row.arrival:%H:%M}"),
                (t["service"], f"{row.start:%H:%M}–{row.end:%H:%M}"),
                (t["persons"], format_count(row.persons)),
            ]
            tooltip = f"{row.number}. {hs.name} ({row.start:%H:%M})"
            if row.with_teams:
                # One visit by several teams: both pins (one per team-day layer) say so.
                teams = f"{rv.route.team.name} + {row.with_teams}"
                details[1:1] = [(t["teams"], teams), (t["why"], t["split"])]
                tooltip = f"{tooltip} · {teams}"
            details += [
                (services.get(k, k), format_count(int(v)))
                for k, v in (row.stop.persons or {}).items()
            ]
            if row.stop.cards:
                details.append((t["cards"], format_count(row.stop.cards)))
            if row.stop.locked:
                details.append((t["status"], t["locked"]))
            pins.add(
                hs.lat,
                hs.lon,
                tooltip=tooltip,
                popup=maps.popup_html(f"{row.number}. {hs.name}", details),
                colour=rv.colour,
                label=row.number,
            )
        if len(line) > 1:
            folium.PolyLine(line, color=rv.colour, weight=3, opacity=0.8).add_to(layer)
        pins.add_to(layer)
        pin_rows[pins.key] = pins.rows
        bounds += line
        layer.add_to(fmap)
    if unplanned:
        cluster = maps.cluster(fmap, _("Not planned yet"))
        pins = BulkMarkers("unplanned")
        for hs in unplanned:
            pins.add(
                hs.lat,  # type: ignore[arg-type]
                hs.lon,  # type: ignore[arg-type]
                tooltip=f"{hs.name} – {t['left']} {format_count(hs.remaining_total)}",
                popup=maps.popup_html(
                    hs.name,
                    [
                        (t["kel"], hs.kelurahan_name),
                        (t["kec"], hs.kecamatan_name),
                        (t["remaining"], format_count(hs.remaining_total)),
                        (t["priority"], hs.priority),
                    ],
                ),
                colour=UNPLANNED_COLOUR,
            )
            unplanned_bounds.append((hs.lat, hs.lon))  # type: ignore[arg-type]
        pins.add_to(cluster)
        pin_rows[pins.key] = pins.rows
    # The map opens on the planned stops (the unplanned sites only when nothing is planned);
    # the legend sits beside the map (see review.html), so no corner needs to stay clear.
    framed = bounds or unplanned_bounds
    if framed:
        lats = [p[0] for p in framed]
        lons = [p[1] for p in framed]
        fmap.fit_bounds(
            [[min(lats), min(lons)], [max(lats), max(lons)]],
            padding=(36, 36),
            max_zoom=16,
        )
    folium.LayerControl(collapsed=True).add_to(fmap)
    html = maps.render_map(fmap, height="560px", label=_("Map of plan %(n)s", n=plan.name))
    return html, pin_rows


def review_context(plan: Plan) -> dict[str, Any]:
    """Everything the review template shows, computed from the stored rows."""
    office = db.session.get(Office, plan.office_id)
    tz = office_tz(office)
    views = route_views(plan, tz)
    planned = {row.stop.hotspot_id for rv in views for row in rv.stops}
    unplanned = unplanned_hotspots(plan, planned)
    unserved_ids = {u.hotspot_id for u in plan.unserved}
    addable = [h for h in unplanned if h.id not in planned]
    map_html, pins = build_map(plan, views, unplanned, office)
    latest = plan.publications[-1] if plan.publications else None
    job = db.session.scalar(
        sa.select(SolveJob)
        .where(SolveJob.plan_id == plan.id)
        .order_by(SolveJob.created_at.desc())
        .limit(1)
    )
    return {
        "plan": plan,
        "office": office,
        "views": views,
        "kpis": compute_kpis(plan, views, office),
        "unserved": sorted(plan.unserved, key=lambda u: (u.hotspot.priority, -u.persons)),
        "unserved_reasons": unserved_reasons(plan.unserved),
        "unserved_ids": unserved_ids,
        "addable": addable,
        "map_html": map_html,
        "pins": pins,
        "violations": [violation_text(v) for v in (plan.violations or [])],
        "latest_publication": latest,
        "changes": publication_changes(latest, tz),
        "published_local": local(latest.published_at, tz) if latest else None,
        "initial_publication": bool(latest and (latest.changes or {}).get("initial")),
        "published_stops": len(latest.snapshot or []) if latest else 0,
        "targets": move_targets(plan, views),
        "job": job,
        "service_labels": SERVICE_LABELS,
        "plan_teams": sorted(
            {rv.route.team_id: rv.route.team for rv in views}.values(), key=lambda t: t.name
        ),
        "editable": plan.status in (PlanStatus.SOLVED, PlanStatus.PUBLISHED, PlanStatus.FAILED),
        "legend_days": legend_days(views),
        "unplanned_count": len(unplanned),
        "unplanned_colour": UNPLANNED_COLOUR,
        "solver_sentence": plan_solver_sentence(plan),
        "published_now": published_now(plan),
        **replan_context(plan, office),
    }


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
    out = []
    d = plan.start_date
    while d <= plan.end_date:
        for team in sorted(teams, key=lambda t: t.name):
            if availability(team, d)[0] is not None:
                out.append((f"{team.id}:{d.isoformat()}", f"{team.name} · {day_label(d)}"))
        d += timedelta(days=1)
    return out


STATUS_LABELS = {
    "draft": _l("Draft"),
    "solving": _l("Solving"),
    "solved": _l("Ready for review"),
    "failed": _l("Failed"),
    "published": _l("Published"),
    "archived": _l("Archived"),
    "queued": _l("Queued"),
    "running": _l("Running"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}


@bp.context_processor
def plan_labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS}


# -- views: list, form, progress ---------------------------------------------------------------


@bp.get("/plans")
def plans_index():
    """List the office's plans, newest first."""
    query = sa.select(Plan).order_by(Plan.created_at.desc(), Plan.id.desc())
    if user_office_id() is not None:
        query = query.where(Plan.office_id == user_office_id())
    return render_template("coordinator/plans/index.html", plans=db.session.scalars(query).all())


def form_choices(office: Office) -> dict[str, Any]:
    teams = db.session.scalars(
        sa.select(Team).where(Team.office_id == office.id, Team.active).order_by(Team.name)
    ).all()
    kecamatan = db.session.execute(
        sa.select(Hotspot.kecamatan_code, Hotspot.kecamatan_name)
        .where(Hotspot.office_id == office.id, Hotspot.status == HotspotStatus.ACTIVE)
        .distinct()
        .order_by(Hotspot.kecamatan_name)
    ).all()
    return {
        "teams": teams,
        "kecamatan": [(code, name or code) for code, name in kecamatan if code or name],
        "kinds": KIND_LABELS,
        "services": SERVICE_LABELS,
        "priorities": range(PRIORITY_MIN, PRIORITY_MAX + 1),
        "max_seconds": int(current_app.config.get("SOLVER_MAX_SECONDS", 600)),
    }


def parse_plan_form(form) -> tuple[dict[str, Any], list[str]]:
    """Parse the plan form's dates, teams, filters and time limit; the service checks the rest."""
    from ..plans.service import HotspotFilter

    errors: list[str] = []
    values: dict[str, Any] = {}
    try:
        start = date.fromisoformat(form.get("start_date", ""))
        end = date.fromisoformat(form.get("end_date", "") or form.get("start_date", ""))
    except ValueError:
        errors.append(_("Enter a start date and an end date (format YYYY-MM-DD)."))
        start = end = None
    values["start_date"], values["end_date"] = start, end
    values["team_ids"] = sorted({int(t) for t in form.getlist("team_ids") if t.isdigit()})
    if not values["team_ids"]:
        errors.append(_("Choose at least one team."))
    raw_limit = form.get("time_limit_s", "").strip()
    max_seconds = int(current_app.config.get("SOLVER_MAX_SECONDS", 600))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= max_seconds:
        errors.append(_("The time limit must be between 1 and %(n)s seconds.", n=max_seconds))
    else:
        values["time_limit_s"] = int(raw_limit)
    values["filters"] = HotspotFilter(
        kecamatan_codes=tuple(k for k in form.getlist("kecamatan") if k),
        kinds=tuple(k for k in form.getlist("kind") if k in KIND_LABELS),
        priorities=tuple(int(p) for p in form.getlist("priority") if p.isdigit()),
        services=tuple(k for k in form.getlist("service") if k in SERVICE_LABELS),
    )
    name = form.get("name", "").strip()[:200]
    if not name and start and end:
        name = f"Rencana {day_label(start)}" + (f" – {day_label(end)}" if end != start else "")
    values["name"] = name or "Rencana"
    return values, errors


def render_plan_form(office: Office, form, errors: list[str], status: int = 200):
    return (
        render_template(
            "coordinator/plans/new.html",
            form=form,
            errors=errors,
            checked=form if errors else None,
            **form_choices(office),
        ),
        status,
    )


@bp.route("/plans/new", methods=["GET", "POST"])
def plan_new():
    """Show the plan form; on submit create the plan and start solving in the background."""
    office = current_office()
    if request.method == "GET":
        today = date.today()
        monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
        defaults = {
            "start_date": monday.isoformat(),
            "end_date": (monday + timedelta(days=4)).isoformat(),
            "time_limit_s": "30",
        }
        return render_plan_form(office, defaults, [])
    values, errors = parse_plan_form(request.form)
    if errors:
        return render_plan_form(office, request.form, errors, 422)
    service = service_module()
    try:
        plan = service.create_plan(office, current_user, **values)
    except service.PlanError as e:
        db.session.rollback()
        messages = error_messages(e.details)
        return render_plan_form(office, request.form, messages or [e.message], 422)
    try:
        job = service.start_solve(plan, current_user)
    except DomainError as e:  # queue down (503) or already solving (409): the plan stays a draft
        db.session.rollback()
        flash(e.message, "error")
        return redirect(url_for("coord.plan_review", plan_id=plan.id))
    return redirect(url_for("coord.job_progress", job_id=job.id))


def job_payload(job: SolveJob) -> dict[str, Any]:
    """The polling JSON: status, the best plan so far and where to go next."""
    plan = db.session.get(Plan, job.plan_id)
    progress = dict(job.progress or {})
    limit = (
        progress.get("time_limit_s") or (plan.params or {}).get("time_limit_s") if plan else None
    )
    elapsed = progress.get("elapsed_s")
    if elapsed is None and job.started_at is not None:
        end = as_utc(job.finished_at) or datetime.now(UTC)
        elapsed = (end - as_utc(job.started_at)).total_seconds()  # type: ignore[operator]
    done = job.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
    if done:
        fraction = 1.0
    elif progress.get("percent") is not None:
        fraction = min(float(progress["percent"]) / 100, 0.99)
    elif limit and elapsed is not None:
        fraction = min(float(elapsed) / float(limit), 0.99)
    else:
        fraction = 0.0
    return {
        "id": job.id,
        "plan_id": job.plan_id,
        "status": str(job.status),
        "done": done,
        "cancel_requested": job.cancel_requested,
        "fraction": round(fraction, 3),
        "elapsed_s": round(float(elapsed), 1) if elapsed is not None else None,
        "time_limit_s": limit,
        "persons": progress.get("persons_served"),
        "persons_requested": progress.get("persons_requested"),
        "km": progress.get("distance_km"),
        "solver_status": progress.get("solver_status"),
        "error": job.error or None,
        "review_url": url_for("coord.plan_review", plan_id=job.plan_id),
    }


@bp.get("/jobs/<job_id>")
def job_progress(job_id: str):
    """Show a solve's progress bar, the best plan so far, and a cancel button."""
    job = get_job(job_id)
    plan = get_plan(job.plan_id)
    # The polling script shows these texts in the page's language (it has no catalogue).
    js_labels = {key: str(label) for key, label in STATUS_LABELS.items()}
    js_labels |= {"title_failed": _("Solving failed"), "title_done": _("Solving finished")}
    return render_template(
        "coordinator/plans/progress.html",
        job=job,
        plan=plan,
        data=job_payload(job),
        js_labels=js_labels,
    )


@bp.get("/jobs/<job_id>.json")
def job_json(job_id: str):
    """Return a solve's status and progress for the polling script."""
    response = jsonify(job_payload(get_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


# -- views: review and publish ------------------------------------------------------------------


@bp.get("/plans/<int:plan_id>")
def plan_review(plan_id: int):
    """Show the plan on a map, its schedule, timelines, unserved sites and KPIs."""
    plan = load_plan_for_review(plan_id)
    return render_template("coordinator/plans/review.html", **review_context(plan))


def back_to_review(plan_id: int, anchor: str = "adjust"):
    return redirect(url_for("coord.plan_review", plan_id=plan_id, _anchor=anchor))


def publish_preview(plan: Plan) -> dict[str, Any]:
    """What publishing the plan now changes for residents and teams (read-only).

    The plan's live stops against the latest publication, with the service's own
    ``snapshot_of``/``diff_snapshots``: the same comparison ``publish`` records.
    """
    service = service_module()
    snapshot = service.snapshot_of(plan)
    latest = plan.publications[-1] if plan.publications else None
    if latest is None:
        changes: dict[str, list] = {kind: [] for kind in CHANGE_KINDS}
        changes["added"] = list(snapshot)
        public = {(s["hotspot_id"], s["day"]) for s in snapshot}
    else:
        changes = service.diff_snapshots(latest.snapshot or [], snapshot)
        public = set()
        for kind in CHANGE_KINDS:
            for item in changes.get(kind) or []:
                for side in (item, item.get("from") or {}, item.get("to") or {}):
                    if side.get("day"):
                        public.add((item.get("hotspot_id"), side["day"]))
    team_ids = set()
    for kind in CHANGE_KINDS:
        for item in changes.get(kind) or []:
            for side in (item, item.get("from") or {}, item.get("to") or {}):
                if side.get("team_id") is not None:
                    team_ids.add(side["team_id"])
    teams = db.session.scalars(sa.select(Team.name).where(Team.id.in_(team_ids))).all()
    return {
        "first": latest is None,
        "stops": len(snapshot),
        "lines": change_lines(changes),
        "counts": {kind: len(changes.get(kind) or []) for kind in CHANGE_KINDS},
        "changed": sum(len(changes.get(kind) or []) for kind in CHANGE_KINDS),
        "public_visits": len(public),
        "teams": sorted(teams),
        "next_version": plan.published_version + 1,
    }


@bp.get("/plans/<int:plan_id>/publish")
def plan_publish_confirm(plan_id: int):
    """Show what publishing changes for residents and teams, and ask for confirmation."""
    plan = load_plan_for_review(plan_id)
    can_publish = plan.status in (PlanStatus.SOLVED, PlanStatus.PUBLISHED) and any(
        s.status != StopStatus.CANCELLED for r in plan.routes for s in r.stops
    )
    if not can_publish:
        flash(_("This plan cannot be published yet."), "error")
        return back_to_review(plan_id, "publish")
    return render_template(
        "coordinator/plans/publish.html",
        plan=plan,
        preview=publish_preview(plan),
        violations=[violation_text(v) for v in (plan.violations or [])],
    )
