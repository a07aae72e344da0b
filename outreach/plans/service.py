"""Plan services: plain functions for the coordinator screens, the JSON API and the job runner.

Rules
-----
* Services own the commit: one transaction per user action. On any failure the session is
  rolled back and nothing of the action is stored.
* Failures are typed: :class:`PlanError` (400, with field details), :class:`PlanConflict`
  (409), :class:`PlanNotFound` (404); ``outreach.errors`` maps them to the one error shape.
* Optimistic locking: every edit takes ``expected_version`` (``Plan.version_id`` as the
  client last saw it). A stale value raises :class:`PlanConflict`, never a silent overwrite.
  Every edit also bumps ``version_id`` (the plan row is always updated).
* After every edit the times are recomputed and the independent checker
  (:func:`outreach.planning.check`) re-validates the plan; the violations are stored on
  ``Plan.violations`` as sentences a coordinator understands.
* Edited stops (moved or added) become locked, so "re-optimise" keeps the coordinator's edits;
  dropped hotspots stay out of re-optimised plans until added again.
* A published plan that is edited goes back to ``solved`` (a draft of the next version); the
  published schedule field teams see is the latest :class:`PlanPublication` snapshot until the
  coordinator publishes again.
* Re-planning never rewrites the past: :func:`replan_remaining` (and :func:`reoptimise` of a
  plan that has been published) solves only the remaining days; earlier days, with their
  field outcomes and check-ins, stay exactly as they are (``params["kept_before"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm.exc import StaleDataError

from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..labels import unserved_reasons
from ..models import (
    Hotspot,
    HotspotDemand,
    HotspotStatus,
    Office,
    Plan,
    PlannedRoute,
    PlannedStop,
    PlanPublication,
    PlanStatus,
    PlanUnserved,
    SolveJob,
    StopStatus,
    Team,
    User,
    audit,
    utcnow,
)
from ..planning import Service
from ..public.schedule import sync_publication
from . import adapter

MAX_PLAN_DAYS = 62
DEFAULT_TIME_LIMIT_S = 30
MAX_PLAN_HOTSPOTS_DEFAULT = 2000


# ----------------------------------------------------------------------------- errors


class PlanError(ValidationFailed):
    """The request cannot be carried out as asked (400); ``details`` names the fields."""

    code = "plan_invalid"


class PlanConflict(Conflict):
    """The plan changed meanwhile or is busy (409): reload and try again."""

    code = "plan_conflict"


class PlanNotFound(NotFound):
    code = "plan_not_found"


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


# ----------------------------------------------------------------------------- create


@dataclass(frozen=True)
class HotspotFilter:
    """Which hotspots a new plan covers (all conditions must hold; empty = any)."""

    kecamatan_codes: Sequence[str] = ()
    kinds: Sequence[str] = ()
    priorities: Sequence[int] = ()
    services: Sequence[str] = ()


def select_hotspots(office: Office, flt: HotspotFilter | None = None) -> list[Hotspot]:
    """Hotspots of ``office`` with something left to serve that match ``flt``.

    Hotspots that still need a location are included: the plan lists them as unserved with
    the reason, so the coordinator sees what to fix.
    """
    flt = flt or HotspotFilter()
    q = (
        sa.select(Hotspot)
        .where(
            Hotspot.office_id == office.id,
            Hotspot.status.in_([HotspotStatus.ACTIVE, HotspotStatus.NEEDS_LOCATION]),
        )
        .order_by(Hotspot.id)
    )
    if flt.kecamatan_codes:
        q = q.where(Hotspot.kecamatan_code.in_(list(flt.kecamatan_codes)))
    if flt.kinds:
        q = q.where(Hotspot.kind.in_(list(flt.kinds)))
    if flt.priorities:
        q = q.where(Hotspot.priority.in_([int(p) for p in flt.priorities]))
    if flt.services:
        q = q.where(
            Hotspot.id.in_(
                sa.select(HotspotDemand.hotspot_id).where(
                    HotspotDemand.service.in_(list(flt.services)), HotspotDemand.remaining > 0
                )
            )
        )
    else:
        q = q.where(
            Hotspot.id.in_(sa.select(HotspotDemand.hotspot_id).where(HotspotDemand.remaining > 0))
        )
    return list(db.session.scalars(q))


def create_plan(
    office: Office,
    user: User | None,
    *,
    name: str,
    start_date: date,
    end_date: date,
    team_ids: Sequence[int] | None = None,
    hotspot_ids: Sequence[int] | None = None,
    filters: HotspotFilter | None = None,
    time_limit_s: int = DEFAULT_TIME_LIMIT_S,
    seed: int = 0,
    now: datetime | None = None,
) -> Plan:
    """Create a draft plan and commit it.

    ``team_ids`` default to all active teams of the office; ``hotspot_ids`` default to every
    hotspot matching ``filters`` with remaining demand. The selection is stored as explicit
    ids in ``plan.params`` so later checks and re-optimisations cover the same hotspots.
    A plan cannot start before today in the office's time zone (``now`` for tests; default
    :func:`adapter.planning_now`); a plan starting today is solved from the time of the
    solve on (see :func:`adapter.problem_for_plan`).
    Raises :class:`PlanError` with one detail per bad field.
    """
    errors: list[dict[str, str]] = []
    name = (name or "").strip()
    if not name:
        errors.append(field_error("name", "Nama rencana wajib diisi."))
    elif len(name) > 200:
        errors.append(field_error("name", "Nama rencana paling panjang 200 karakter."))
    today = office_today(office, now if now is not None else adapter.planning_now())
    if start_date < today:
        errors.append(
            field_error(
                "start_date",
                f"Tanggal mulai {start_date.isoformat()} sudah lewat; rencana baru paling awal "
                f"mulai hari ini ({today.isoformat()}).",
            )
        )
    if end_date < start_date:
        errors.append(field_error("end_date", "Tanggal akhir tidak boleh sebelum tanggal mulai."))
    elif (end_date - start_date).days + 1 > MAX_PLAN_DAYS:
        errors.append(field_error("end_date", f"Rentang rencana paling lama {MAX_PLAN_DAYS} hari."))
    max_s = int(current_app.config.get("SOLVER_MAX_SECONDS", 600))
    if not isinstance(time_limit_s, int) or not 1 <= time_limit_s <= max_s:
        errors.append(field_error("time_limit_s", f"Batas waktu harus 1–{max_s} detik."))
    office_teams = list(
        db.session.scalars(
            sa.select(Team).where(Team.office_id == office.id, Team.active).order_by(Team.id)
        )
    )
    if team_ids:
        known = {t.id for t in office_teams}
        unknown = [i for i in team_ids if i not in known]
        if unknown:
            errors.append(
                field_error("team_ids", f"Tim tidak dikenal atau tidak aktif: {unknown[:10]}")
            )
        chosen_teams = [int(i) for i in dict.fromkeys(team_ids)]
    else:
        chosen_teams = [t.id for t in office_teams]
    if not chosen_teams:
        errors.append(field_error("team_ids", "Pilih paling sedikit satu tim aktif."))
    if hotspot_ids:
        ids = [int(i) for i in dict.fromkeys(hotspot_ids)]
        found = set(
            db.session.scalars(
                sa.select(Hotspot.id).where(Hotspot.office_id == office.id, Hotspot.id.in_(ids))
            )
        )
        unknown = [i for i in ids if i not in found]
        if unknown:
            errors.append(field_error("hotspot_ids", f"Titik tidak dikenal: {unknown[:10]}"))
        chosen_hotspots = ids
    else:
        chosen_hotspots = [h.id for h in select_hotspots(office, filters)]
    limit = int(current_app.config.get("PLAN_MAX_HOTSPOTS", MAX_PLAN_HOTSPOTS_DEFAULT))
    if len(chosen_hotspots) > limit:
        errors.append(
            field_error(
                "hotspot_ids",
                f"Terlalu banyak titik ({len(chosen_hotspots)}); paling banyak {limit} per "
                "rencana. Persempit filter atau bagi per kecamatan.",
            )
        )
    if not chosen_hotspots and not errors:
        errors.append(field_error("hotspot_ids", "Tidak ada titik dengan sisa kebutuhan."))
    if errors:
        raise PlanError("Rencana tidak dapat dibuat.", errors)
    plan = Plan(
        office_id=office.id,
        name=name,
        status=PlanStatus.DRAFT,
        start_date=start_date,
        end_date=end_date,
        params={
            "team_ids": chosen_teams,
            "hotspot_ids": chosen_hotspots,
            "time_limit_s": int(time_limit_s),
            "seed": int(seed),
            "dropped_hotspot_ids": [],
        },
        created_by_id=user.id if user is not None else None,
    )
    db.session.add(plan)
    db.session.flush()
    audit("plan.create", plan, user, hotspots=len(chosen_hotspots), teams=len(chosen_teams))
    _commit()
    return plan


def get_plan(plan_id: int, office_id: int | None = None) -> Plan:
    """Load a plan (of ``office_id`` when given) or raise :class:`PlanNotFound`."""
    plan = db.session.get(Plan, plan_id)
    if plan is None or (office_id is not None and plan.office_id != office_id):
        raise PlanNotFound("Rencana tidak ditemukan.")
    return plan


# ---------------------------------------------------------------------- solve / jobs

SOLVE_QUEUE_KEY = "outreach.solve_queue"


@dataclass(frozen=True)
class SolveQueue:
    """Where the services send background solves: ``enqueue`` and ``cancel`` a job.

    The services do not import :mod:`outreach.jobs` (the jobs run the services, not the other
    way round): the app factory installs the queue with :func:`install_solve_queue`
    (``outreach.jobs.init_app``), so dependencies point one way: jobs → services → planning.
    """

    enqueue: Callable[[Plan, User | None], SolveJob]
    cancel: Callable[[SolveJob, User | None], SolveJob]


def install_solve_queue(app: Flask, queue: SolveQueue) -> None:
    """Make ``queue`` the one :func:`start_solve` and :func:`cancel_job` use in ``app``."""
    app.extensions[SOLVE_QUEUE_KEY] = queue


def solve_queue() -> SolveQueue:
    """The current app's queue; an app not built by ``create_app`` has none."""
    queue = current_app.extensions.get(SOLVE_QUEUE_KEY)
    if queue is None:
        raise RuntimeError(
            "No solve queue is installed in this app: build it with outreach.create_app() "
            "(which calls outreach.jobs.init_app)."
        )
    return queue


