"""API views: parse (schemas), call the domain services, return JSON.

Every view is declared with :func:`outreach.api.spec.endpoint`, which registers the rule,
validates the input with the same schema the OpenAPI document shows, and documents it.
Errors are raised as typed domain exceptions and rendered in the one error shape.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import jsonify, render_template, request, url_for
from flask_login import current_user

from .. import __version__, jobs, roles
from ..errors import Conflict, DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..models import (
    Hotspot,
    HotspotDemand,
    HotspotOpening,
    HotspotStatus,
    Office,
    Plan,
    Team,
    TeamWeeklyShift,
    audit,
)
from ..plans import service
from ..roles import public_view
from . import bp
from .schemas import (
    AddHotspot,
    HotspotCreate,
    HotspotQuery,
    ImportQuery,
    MoveStop,
    PlanCreate,
    Publish,
    TeamCreate,
    Version,
)
from .spec import ENDPOINTS, endpoint, openapi_document

PLANS = "plans"


def acting_user() -> Any:
    """The real user object behind ``current_user`` (bearer or session)."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def current_office() -> Office:
    """The caller's office; accounts without one (admins too) get 403 here, see
    :func:`outreach.roles.current_office`."""
    return roles.current_office()


def _plan(plan_id: int) -> Plan:
    return service.get_plan(plan_id, current_office().id)


# ---------------------------------------------------------------------------- meta


@endpoint(bp, "/health", "GET", summary="Cek API hidup", tag="meta", public=True)
@public_view
def health():
    """Report that the API answers."""
    return jsonify(status="ok")


@endpoint(bp, "/openapi.json", "GET", summary="Dokumen OpenAPI 3.1", tag="meta")
def openapi():
    """Return the OpenAPI document generated from the endpoint declarations."""
    return jsonify(openapi_document(__version__))


@endpoint(bp, "/docs", "GET", summary="Halaman dokumentasi singkat (HTML)", tag="meta")
def docs():
    """Show a short human-readable list of the endpoints and their fields."""
    return render_template("api/docs.html", endpoints=ENDPOINTS, prefix="/api/v1")


# ------------------------------------------------------------------------- hotspots


def hotspot_to_dict(h: Hotspot) -> dict[str, Any]:
    return {
        "id": h.id,
        "external_code": h.external_code,
        "name": h.name,
        "kind": str(h.kind.value if hasattr(h.kind, "value") else h.kind),
        "address": h.address,
        "lat": h.lat,
        "lon": h.lon,
        "kecamatan_code": h.kecamatan_code,
        "kecamatan_name": h.kecamatan_name,
        "kelurahan_code": h.kelurahan_code,
        "kelurahan_name": h.kelurahan_name,
        "priority": h.priority,
        "contact_name": h.contact_name,
        "contact_phone": h.contact_phone,
        "status": str(h.status.value if hasattr(h.status, "value") else h.status),
        "demand": {
            d.service: {"requested": d.requested, "remaining": d.remaining} for d in h.demands
        },
        "openings": [
            {"weekday": o.weekday, "start": _hhmm(o.start_min), "end": _hhmm(o.end_min)}
            for o in h.openings
        ],
    }


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@endpoint(
    bp, "/hotspots", "GET", summary="Daftar titik (filter)", tag="hotspots", query=HotspotQuery
)
def hotspots_list(query: dict[str, Any]):
    """List the office's hotspots, filtered and paged."""
    office = current_office()
    q = sa.select(Hotspot).where(Hotspot.office_id == office.id)
    if query.get("kecamatan_code"):
        q = q.where(Hotspot.kecamatan_code == query["kecamatan_code"])
    if query.get("kind"):
        q = q.where(Hotspot.kind == query["kind"])
    if query.get("priority"):
        q = q.where(Hotspot.priority == query["priority"])
    if query.get("status"):
        q = q.where(Hotspot.status == query["status"])
    if query.get("service"):
        q = q.where(
            Hotspot.id.in_(
                sa.select(HotspotDemand.hotspot_id).where(
                    HotspotDemand.service == query["service"], HotspotDemand.remaining > 0
                )
            )
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
    rows = db.session.scalars(q.order_by(Hotspot.id).limit(query["limit"]).offset(query["offset"]))
    return jsonify(
        items=[hotspot_to_dict(h) for h in rows],
        total=total,
        limit=query["limit"],
        offset=query["offset"],
    )


@endpoint(
    bp,
    "/hotspots",
    "POST",
    summary="Tambah satu titik",
    tag="hotspots",
    body=HotspotCreate,
    responses={201: "Titik dibuat"},
)
def hotspots_create(body: dict[str, Any]):
    """Create one hotspot with its demand and opening hours."""
    office = current_office()
    code = body.get("external_code") or None
    if code and db.session.scalar(
        sa.select(Hotspot.id).where(Hotspot.office_id == office.id, Hotspot.external_code == code)
    ):
        raise Conflict(
            "Kode titik sudah dipakai.",
            [{"field": "external_code", "message": "Kode ini sudah ada di kantor Anda."}],
        )
    located = "lat" in body
    h = Hotspot(
        office_id=office.id,
        external_code=code,
        name=body["name"],
        kind=body["kind"],
        address=body["address"],
        lat=body.get("lat"),
        lon=body.get("lon"),
        location_source="api" if located else "none",
        kecamatan_code=body["kecamatan_code"],
        kecamatan_name=body["kecamatan_name"],
        kelurahan_code=body["kelurahan_code"],
        kelurahan_name=body["kelurahan_name"],
        priority=body["priority"],
        notes=body["notes"],
        contact_name=body["contact_name"],
        contact_phone=body["contact_phone"],
        status=HotspotStatus.ACTIVE if located else HotspotStatus.NEEDS_LOCATION,
    )
    for svc, n in body["demand"].items():
        h.demands.append(HotspotDemand(service=svc, requested=n, remaining=n))
    for o in body["openings"]:
        h.openings.append(
            HotspotOpening(weekday=o["weekday"], start_min=o["start"], end_min=o["end"])
        )
    db.session.add(h)
    db.session.flush()
    audit("hotspot.create", h, acting_user(), via="api")
    db.session.commit()
    return jsonify(hotspot_to_dict(h)), 201


@endpoint(
    bp,
    "/hotspots/import",
    "POST",
    summary="Impor CSV/XLSX: ?mode=preview (bawaan) lalu ?mode=commit dengan berkas yang sama",
    tag="hotspots",
    query=ImportQuery,
    multipart=True,
    responses={200: "Pratinjau atau hasil impor"},
)
def hotspots_import(query: dict[str, Any]):
    """Preview an upload (row errors and warnings), or import its valid rows in one go."""
    from ..importing import ImportRejected

    office = current_office()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(
            "Lampirkan berkas CSV atau XLSX.", [{"field": "file", "message": "Wajib diisi."}]
        )
    data = upload.read()
    try:
        from ..importing import service as import_service
    except ImportError:  # the importer service is not installed yet
        raise DomainError("Layanan impor belum tersedia.", code="not_implemented") from None
    try:
        if query["mode"] == "preview":
            preview = import_service.preview_upload(db.session, office, upload.filename, data)
            return jsonify(mode="preview", **preview.to_dict())
        result = import_service.commit_import(
            db.session, office, upload.filename, data, user=acting_user()
        )
    except ImportRejected as exc:
        db.session.rollback()
        raise ValidationFailed(exc.message, [exc.issue.to_dict()], code="import_rejected") from None
    body = result.to_dict() if hasattr(result, "to_dict") else result
    return jsonify(mode="commit", **(body if isinstance(body, dict) else {"result": body}))


# ---------------------------------------------------------------------------- teams


def team_to_dict(t: Team) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "vehicle": str(t.vehicle.value if hasattr(t.vehicle, "value") else t.vehicle),
        "kits": t.kits,
        "services": list(t.services or []),
        "has_printer": t.has_printer,
        "cards_per_day": t.cards_per_day,
        "active": t.active,
        "weekly": [
            {
                "weekday": s.weekday,
                "start": _hhmm(s.start_min),
                "end": _hhmm(s.end_min),
                "breaks": [
                    {"start": _hhmm(int(b[0])), "end": _hhmm(int(b[1])), "label": str(b[2])}
                    for b in (s.breaks or [])
                    if len(b) >= 3
                ],
            }
            for s in t.weekly_shifts
        ],
    }


@endpoint(bp, "/teams", "GET", summary="Daftar tim", tag="teams")
def teams_list():
    """List the office's teams with their weekly pattern."""
    office = current_office()
    rows = db.session.scalars(sa.select(Team).where(Team.office_id == office.id).order_by(Team.id))
    return jsonify(items=[team_to_dict(t) for t in rows])