def start_solve(plan: Plan, user: User | None) -> SolveJob:
    """Queue a background solve of ``plan`` and return its job (committed).

    The plan goes to ``solving``. Raises :class:`PlanConflict` when a solve is already
    running, and ``outreach.jobs.QueueUnavailable`` (503) when the queue is down — then the
    plan is left exactly as it was.
    """
    if plan.status == PlanStatus.SOLVING:
        raise PlanConflict(
            "Rencana ini sedang dihitung. Tunggu sampai selesai atau batalkan perhitungannya."
        )
    if plan.status == PlanStatus.ARCHIVED:
        raise PlanError("Rencana yang diarsipkan tidak dapat dihitung ulang.")
    return solve_queue().enqueue(plan, user)


def cancel_job(job: SolveJob, user: User | None = None) -> SolveJob:
    """Ask a job to stop; the best plan found so far is kept and stored.

    A job still waiting in the queue is cancelled at once (the plan returns to its previous
    state); a running job stops at the solver's next check (within about a second).
    """
    return solve_queue().cancel(job, user)


def office_today(office: Office | None, now: datetime | None = None) -> date:
    """Today's date in the office's time zone (``now`` for tests; default: the clock)."""
    zone = adapter.office_zone(office) if office is not None else ZoneInfo("Asia/Jakarta")
    return (adapter.aware(now) or utcnow()).astimezone(zone).date()