@endpoint(
    bp,
    "/teams",
    "POST",
    summary="Tambah tim",
    tag="teams",
    body=TeamCreate,
    responses={201: "Tim dibuat"},
)
def teams_create(body: dict[str, Any]):
    """Create a team; without a weekly pattern it gets Mon-Fri 08:00-16:00 with breaks."""
    office = current_office()
    if db.session.scalar(
        sa.select(Team.id).where(Team.office_id == office.id, Team.name == body["name"])
    ):
        raise Conflict(
            "Nama tim sudah dipakai.",
            [{"field": "name", "message": "Nama ini sudah ada di kantor Anda."}],
        )
    weekly = body.get("weekly")
    if weekly is not None:
        days = [w["weekday"] for w in weekly]
        if len(days) != len(set(days)):
            raise ValidationFailed(
                "Masukan tidak valid.",
                [{"field": "weekly", "message": "Satu hari hanya boleh muncul sekali."}],
            )
        errors = []
        for i, w in enumerate(weekly):
            for j, b in enumerate(w["breaks"]):
                if b["start"] < w["start"] or b["end"] > w["end"]:
                    errors.append(
                        {
                            "field": f"weekly[{i}].breaks[{j}]",
                            "message": "Istirahat harus di dalam jam kerja.",
                        }
                    )
        if errors:
            raise ValidationFailed("Masukan tidak valid.", errors)
    team = Team(
        office_id=office.id,
        name=body["name"],
        vehicle=body["vehicle"],
        kits=body["kits"],
        services=list(dict.fromkeys(body["services"])),
        has_printer=body["has_printer"],
        cards_per_day=body["cards_per_day"],
    )
    if weekly is None:
        weekly = [
            {
                "weekday": wd,
                "start": 480,
                "end": 960,
                "breaks": [
                    {"start": 690, "end": 810, "label": "Sholat Jumat"}
                    if wd == 4
                    else {"start": 720, "end": 780, "label": "Istirahat"}
                ],
            }
            for wd in range(5)
        ]
    for w in weekly:
        team.weekly_shifts.append(
            TeamWeeklyShift(
                weekday=w["weekday"],
                start_min=w["start"],
                end_min=w["end"],
                breaks=[[b["start"], b["end"], b["label"]] for b in w["breaks"]],
            )
        )
    db.session.add(team)
    db.session.flush()
    audit("team.create", team, acting_user(), via="api")
    db.session.commit()
    return jsonify(team_to_dict(team)), 201


# ---------------------------------------------------------------------------- plans


def _job_url(job_id: str) -> str:
    return url_for("api.job_get", job_id=job_id)


@endpoint(bp, "/plans", "GET", summary="Daftar rencana", tag=PLANS)
def plans_list():
    """List the office's plans, newest first."""
    office = current_office()
    rows = db.session.scalars(
        sa.select(Plan).where(Plan.office_id == office.id).order_by(Plan.id.desc()).limit(200)
    )
    return jsonify(
        items=[
            {
                "id": p.id,
                "name": p.name,
                "status": str(p.status.value),
                "version": p.version_id,
                "start_date": p.start_date.isoformat(),
                "end_date": p.end_date.isoformat(),
                "published_version": p.published_version,
            }
            for p in rows
        ]
    )


@endpoint(
    bp,
    "/plans",
    "POST",
    summary="Buat rencana dan mulai perhitungan (mengembalikan id pekerjaan)",
    tag=PLANS,
    body=PlanCreate,
    responses={202: "Rencana dibuat, perhitungan diantrekan"},
)
def plans_create(body: dict[str, Any]):
    """Create a plan from dates, teams and hotspot filters, and queue its solve."""
    office = current_office()
    user = acting_user()
    flt = service.HotspotFilter(
        kecamatan_codes=body.get("kecamatan_codes") or (),
        kinds=body.get("kinds") or (),
        priorities=body.get("priorities") or (),
        services=body.get("services") or (),
    )
    plan = service.create_plan(
        office,
        user,
        name=body["name"],
        start_date=body["start_date"],
        end_date=body["end_date"],
        team_ids=body.get("team_ids"),
        hotspot_ids=body.get("hotspot_ids"),
        filters=flt,
        time_limit_s=body["time_limit_s"],
        seed=body["seed"],
    )
    plan_id = plan.id
    try:
        job = service.start_solve(plan, user)
    except jobs.QueueUnavailable as exc:
        exc.details = [*exc.details, {"field": "plan_id", "message": str(plan_id)}]
        raise
    return (
        jsonify(
            plan_id=plan_id,
            job_id=job.id,
            job=service.job_to_dict(job),
            job_url=_job_url(job.id),
            plan_url=url_for("api.plan_get", plan_id=plan_id),
        ),
        202,
    )


@endpoint(
    bp, "/plans/<int:plan_id>", "GET", summary="Rencana: rute, belum terlayani, KPI", tag=PLANS
)
def plan_get(plan_id: int):
    """Return the plan with routes, stops, unserved hotspots and KPIs."""
    return jsonify(service.plan_to_dict(_plan(plan_id)))


def _edited(plan: Plan):
    return jsonify(service.plan_to_dict(plan))


@endpoint(
    bp,
    "/plans/<int:plan_id>/stops/<int:stop_id>/move",
    "POST",
    summary="Pindahkan kunjungan ke tim/hari/urutan lain",
    tag=PLANS,
    body=MoveStop,
)
def stop_move(plan_id: int, stop_id: int, body: dict[str, Any]):
    """Move a stop; it becomes locked there."""
    plan = _plan(plan_id)
    service.move_stop(
        plan,
        stop_id,
        body["team_id"],
        body["date"],
        body.get("position"),
        expected_version=body["expected_version"],
        user=acting_user(),
    )
    return _edited(plan)