def reoptimise(
    plan: Plan,
    user: User | None,
    expected_version: int | None = None,
    *,
    now: datetime | None = None,
) -> SolveJob:
    """Solve the plan again, keeping locked stops (and every moved or added stop, which
    became a lock) and leaving dropped hotspots out. Returns the queued job.

    A plan that has been published (``published_version > 0``) keeps its days up to and
    including today in the office's time zone — the past cannot be re-planned and today is
    in progress — and re-plans from tomorrow (as :func:`replan_remaining`); a plan never
    published is re-planned entirely. Raises :class:`PlanError` when a published plan has
    no day after today left."""
    _check_version(plan, expected_version)
    if plan.status not in (PlanStatus.SOLVED, PlanStatus.PUBLISHED, PlanStatus.FAILED):
        raise PlanConflict("Rencana ini belum selesai dihitung; tidak ada yang dioptimalkan ulang.")
    params = {k: v for k, v in (plan.params or {}).items() if k != "replan_from"}
    if plan.published_version > 0:
        tomorrow = office_today(db.session.get(Office, plan.office_id), now) + timedelta(days=1)
        if tomorrow > plan.end_date:
            raise PlanError(
                "Semua hari rencana ini sudah lewat atau sedang berjalan; "
                "tidak ada hari yang dapat dioptimalkan ulang.",
                [
                    field_error(
                        "from_date",
                        f"Hari terakhir rencana adalah {plan.end_date.isoformat()}; "
                        "hari ini dan hari yang sudah lewat tidak direncanakan ulang.",
                    )
                ],
            )
        if tomorrow > plan.start_date:
            params["replan_from"] = tomorrow.isoformat()
    if params != (plan.params or {}):
        plan.params = params
    try:
        return start_solve(plan, user)
    except Exception:
        db.session.rollback()
        raise


def replan_remaining(
    plan: Plan,
    user: User | None,
    expected_version: int | None,
    from_date: date | None = None,
    *,
    now: datetime | None = None,
) -> SolveJob:
    """Re-plan the remaining days of a solved or published plan; return the queued job.

    Days before ``from_date`` (default: tomorrow in the office's time zone, but not before
    the plan's first day) stay exactly as they are — routes, stops, their outcomes and
    check-ins, locks. The days from ``from_date`` to the end date are solved again for the
    live remaining demand (field outcomes already lowered it; a site reported "not served"
    kept its residents and is a candidate again), keeping the locked stops of those days.
    See :func:`outreach.plans.adapter.replan_demand` and
    :func:`~outreach.plans.adapter.replan_card_stock` for what the new days plan.

    Refuses a stale ``expected_version`` (409), a plan being solved (409), a plan not yet
    solved (400), a date after the plan's end (400) and, once the plan has been published,
    today or an earlier day (400: those days are in the field already).
    """
    _check_version(plan, expected_version)
    if plan.status == PlanStatus.SOLVING:
        raise PlanConflict(
            "Rencana ini sedang dihitung. Tunggu sampai selesai atau batalkan perhitungannya."
        )
    if plan.status not in (PlanStatus.SOLVED, PlanStatus.PUBLISHED):
        raise PlanError(
            "Hanya rencana yang sudah dihitung atau diterbitkan yang dapat direncanakan ulang.",
            [field_error("status", "Hitung rencana ini dulu.")],
        )
    today = office_today(db.session.get(Office, plan.office_id), now)
    tomorrow = today + timedelta(days=1)
    if from_date is None:
        from_date = max(tomorrow, plan.start_date)
    elif plan.published_version > 0 and from_date <= today:
        raise PlanError(
            "Hari ini dan hari yang sudah lewat tidak dapat direncanakan ulang.",
            [
                field_error(
                    "from_date",
                    f"Pilih tanggal mulai paling awal {tomorrow.isoformat()} (besok); "
                    "rute hari ini sedang dijalankan tim lapangan.",
                )
            ],
        )
    from_date = max(from_date, plan.start_date)
    if from_date > plan.end_date:
        raise PlanError(
            "Tidak ada hari tersisa untuk direncanakan ulang.",
            [
                field_error(
                    "from_date",
                    f"Tanggal mulai {from_date.isoformat()} melewati hari terakhir rencana "
                    f"({plan.end_date.isoformat()}).",
                )
            ],
        )
    _set_param(plan, "replan_from", from_date.isoformat())
    audit("plan.replan_remaining", plan, user, from_date=from_date.isoformat())
    try:
        return start_solve(plan, user)
    except Exception:
        db.session.rollback()
        raise


# ------------------------------------------------------------------------------ edits