@endpoint(
    bp,
    "/plans/<int:plan_id>/stops/<int:stop_id>/lock",
    "POST",
    summary="Kunci kunjungan",
    tag=PLANS,
    body=Version,
)
def stop_lock(plan_id: int, stop_id: int, body: dict[str, Any]):
    """Lock a stop to its team, day and position."""
    plan = _plan(plan_id)
    service.lock_stop(plan, stop_id, body["expected_version"], acting_user())
    return _edited(plan)


@endpoint(
    bp,
    "/plans/<int:plan_id>/stops/<int:stop_id>/unlock",
    "POST",
    summary="Buka kunci kunjungan",
    tag=PLANS,
    body=Version,
)
def stop_unlock(plan_id: int, stop_id: int, body: dict[str, Any]):
    """Unlock a stop."""
    plan = _plan(plan_id)
    service.unlock_stop(plan, stop_id, body["expected_version"], acting_user())
    return _edited(plan)


@endpoint(
    bp,
    "/plans/<int:plan_id>/stops/<int:stop_id>/drop",
    "POST",
    summary="Hapus kunjungan (titik menjadi belum terlayani)",
    tag=PLANS,
    body=Version,
)
def stop_drop(plan_id: int, stop_id: int, body: dict[str, Any]):
    """Drop a stop; its hotspot is listed as unserved."""
    plan = _plan(plan_id)
    service.drop_stop(plan, stop_id, body["expected_version"], acting_user())
    return _edited(plan)


@endpoint(
    bp,
    "/plans/<int:plan_id>/stops",
    "POST",
    summary="Tambahkan titik ke rute",
    tag=PLANS,
    body=AddHotspot,
    responses={201: "Kunjungan ditambahkan"},
)
def stop_add(plan_id: int, body: dict[str, Any]):
    """Add a hotspot to a team's route on a day."""
    plan = _plan(plan_id)
    service.add_hotspot(
        plan,
        body["hotspot_id"],
        body["team_id"],
        body["date"],
        body.get("position"),
        expected_version=body["expected_version"],
        user=acting_user(),
    )
    return _edited(plan), 201


@endpoint(
    bp,
    "/plans/<int:plan_id>/reoptimise",
    "POST",
    summary="Optimalkan ulang (kunjungan terkunci dan hasil edit tetap)",
    tag=PLANS,
    body=Version,
    responses={202: "Perhitungan diantrekan"},
)
def plan_reoptimise(plan_id: int, body: dict[str, Any]):
    """Queue a re-optimisation that keeps locks and edits."""
    plan = _plan(plan_id)
    job = service.reoptimise(plan, acting_user(), body["expected_version"])
    return jsonify(job_id=job.id, job=service.job_to_dict(job), job_url=_job_url(job.id)), 202


@endpoint(
    bp,
    "/plans/<int:plan_id>/publish",
    "POST",
    summary="Terbitkan rencana (versi baru, dengan daftar perubahan)",
    tag=PLANS,
    body=Publish,
    responses={201: "Versi diterbitkan"},
)
def plan_publish(plan_id: int, body: dict[str, Any]):
    """Publish the plan atomically as a new version."""
    plan = _plan(plan_id)
    pub = service.publish(
        plan, acting_user(), body["expected_version"], notice=body.get("notice") or ""
    )
    return (
        jsonify(
            plan_id=plan.id,
            version=pub.version,
            plan_version=plan.version_id,
            published_at=pub.published_at.isoformat(),
            changes=pub.changes,
            stops=len(pub.snapshot),
        ),
        201,
    )


# ----------------------------------------------------------------------------- jobs


def _job(job_id: str):
    job = jobs.get_job(job_id)
    if job is None:
        raise NotFound("Pekerjaan tidak ditemukan.")
    plan = db.session.get(Plan, job.plan_id)
    if plan is None or plan.office_id != current_office().id:
        raise NotFound("Pekerjaan tidak ditemukan.")
    return job


@endpoint(bp, "/jobs/<job_id>", "GET", summary="Status dan kemajuan pekerjaan", tag="jobs")
def job_get(job_id: str):
    """Return a job's status and progress (best residents served, km, elapsed)."""
    return jsonify(service.job_to_dict(_job(job_id)))


@endpoint(
    bp,
    "/jobs/<job_id>/cancel",
    "POST",
    summary="Batalkan pekerjaan (rencana terbaik sejauh ini disimpan)",
    tag="jobs",
    responses={202: "Pembatalan diminta"},
)
def job_cancel(job_id: str):
    """Ask the job to stop; the best plan found so far is kept."""
    job = service.cancel_job(_job(job_id), acting_user())
    return jsonify(service.job_to_dict(job)), 202