def _check_version(plan: Plan, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != plan.version_id:
        raise PlanConflict(
            "Rencana ini sudah diubah oleh pengguna lain "
            f"(versi sekarang {plan.version_id}, Anda menyimpan versi {expected_version}). "
            "Muat ulang halaman, lalu ulangi perubahan Anda.",
            [{"field": "expected_version", "message": f"current version is {plan.version_id}"}],
        )


def _check_editable(plan: Plan, expected_version: int | None) -> None:
    if plan.status == PlanStatus.SOLVING:
        raise PlanConflict(
            "Rencana ini sedang dihitung; perubahan bisa dilakukan setelah perhitungan selesai."
        )
    if plan.status not in (PlanStatus.SOLVED, PlanStatus.PUBLISHED):
        raise PlanError("Hanya rencana yang sudah dihitung yang dapat diubah.")
    _check_version(plan, expected_version)


def _find_stop(plan: Plan, stop_id: int) -> PlannedStop:
    stop = db.session.get(PlannedStop, stop_id)
    if stop is None or stop.route.plan_id != plan.id:
        raise PlanNotFound("Kunjungan tidak ditemukan dalam rencana ini.")
    return stop


def _check_day(plan: Plan, day: date, field: str = "date") -> None:
    if not plan.start_date <= day <= plan.end_date:
        raise PlanError(
            "Tanggal di luar rentang rencana.",
            [field_error(field, f"Pilih tanggal antara {plan.start_date} dan {plan.end_date}.")],
        )


def _team_of(plan: Plan, team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None or team.office_id != plan.office_id:
        raise PlanError("Tim tidak dikenal.", [field_error("team_id", "Tim tidak dikenal.")])
    return team


def _route_for(plan: Plan, team: Team, day: date) -> PlannedRoute:
    for r in plan.routes:
        if r.team_id == team.id and r.day == day:
            return r
    route = PlannedRoute(team_id=team.id, day=day)
    route.team = team
    plan.routes.append(route)
    if team.id not in (plan.params or {}).get("team_ids", []):
        _set_param(plan, "team_ids", [*plan.params.get("team_ids", []), team.id])
    return route


def _set_param(plan: Plan, key: str, value: Any) -> None:
    # JSON columns do not track in-place changes: assign a new dict.
    plan.params = {**(plan.params or {}), key: value}


def _renumber(route: PlannedRoute, order: list[PlannedStop]) -> None:
    # Two passes: positions never collide even if a unique index is added later.
    for i, s in enumerate(order):
        s.position = 10_000 + i
    for i, s in enumerate(order):
        s.position = i
    route.stops[:] = order


def _insert(route: PlannedRoute, stop: PlannedStop, position: int | None) -> None:
    order = [s for s in sorted(route.stops, key=lambda s: s.position) if s is not stop]
    pos = len(order) if position is None else max(0, min(int(position), len(order)))
    order.insert(pos, stop)
    stop.route = route
    _renumber(route, order)


def _finish_edit(
    plan: Plan,
    user: User | None,
    action: str,
    touched: Sequence[PlannedRoute] = (),
    **details: Any,
) -> None:
    """Recompute the touched routes' times, re-validate, bump the version, commit."""
    for r in list(plan.routes):
        if not r.stops:
            plan.routes.remove(r)
    db.session.flush()
    recompute_times(plan, [r for r in touched if r in plan.routes])
    validate(plan)
    if plan.status == PlanStatus.PUBLISHED:
        plan.status = PlanStatus.SOLVED
    plan.updated_at = utcnow()  # always an UPDATE of the plan row: bumps version_id
    audit(action, plan, user, **details)
    _commit()


def move_stop(
    plan: Plan,
    stop_id: int,
    team_id: int,
    day: date,
    position: int | None = None,
    expected_version: int | None = None,
    user: User | None = None,
) -> PlannedStop:
    """Move a stop to ``team_id``'s route on ``day`` at ``position`` (0 = first; ``None`` =
    last). The stop becomes locked there. Times are recomputed, the plan re-validated;
    violations (e.g. the team does not offer the service) are stored, not refused."""
    _check_editable(plan, expected_version)
    stop = _find_stop(plan, stop_id)
    _check_day(plan, day)
    team = _team_of(plan, team_id)
    if position is not None and (not isinstance(position, int) or position < 0):
        raise PlanError("Posisi tidak sah.", [field_error("position", "Posisi minimal 0.")])
    # No autoflush mid-move: a stop between two routes would look like an orphan and be deleted.
    with db.session.no_autoflush:
        old_route = stop.route
        new_route = _route_for(plan, team, day)
        if old_route is not new_route:
            stop.route = new_route  # back_populates moves it between the two collections
            _renumber(old_route, sorted(old_route.stops, key=lambda s: s.position))
        _insert(new_route, stop, position)
        stop.locked = True
    _finish_edit(
        plan,
        user,
        "plan.move_stop",
        [old_route, new_route],
        stop=stop.id,
        team=team.id,
        day=str(day),
    )
    return stop


def lock_stop(
    plan: Plan, stop_id: int, expected_version: int | None = None, user: User | None = None
) -> PlannedStop:
    """Pin a stop to its team, day and position for re-optimisation."""
    return _set_lock(plan, stop_id, True, expected_version, user)


def unlock_stop(
    plan: Plan, stop_id: int, expected_version: int | None = None, user: User | None = None
) -> PlannedStop:
    """Let re-optimisation move the stop again."""
    return _set_lock(plan, stop_id, False, expected_version, user)


def _set_lock(
    plan: Plan, stop_id: int, locked: bool, expected_version: int | None, user: User | None
) -> PlannedStop:
    _check_editable(plan, expected_version)
    stop = _find_stop(plan, stop_id)
    stop.locked = locked
    action = "plan.lock_stop" if locked else "plan.unlock_stop"
    _finish_edit(plan, user, action, [], stop=stop.id)
    return stop


def drop_stop(
    plan: Plan, stop_id: int, expected_version: int | None = None, user: User | None = None
) -> None:
    """Remove a stop; its hotspot is listed as unserved ("dropped by the coordinator") and
    stays out of re-optimised plans until it is added again."""
    _check_editable(plan, expected_version)
    stop = _find_stop(plan, stop_id)
    if stop.outcomes:
        raise PlanError("Kunjungan ini sudah punya hasil lapangan dan tidak dapat dihapus.")
    hotspot_id = stop.hotspot_id
    persons = sum(int(v) for v in (stop.persons or {}).values())
    route = stop.route
    rest = [s for s in sorted(route.stops, key=lambda s: s.position) if s is not stop]
    route.stops.remove(stop)
    db.session.delete(stop)
    _renumber(route, rest)
    others = [
        s for s in adapter.planned_stops(plan) if s.hotspot_id == hotspot_id and s is not stop
    ]
    existing = [u for u in plan.unserved if u.hotspot_id == hotspot_id]
    for u in existing:
        persons += u.persons
        plan.unserved.remove(u)
    plan.unserved.append(
        PlanUnserved(
            hotspot_id=hotspot_id,
            reason_code=adapter.REASON_DROPPED,
            reason_text=adapter.REASON_TEXTS[adapter.REASON_DROPPED],
            persons=persons,
        )
    )
    if not others:
        dropped = list((plan.params or {}).get("dropped_hotspot_ids") or [])
        if hotspot_id not in dropped:
            _set_param(plan, "dropped_hotspot_ids", [*dropped, hotspot_id])
    _finish_edit(plan, user, "plan.drop_stop", [route], stop=stop_id, hotspot=hotspot_id)


def add_hotspot(
    plan: Plan,
    hotspot_id: int,
    team_id: int,
    day: date,
    position: int | None = None,
    expected_version: int | None = None,
    user: User | None = None,
) -> PlannedStop:
    """Add a visit to ``hotspot_id`` on ``team_id``'s route on ``day`` at ``position``.

    The visit serves what is left of the hotspot's remaining demand after the plan's other
    visits; it is locked (a coordinator edit). Raises :class:`PlanError` when the hotspot
    has no location or nothing left to serve.
    """
    _check_editable(plan, expected_version)
    _check_day(plan, day)
    team = _team_of(plan, team_id)
    hotspot = db.session.get(Hotspot, hotspot_id)
    if hotspot is None or hotspot.office_id != plan.office_id:
        raise PlanError("Titik tidak dikenal.", [field_error("hotspot_id", "Titik tidak dikenal.")])
    if hotspot.lat is None or hotspot.lon is None:
        raise PlanError(
            "Titik ini belum punya lokasi.",
            [field_error("hotspot_id", adapter.REASON_TEXTS[adapter.REASON_NEEDS_LOCATION])],
        )
    live = {s.value: n for s, n in adapter.remaining_demand(hotspot).items()}
    # Stops with a field outcome are already in the remaining demand (a served one lowered
    # it, a "not served" one left it): only stops without one still claim residents.
    planned: dict[str, int] = {}
    pending: dict[str, int] = {}
    for s in adapter.planned_stops(plan):
        if s.hotspot_id == hotspot.id:
            for k, v in (s.persons or {}).items():
                planned[k] = planned.get(k, 0) + int(v)
                if not s.outcomes:
                    pending[k] = pending.get(k, 0) + int(v)
    left = {k: v - pending.get(k, 0) for k, v in live.items() if v - pending.get(k, 0) > 0}
    if not left:
        raise PlanError(
            "Seluruh kebutuhan titik ini sudah direncanakan.",
            [field_error("hotspot_id", "Tidak ada sisa warga yang belum direncanakan.")],
        )
    route = _route_for(plan, team, day)
    stop = PlannedStop(
        hotspot_id=hotspot.id,
        position=len(route.stops),
        persons=left,
        cards=sum(v for k, v in left.items() if k == Service.KTP_PRINT.value),
        locked=True,
        # Placeholders: recompute_times sets the real times before the commit.
        arrival_at=utcnow(),
        start_at=utcnow(),
        end_at=utcnow(),
    )
    stop.hotspot = hotspot
    route.stops.append(stop)
    _insert(route, stop, position)
    for u in [u for u in plan.unserved if u.hotspot_id == hotspot.id]:
        plan.unserved.remove(u)
    # The plan's demand snapshot now covers this visit too (checks compare against it).
    demand = dict((plan.params or {}).get("demand") or {})
    demand[str(hotspot.id)] = {
        k: planned.get(k, 0) + left.get(k, 0) for k in set(planned) | set(left)
    }
    _set_param(plan, "demand", demand)
    ids = list((plan.params or {}).get("hotspot_ids") or [])
    if hotspot.id not in ids:
        _set_param(plan, "hotspot_ids", [*ids, hotspot.id])
    dropped = [i for i in (plan.params or {}).get("dropped_hotspot_ids") or [] if i != hotspot.id]
    _set_param(plan, "dropped_hotspot_ids", dropped)
    _finish_edit(
        plan, user, "plan.add_hotspot", [route], hotspot=hotspot.id, team=team.id, day=str(day)
    )
    return stop


# ------------------------------------------------------------------ times and checks


def _made(stop: PlannedStop) -> bool:
    """Whether the team has already been at ``stop`` (done, outcomes or a check-in): its
    times are history, an edit does not move them."""
    return stop.status == StopStatus.DONE or bool(stop.outcomes) or bool(stop.checkins)


def recompute_times(plan: Plan, routes: Sequence[PlannedRoute] | None = None) -> None:
    """Recompute arrival/start/end of the stops of ``routes`` (default: every route) from the
    stop order — leave at the shift start, wait for openings, skip breaks — plus the route's
    distance and duration, and the plan's KPIs. Untouched routes keep the solver's times.

    Today's route (the office's date at :func:`adapter.planning_now`) is recomputed from now,
    not from the shift start: the stops the team has already made keep their times and come
    first, and the rest follow from the later of now (rounded up like a new solve) and the
    end of the last stop made, leaving from that stop. Does not commit."""
    built = _problem(plan, with_locks=False)
    problem = built.problem
    table = adapter.TravelTable(problem)
    site_ids = {s.id for s in problem.sites}
    team_ids = {t.id for t in problem.teams}
    clock = built.clock
    office = db.session.get(Office, plan.office_id)
    today, now_s = adapter.local_now(office, adapter.planning_now())
    for r in plan.routes if routes is None else routes:
        stops = sorted(
            [s for s in r.stops if s.status != StopStatus.CANCELLED], key=lambda s: s.position
        )
        if not stops or str(r.team_id) not in team_ids:
            continue
        if any(str(s.hotspot_id) not in site_ids for s in stops):
            continue  # a hotspot finished meanwhile: keep the stored times, the checker reports
        off = clock.day_offset(r.day)
        made: list[PlannedStop] = []
        leave_at = leave_from = None
        if r.day == today:
            made = sorted((s for s in stops if _made(s)), key=lambda s: s.start_at)
            stops = [s for s in stops if not _made(s)]
            leave_at = now_s
            if made:
                leave_at = max(now_s, clock.to_seconds(made[-1].end_at) - off)
                leave_from = str(made[-1].hotspot_id)
            for i, s in enumerate([*made, *stops]):
                s.position = i
        visits = [
            adapter.Visit(
                str(s.hotspot_id),
                {Service(k): int(v) for k, v in (s.persons or {}).items() if v},
            )
            for s in stops
        ]
        depart, arrive, timed, _breaks, dist, _travel = adapter.schedule_route(
            problem, table, str(r.team_id), r.day, visits, leave_at=leave_at, leave_from=leave_from
        )
        for s, t in zip(stops, timed, strict=True):
            s.arrival_at = clock.to_datetime(off + t.arrival)
            s.start_at = clock.to_datetime(off + t.start)
            s.end_at = clock.to_datetime(off + t.end)
        if made:
            # the part already driven: office → the stops made, in the order they were made
            team = problem.team(str(r.team_id))
            depart = clock.to_seconds(r.start_at) - off if r.start_at else depart
            places = [("start", team.id)] + [("site", str(s.hotspot_id)) for s in made]
            dist += sum(table.leg(team.profile, a, b)[0] for a, b in pairwise(places))
            if not stops:  # nothing left to schedule: home from the last stop made
                d, tt = table.leg(team.profile, places[-1], ("end", team.id))
                breaks = adapter.break_intervals(team.shift_on(r.day))
                arrive = adapter.arrive_after(leave_at or 0, tt, breaks)
                dist += d
        r.start_at = clock.to_datetime(off + depart)
        r.end_at = clock.to_datetime(off + arrive)
        r.distance_m = int(dist)
        r.duration_s = int(arrive - depart)
    db.session.flush()
    result = adapter.result_from_plan(plan, built)
    plan.kpis = adapter.kpis_of(result, built)


VIOLATION_TEXTS = {
    "UNKNOWN_TEAM": "Tim ini tidak termasuk dalam rencana.",
    "NOT_WORKING": "Tim tidak bertugas pada tanggal itu (libur, cuti, atau hari besar).",
    "DUPLICATE_ROUTE": "Satu tim punya dua rute pada hari yang sama.",
    "DUPLICATE_VISIT": "Kunjungan yang sama tercatat dua kali.",
    "SHIFT": "Kunjungan berada di luar jam kerja tim.",
    "DISTANCE": "Jarak atau waktu tempuh tidak cocok dengan perhitungan ulang.",
    "TRAVEL": "Waktu perjalanan tidak cukup untuk tiba pada jam yang direncanakan.",
    "PERSONS": "Jumlah warga pada kunjungan tidak sah.",
    "SKILL": "Tim tidak dapat memberikan layanan yang dibutuhkan "
    "(misalnya cetak KTP-el perlu printer).",
    "DURATION": "Lama kunjungan tidak sesuai jumlah warga dan alat perekam tim.",
    "WINDOW": "Kunjungan berada di luar jam buka lokasi.",
    "BREAK": "Kunjungan bertabrakan dengan waktu istirahat atau sholat Jumat.",
    "CARDS": "Blangko KTP-el melebihi yang dapat dibawa tim dalam sehari.",
    "CARD_STOCK": "Blangko KTP-el yang dibutuhkan melebihi stok kantor.",
    "LOCK": "Kunjungan yang dikunci tidak berada pada tim, hari, atau urutannya.",
    "OVER_DEMAND": "Jumlah warga yang direncanakan melebihi sisa kebutuhan titik.",
    "ACCOUNTING": "Jumlah warga terlayani dan tidak terlayani tidak cocok dengan kebutuhan.",
    "UNKNOWN_SITE": "Titik tidak lagi termasuk dalam rencana (sudah selesai atau diarsipkan).",
}


def _problem(plan: Plan, *, with_locks: bool) -> adapter.BuiltProblem:
    """The plan's problem; data the planning model rejects becomes a 400, not a 500."""
    try:
        return adapter.problem_for_plan(plan, with_locks=with_locks)
    except ValueError as exc:
        raise PlanError(
            "Data rencana tidak dapat diperiksa; periksa tim dan titiknya.",
            [{"field": "plan", "message": str(exc)}],
        ) from None


def violation_text(
    v: Any,
    site_names: Mapping[str, str] | None = None,
    team_names: Mapping[str, str] | None = None,
) -> str:
    """A checker violation as a sentence for the coordinator: where it happened (site, team,
    date, from the violation's structured fields), an Indonesian explanation by code, and the
    checker's precise detail (route, stop, numbers) in parentheses.

    ``site_names`` and ``team_names`` map the checker's ids (``str`` of the row ids) to names;
    an id missing from them is shown as is. Violations without structured fields (or objects
    that are not checker violations) get the explanation and detail only.
    """
    code = getattr(v, "code", "")
    detail = getattr(v, "message", "") or str(v)
    text = VIOLATION_TEXTS.get(code)
    if not text:
        return detail
    place = _violation_place(v, site_names or {}, team_names or {})
    return f"{place}: {text} ({detail})" if place else f"{text} ({detail})"


def _violation_place(v: Any, site_names: Mapping[str, str], team_names: Mapping[str, str]) -> str:
    """'Titik "SMA Negeri 3 Medan", tim "Tim 2", tanggal 2026-12-07' from the fields set."""
    parts = []
    site_id = getattr(v, "site_id", None)
    if site_id is not None:
        part = f'titik "{site_names.get(str(site_id), site_id)}"'
        visit = getattr(v, "visit", None)
        if visit:  # the first visit (0) is not numbered; a second one is "kunjungan ke-2"
            part += f" (kunjungan ke-{visit + 1})"
        parts.append(part)
    team_id = getattr(v, "team_id", None)
    if team_id is not None:
        parts.append(f'tim "{team_names.get(str(team_id), team_id)}"')
    day = getattr(v, "date", None)
    if isinstance(day, date):
        parts.append(f"tanggal {day.isoformat()}")
    if not parts:
        return ""
    place = ", ".join(parts)
    return place[0].upper() + place[1:]


def _violation_names(
    built: adapter.BuiltProblem, violations: Sequence[Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Site and team names by checker id: the problem's, plus rows the problem left out
    (a hotspot finished meanwhile, a team no longer selected) that a violation names."""
    sites = {s.id: s.name for s in built.problem.sites}
    teams = {t.id: t.name for t in built.problem.teams}
    missing_sites = {v.site_id for v in violations if v.site_id and v.site_id not in sites}
    missing_teams = {v.team_id for v in violations if v.team_id and v.team_id not in teams}
    site_ids = [int(i) for i in missing_sites if i.isdigit()]
    team_ids = [int(i) for i in missing_teams if i.isdigit()]
    if site_ids:
        rows = db.session.execute(
            sa.select(Hotspot.id, Hotspot.name).where(Hotspot.id.in_(site_ids))
        )
        sites.update({str(i): name for i, name in rows})
    if team_ids:
        rows = db.session.execute(sa.select(Team.id, Team.name).where(Team.id.in_(team_ids)))
        teams.update({str(i): name for i, name in rows})
    return sites, teams


def validate(plan: Plan) -> list[str]:
    """Re-check the plan's stored routes with the independent checker.

    Stores the violations as sentences on ``plan.violations`` and returns them (empty list =
    feasible), each naming its site, team and date. Does not commit.

    After a re-plan of the remaining days the whole plan is checked, the kept days included,
    against the snapshots the re-plan stored (see :func:`adapter.write_result`): the kept
    stops against what they planned, the new days against the live demand they were given.
    """
    from ..planning import check

    built = _problem(plan, with_locks=True)
    result = adapter.result_from_plan(plan, built)
    violations = check(built.problem, result)
    site_names, team_names = _violation_names(built, violations) if violations else ({}, {})
    messages = [violation_text(v, site_names, team_names) for v in violations]
    messages.extend(built.notes)
    plan.violations = messages
    return messages


# ---------------------------------------------------------------------------- publish


def _stop_key(s: dict[str, Any]) -> tuple:
    return (s["team_id"], s["day"], s["start"])


def snapshot_of(plan: Plan) -> list[dict[str, Any]]:
    """The plan's live stops as plain data (what field teams and residents are told)."""
    tz = adapter.office_tz(db.session.get(Office, plan.office_id), plan.start_date)
    out = []
    for s in adapter.planned_stops(plan):
        out.append(
            {
                "stop_id": s.id,
                "hotspot_id": s.hotspot_id,
                "hotspot_name": s.hotspot.name,
                "kelurahan_code": s.hotspot.kelurahan_code,
                "team_id": s.route.team_id,
                "day": s.route.day.isoformat(),
                "position": s.position,
                "arrival": adapter.iso(s.arrival_at, tz),
                "start": adapter.iso(s.start_at, tz),
                "end": adapter.iso(s.end_at, tz),
                "persons": dict(s.persons or {}),
                "cards": s.cards,
            }
        )
    return out


def diff_snapshots(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, list]:
    """What changed per hotspot between two published snapshots.

    Visits identical in team, day and start time are unchanged; a visit kept on the same team
    and day at another time is *retimed*; remaining visits of the same hotspot are paired in
    time order as *moved* (another team or day); the rest are *cancelled* (only in ``old``)
    or *added* (only in ``new``).
    """

    def by_hotspot(rows):
        out: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r["hotspot_id"], []).append(r)
        for v in out.values():
            v.sort(key=lambda r: (r["day"], r["start"] or ""))
        return out

    a, b = by_hotspot(old), by_hotspot(new)
    cancelled, moved, added, retimed = [], [], [], []
    for hid in sorted(set(a) | set(b)):
        olds, news = list(a.get(hid, [])), list(b.get(hid, []))
        for o in list(olds):
            match = next((n for n in news if _stop_key(n) == _stop_key(o)), None)
            if match is not None:
                olds.remove(o)
                news.remove(match)
        # Same team and day, another time: the visit is re-timed, not moved.
        for o in list(olds):
            match = next(
                (n for n in news if n["team_id"] == o["team_id"] and n["day"] == o["day"]), None
            )
            if match is not None:
                olds.remove(o)
                news.remove(match)
                retimed.append(
                    {
                        "hotspot_id": hid,
                        "hotspot_name": match["hotspot_name"],
                        "from": {k: o[k] for k in ("team_id", "day", "start", "end")},
                        "to": {k: match[k] for k in ("team_id", "day", "start", "end")},
                    }
                )
        for o, n in zip(olds, news, strict=False):
            moved.append(
                {
                    "hotspot_id": hid,
                    "hotspot_name": n["hotspot_name"],
                    "from": {k: o[k] for k in ("team_id", "day", "start", "end")},
                    "to": {k: n[k] for k in ("team_id", "day", "start", "end")},
                }
            )
        k = min(len(olds), len(news))
        for o in olds[k:]:
            cancelled.append(o)
        for n in news[k:]:
            added.append(n)
    return {"cancelled": cancelled, "moved": moved, "added": added, "retimed": retimed}


def publish(
    plan: Plan, user: User | None, expected_version: int | None, *, notice: str = ""
) -> PlanPublication:
    """Publish the plan as a new version, atomically (all or nothing).

    The public schedule (:mod:`outreach.public.schedule`) is rewritten from the snapshot in the
    same transaction; ``notice`` is the coordinator's note to residents on changed visits.

    Records a snapshot of every stop and, from the second version on, what changed since the
    previous version (cancelled, moved, added visits). Refuses a stale ``expected_version``
    (409), a plan that is not solved or has no stops, and a plan the checker rejects (400
    with the violations as details).
    """
    _check_version(plan, expected_version)
    if plan.status not in (PlanStatus.SOLVED, PlanStatus.PUBLISHED):
        raise PlanConflict("Hanya rencana yang sudah selesai dihitung yang dapat diterbitkan.")
    try:
        violations = validate(plan)
        if violations:
            raise PlanError(
                "Rencana masih melanggar aturan; perbaiki dulu sebelum diterbitkan.",
                [{"field": "plan", "message": m} for m in violations],
            )
        snapshot = snapshot_of(plan)
        if not snapshot:
            raise PlanError("Rencana tidak punya kunjungan; tidak ada yang diterbitkan.")
        previous = plan.publications[-1] if plan.publications else None
        if previous is None:
            changes: dict[str, Any] = {
                "cancelled": [],
                "moved": [],
                "added": [],
                "retimed": [],
                "initial": True,
            }
        else:
            changes = {**diff_snapshots(previous.snapshot, snapshot), "initial": False}
        version = plan.published_version + 1
        now = utcnow()
        pub = PlanPublication(
            version=version,
            published_at=now,
            published_by_id=user.id if user is not None else None,
            snapshot=snapshot,
            changes=changes,
        )
        plan.publications.append(pub)
        plan.published_version = version
        plan.published_at = now
        plan.status = PlanStatus.PUBLISHED
        plan.updated_at = now
        public = sync_publication(plan, snapshot, message=notice, now=now)
        audit(
            "plan.publish",
            plan,
            user,
            version=version,
            cancelled=len(changes["cancelled"]),
            moved=len(changes["moved"]),
            added=len(changes["added"]),
            public=public,
        )
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return pub


# ----------------------------------------------------------------------------- output


def plan_to_dict(plan: Plan, *, include_job: bool = True) -> dict[str, Any]:
    """The plan for the API and the review screens (ISO 8601 times with the office offset)."""
    office = db.session.get(Office, plan.office_id)
    tz = adapter.office_tz(office, plan.start_date)
    reasons = unserved_reasons(plan.unserved)  # in the request's language
    routes = []
    for r in sorted(plan.routes, key=lambda r: (r.day, r.team_id)):
        stops = sorted(r.stops, key=lambda s: s.position)
        routes.append(
            {
                "id": r.id,
                "team_id": r.team_id,
                "team_name": r.team.name if r.team else None,
                "date": r.day.isoformat(),
                "start": adapter.iso(r.start_at, tz),
                "end": adapter.iso(r.end_at, tz),
                "distance_km": round(r.distance_m / 1000, 3),
                "duration_min": round(r.duration_s / 60, 1),
                "persons": sum(sum((s.persons or {}).values()) for s in stops),
                "cards": sum(s.cards for s in stops),
                "stops": [
                    {
                        "id": s.id,
                        "hotspot_id": s.hotspot_id,
                        "hotspot_name": s.hotspot.name if s.hotspot else None,
                        "lat": s.hotspot.lat if s.hotspot else None,
                        "lon": s.hotspot.lon if s.hotspot else None,
                        "position": s.position,
                        "arrival": adapter.iso(s.arrival_at, tz),
                        "start": adapter.iso(s.start_at, tz),
                        "end": adapter.iso(s.end_at, tz),
                        "persons": dict(s.persons or {}),
                        "cards": s.cards,
                        "locked": s.locked,
                        "status": str(s.status.value if hasattr(s.status, "value") else s.status),
                    }
                    for s in stops
                ],
            }
        )
    job = None
    if include_job:
        row = db.session.scalar(
            sa.select(SolveJob)
            .where(SolveJob.plan_id == plan.id)
            .order_by(SolveJob.created_at.desc())
            .limit(1)
        )
        job = job_to_dict(row) if row is not None else None
    return {
        "id": plan.id,
        "name": plan.name,
        "status": str(plan.status.value if hasattr(plan.status, "value") else plan.status),
        "version": plan.version_id,
        "office_id": plan.office_id,
        "start_date": plan.start_date.isoformat(),
        "end_date": plan.end_date.isoformat(),
        "timezone": office.timezone if office else None,
        "utc_offset": tz.tzname(None).replace("UTC", "") or "+00:00",
        "solver_status": plan.solver_status,
        "published_version": plan.published_version,
        "published_at": adapter.iso(plan.published_at, tz),
        "team_ids": list((plan.params or {}).get("team_ids") or []),
        "hotspot_count": len((plan.params or {}).get("hotspot_ids") or []),
        "time_limit_s": (plan.params or {}).get("time_limit_s"),
        "routes": routes,
        "unserved": [
            {
                "hotspot_id": u.hotspot_id,
                "hotspot_name": u.hotspot.name if u.hotspot else None,
                "reason_code": u.reason_code,
                "reason": reasons[u],
                "persons": u.persons,
            }
            for u in sorted(plan.unserved, key=lambda u: (u.reason_code, u.hotspot_id))
        ],
        "kpis": dict(plan.kpis or {}),
        "violations": list(plan.violations or []),
        "publications": [
            {
                "version": p.version,
                "published_at": adapter.iso(p.published_at, tz),
                "stops": len(p.snapshot or []),
                "changes": {k: len(v) for k, v in (p.changes or {}).items() if isinstance(v, list)},
            }
            for p in plan.publications
        ],
        "job": job,
    }


def job_to_dict(job: SolveJob) -> dict[str, Any]:
    """A job's status and progress for polling."""
    return {
        "id": job.id,
        "plan_id": job.plan_id,
        "status": str(job.status.value if hasattr(job.status, "value") else job.status),
        "backend": job.backend,
        "progress": dict(job.progress or {}),
        "cancel_requested": job.cancel_requested,
        "error": job.error or None,
        "created_at": _iso_utc(job.created_at),
        "started_at": _iso_utc(job.started_at),
        "finished_at": _iso_utc(job.finished_at),
        "heartbeat_at": _iso_utc(job.heartbeat_at),
    }


def _iso_utc(dt) -> str | None:
    value = adapter.aware(dt)
    return value.isoformat() if value is not None else None


# ----------------------------------------------------------------------------- commit


def _commit() -> None:
    """Commit, turning a concurrent version bump into :class:`PlanConflict`."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise PlanConflict(
            "Rencana ini baru saja diubah oleh pengguna lain. Muat ulang halaman, lalu ulangi "
            "perubahan Anda."
        ) from None
    except Exception:
        db.session.rollback()
        raise


__all__ = [
    "HotspotFilter",
    "PlanConflict",
    "PlanError",
    "PlanNotFound",
    "SolveQueue",
    "add_hotspot",
    "cancel_job",
    "create_plan",
    "diff_snapshots",
    "drop_stop",
    "get_plan",
    "install_solve_queue",
    "job_to_dict",
    "lock_stop",
    "move_stop",
    "plan_to_dict",
    "publish",
    "recompute_times",
    "office_today",
    "reoptimise",
    "replan_remaining",
    "select_hotspots",
    "snapshot_of",
    "solve_queue",
    "start_solve",
    "unlock_stop",
    "validate",
]
