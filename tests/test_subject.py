"""A requester's rights under UU PDP: see everything held about them, and have it deleted.

Sentinel personal data is planted through the real flow: the public form, the coordinator's
view, approval and pin, a published plan, the field team's stop page, check-in and outcome,
the plan exports. The export must hold all of it; after the erasure no table may hold any of
it, nor the request's id as a reference, nor the status code's hash.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    Hotspot,
    HotspotKind,
    HotspotStatus,
    PlanPublication,
    RequestStatus,
    Role,
    StopCheckin,
    VisitOutcome,
    VisitRequest,
)
from outreach.privacy import ERASED_OBJECT, erase_subject, erased_site_name, subject_export
from outreach.public.requests import CONSENT_VERSION, status_code_hash
from tests.factories import (
    csrf_token_in,
    form_login,
    login,
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_stop,
    make_team,
    make_unserved,
    make_user,
    today_wib,
)
from tests.test_privacy import make_request

REQUESTER = "ZZREQUESTERZZ Budi"
PERSON = "ZZPERSONZZ Siti"
PHONE = "+6281299887766"
PHONE_STORED = "081299887766"
ADDRESS = "ZZADDRESSZZ Jl. Kenanga No. 3"
NIK = "1271014107500001"
NOTES = "ZZNOTESZZ kamar belakang"
OUTCOME_NOTES = "ZZOUTCOMEZZ Ibu Siti sudah direkam"
# Coordinates typed on the form, pinned by the coordinator, fixed by the team's GPS.
FORM_LAT, FORM_LON = "3.581357", "98.672468"
PIN_LAT, PIN_LON = "3.591357", "98.682468"
GPS_LAT, GPS_LON, GPS_ACCURACY = 3.592468, 98.683579, 7.125
TEXT_SENTINELS = (
    REQUESTER,
    PERSON,
    PHONE_STORED,
    ADDRESS,
    NIK,
    NOTES,
    OUTCOME_NOTES,
    FORM_LAT,
    FORM_LON,
    PIN_LAT,
    PIN_LON,
    str(GPS_LAT),
    str(GPS_LON),
)
# Any release's code: groups of 4 to 6 Crockford characters.
CODE_RE = re.compile(r"JB(?:-[0-9A-HJKMNP-TV-Z]{4,6}){4,5}")


def html_of(resp) -> str:
    return resp.get_data(as_text=True)


class Flow:
    """Everything the planted flow made."""


@pytest.fixture
def flow(app, monkeypatch, caplog):
    """One request through every step that copies or shows the requester's data."""
    caplog.set_level(logging.DEBUG)
    office = make_office(slug="kota-medan", requires_nik=True)
    make_hotspot(office)  # Kel. Pasar Baru, Kec. Medan Kota: the form's kelurahan list
    coord = make_user(Role.COORDINATOR, office_id=office.id)
    team = make_team(office)
    member = make_user(Role.FIELD, team=team)
    db.session.commit()

    # 1. The resident asks on the public form and gets a status code.
    public = app.test_client()
    resp = public.post(
        "/o/kota-medan/home-visit",
        data={
            "requester_name": REQUESTER,
            "requester_relation": "family",
            "person_name": PERSON,
            "phone": PHONE,
            "address": ADDRESS,
            "kelurahan": "12.71.01.1001",
            "reason": "bedridden",
            "services": ["ktp_record"],
            "persons": "2",
            "notes": NOTES,
            "consent": "y",
            "lat": FORM_LAT,
            "lon": FORM_LON,
            "nik": NIK,
        },
    )
    assert resp.status_code == 303, html_of(resp)
    code = CODE_RE.search(html_of(public.get(resp.headers["Location"]))).group(0)
    req = db.session.scalar(sa.select(VisitRequest))
    assert req.nik == NIK and req.phone == PHONE_STORED

    # 2. The coordinator reads it, accepts it and moves the pin onto the house.
    coord_client = app.test_client()
    login(coord_client, coord, lang="id")
    assert coord_client.get(f"/coord/requests/{req.id}").status_code == 200
    assert coord_client.post(f"/coord/requests/{req.id}/approve").status_code == 303
    db.session.expire_all()
    home = db.session.get(Hotspot, db.session.get(VisitRequest, req.id).hotspot_id)
    resp = coord_client.post(
        f"/coord/hotspots/{home.id}/location", data={"lat": PIN_LAT, "lon": PIN_LON}
    )
    assert resp.status_code == 302, html_of(resp)

    # 3. A plan visits the house today; it is published (the checker is not the point here).
    from outreach.plans import service

    plan = make_plan(office, start_date=today_wib(), end_date=today_wib() + timedelta(days=2))
    route = make_route(plan, team, today_wib())
    stop = make_stop(route, db.session.get(Hotspot, home.id), persons={"ktp_record": 2})
    make_stop(route)  # an ordinary site on the same route
    draft = make_plan(office, name="Rencana cadangan")
    make_unserved(draft, home, reason_text=f"{home.name}: semua tim sudah penuh.")
    db.session.commit()
    monkeypatch.setattr(service, "validate", lambda plan: [])
    service.publish(plan, coord, None)
    assert db.session.scalar(sa.select(sa.func.count(PlanPublication.id))) == 1

    # 4. The field team opens the stop (the contact is shown), checks in, records the outcome.
    field_client = app.test_client()
    form_login(field_client, member)
    page = html_of(field_client.get(f"/field/stop/{stop.id}"))
    assert PERSON in page
    token = create_token(member, "tablet")
    db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    checkin = {
        "client_uuid": str(uuid.uuid4()),
        "stop_id": stop.id,
        "lat": GPS_LAT,
        "lon": GPS_LON,
        "accuracy_m": GPS_ACCURACY,
    }
    resp = app.test_client().post("/api/v1/field/checkins", json=checkin, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    outcome = {
        "client_uuid": str(uuid.uuid4()),
        "stop_id": stop.id,
        "present": 2,
        "recorded": {"ktp_record": 2},
        "cards_carried": 0,
        "cards_used": 0,
        "notes": OUTCOME_NOTES,
    }
    resp = app.test_client().post("/api/v1/field/outcomes", json=outcome, headers=auth)
    assert resp.status_code == 201, resp.get_json()

    # 5. The coordinator exports the plan and prints the team's day sheet.
    for url in (
        f"/coord/plans/{plan.id}/export.csv",
        f"/coord/plans/{plan.id}/routes/{route.id}.gpx",
        f"/coord/plans/{plan.id}/routes/{route.id}/sheet",
    ):
        assert coord_client.get(url).status_code == 200, url

    f = Flow()
    f.office, f.coord, f.member, f.team = office, coord, member, team
    f.req_id, f.code, f.home_id, f.plan, f.stop_id = req.id, code, home.id, plan, stop.id
    f.coord_client, f.field_client = coord_client, field_client
    f.token_hash = status_code_hash(code)
    return f


# ------------------------------------------------------------------------------ export


def test_export_holds_everything_about_the_requester(app, flow, caplog):
    """SECURITY row 49: the export contains every planted value and the access log."""
    resp = flow.coord_client.post(f"/coord/requests/{flow.req_id}/export")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store"
    data = resp.get_json()
    text = json.dumps(data, ensure_ascii=False)
    for sentinel in (REQUESTER, PERSON, PHONE_STORED, ADDRESS, NIK, NOTES, OUTCOME_NOTES):
        assert sentinel in text, sentinel
    assert data["request"]["id"] == flow.req_id
    assert data["request"]["lat"] == pytest.approx(float(FORM_LAT))
    assert data["consent"]["notice_version"] == CONSENT_VERSION
    assert data["consent"]["given_at"]
    site = data["home_visit_site"]
    assert site["id"] == flow.home_id and site["kind"] == "home"
    assert (site["lat"], site["lon"]) == (
        pytest.approx(float(PIN_LAT)),
        pytest.approx(float(PIN_LON)),
    )
    assert [v["stop_id"] for v in data["planned_visits"]] == [flow.stop_id]
    [checkin] = data["checkins"]
    assert (checkin["lat"], checkin["lon"], checkin["accuracy_m"]) == (
        GPS_LAT,
        GPS_LON,
        GPS_ACCURACY,
    )
    assert checkin["recorded_by"] == flow.member.username
    [outcome] = data["outcomes"]
    assert outcome["notes"] == OUTCOME_NOTES and outcome["recorded"] == {"ktp_record": 2}
    [pub] = data["published_schedule"]
    assert [e["hotspot_id"] for e in pub["entries"]] == [flow.home_id]
    assert data["public_schedule"] and data["public_schedule"][0]["day"] == today_wib().isoformat()
    history = [e["action"] for e in data["history"]]
    for action in ("visit_request.create", "visit_request.approve", "visit_request.view"):
        assert action in history
    log = data["access_log"]
    seen = {(e["kind"], e["channel"], e["user"]) for e in log}
    assert ("view", "coordinator", flow.coord.username) in seen
    assert ("view", "field", flow.member.username) in seen
    assert ("field", "field", flow.member.username) in seen  # check-in and outcome
    assert ("export", "coordinator", flow.coord.username) in seen
    whats = {e["what"] for e in log}
    assert {"export csv", "export gpx", "export sheet", "export json"} <= whats
    # The downloads themselves are audited; nothing personal reached a log line.
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.action == "visit_request.export"
            )
        )
        == 1
    )
    for sentinel in TEXT_SENTINELS[:7]:
        assert sentinel not in caplog.text


def test_cli_export_by_request_or_status_code(app, flow):
    runner = app.test_cli_runner()
    by_id = runner.invoke(args=["subject-export", "--request", str(flow.req_id)])
    assert by_id.exit_code == 0, by_id.output
    assert json.loads(by_id.output)["request"]["nik"] == NIK
    by_code = runner.invoke(args=["subject-export", "--code", flow.code.lower()])
    assert by_code.exit_code == 0, by_code.output
    assert json.loads(by_code.output)["request"]["id"] == flow.req_id
    for args in (
        ["subject-export", "--code", "not-a-code"],
        ["subject-export", "--request", "999999"],
        ["subject-export"],
        ["subject-export", "--request", "1", "--code", flow.code],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and NIK not in result.output, args
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "visit_request.export")
    ).all()
    assert [e.details["via"] for e in events] == ["cli", "cli"]


# ------------------------------------------------------------------------------ erase


def _text_hits(needle: str) -> list[tuple[str, str]]:
    """(table, column) pairs where any row's value, cast to text, contains ``needle``."""
    hits = []
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            found = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(table)
                .where(sa.cast(column, sa.Text).like(f"%{escaped}%", escape="\\"))
            )
            if found:
                hits.append((table.name, column.name))
    return hits


def _id_references(request_id: int) -> list[str]:
    """Every way a row could still point at the request."""
    refs = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == VisitRequest.__tablename__:
                n = db.session.scalar(
                    sa.select(sa.func.count()).select_from(table).where(fk.parent == request_id)
                )
                if n:
                    refs.append(f"{table.name}.{fk.parent.name}")
        for column in table.columns:
            if not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                continue
            rows = db.session.scalars(
                sa.select(sa.cast(column, sa.Text)).where(
                    sa.cast(column, sa.Text).like(f"%#{request_id}%")
                )
            ).all()
            if any(re.search(rf"#{request_id}(?!\d)", v or "") for v in rows):
                refs.append(f"{table.name}.{column.name} (#{request_id})")
    about = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "visitrequest", AuditEvent.object_id == str(request_id)
        )
    )
    if about:
        refs.append("audit_event.object_id")
    return refs


def test_erase_leaves_no_trace_of_the_requester(app, flow, caplog):
    """SECURITY row 49: after the erasure no table holds the sentinels, the request id as a
    reference or the status code's hash; what stays is anonymous."""
    db.session.expire_all()
    # Before: the scan does find them (so the scan works).
    for needle in (NIK, OUTCOME_NOTES, PIN_LAT, str(GPS_LAT), flow.token_hash):
        assert _text_hits(needle), needle
    assert _id_references(flow.req_id)
    views_before = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "visitrequest", AuditEvent.object_id == str(flow.req_id)
        )
    )
    db.session.rollback()

    # A missing or wrong confirmation deletes nothing.
    url = f"/coord/requests/{flow.req_id}/erase"
    confirm_page = flow.coord_client.get(url)
    assert confirm_page.status_code == 200
    assert f"({flow.req_id})" in html_of(confirm_page) and NIK not in html_of(confirm_page)
    for data in ({}, {"confirm": str(flow.req_id + 1)}):
        resp = flow.coord_client.post(url, data=data)
        assert resp.status_code == 303 and resp.headers["Location"].endswith(url)
        assert db.session.get(VisitRequest, flow.req_id) is not None

    resp = flow.coord_client.post(url, data={"confirm": f"#{flow.req_id}"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/coord/requests")
    page = html_of(flow.coord_client.get(resp.headers["Location"]))
    reference = re.search(r"ER-[0-9A-F]{16}", page).group(0)
    db.session.expire_all()

    assert db.session.get(VisitRequest, flow.req_id) is None
    for needle in (*TEXT_SENTINELS, flow.token_hash):
        assert _text_hits(needle) == [], needle
    assert _id_references(flow.req_id) == []

    # What stays is anonymous: the site, the check-in, the outcome, the trail.
    site = db.session.get(Hotspot, flow.home_id)
    assert site.name == erased_site_name() and "#" not in site.name
    assert (site.address, site.kind, site.status) == ("", HotspotKind.HOME, HotspotStatus.ARCHIVED)
    assert (site.lat, site.lon) == (3.59, 98.68)
    row = db.session.scalar(sa.select(StopCheckin))
    assert (row.lat, row.lon, row.accuracy_m) == (None, None, None)
    assert row.recorded_by_id == flow.member.id
    done = db.session.scalar(sa.select(VisitOutcome))
    assert done.notes == "" and done.recorded == {"ktp_record": 2}
    pub = db.session.scalar(sa.select(PlanPublication))
    names = {e["hotspot_name"] for e in pub.snapshot if e["hotspot_id"] == flow.home_id}
    assert names == {erased_site_name()}

    [erase] = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "subject.erase")
    ).all()
    assert (erase.object_type, erase.object_id) == (ERASED_OBJECT, reference)
    assert erase.user_id == flow.coord.id
    assert set(erase.details) == {"via", "office_id", "rows", "reference"}
    assert erase.details["reference"] == reference
    trail = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.object_type == ERASED_OBJECT, AuditEvent.object_id == reference
        )
    )
    assert trail == views_before + 1  # the pseudonymised trail and the erasure itself

    # The status code finds nothing any more; no log line carried the data.
    status = app.test_client().post("/request-status", data={"code": flow.code})
    assert status.status_code == 404
    for sentinel in TEXT_SENTINELS[:7]:
        assert sentinel not in caplog.text


def test_cli_erase_needs_confirmation(app, flow):
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["subject-erase", "--request", str(flow.req_id)], input="n\n")
    assert refused.exit_code != 0
    assert db.session.get(VisitRequest, flow.req_id) is not None
    result = runner.invoke(args=["subject-erase", "--code", flow.code, "--yes"])
    assert result.exit_code == 0, result.output
    reference = re.search(r"ER-[0-9A-F]{16}", result.output).group(0)
    db.session.expire_all()
    assert db.session.get(VisitRequest, flow.req_id) is None
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "subject.erase"))
    assert event.object_id == reference and event.user_id is None
    assert event.details["via"] == "cli"
    again = runner.invoke(args=["subject-erase", "--request", str(flow.req_id), "--yes"])
    assert again.exit_code != 0 and "no such" in again.output


def test_erase_is_all_or_nothing(app, flow, monkeypatch):
    """A failure half-way leaves everything as it was (one transaction)."""
    import outreach.privacy as privacy

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(privacy, "_scrub_numbered_names", boom)
    req = db.session.get(VisitRequest, flow.req_id)
    with pytest.raises(RuntimeError):
        erase_subject(req, None)
    db.session.expire_all()
    assert db.session.get(VisitRequest, flow.req_id).nik == NIK
    site = db.session.get(Hotspot, flow.home_id)
    assert site.name.endswith(f"#{flow.req_id}") and site.lat == pytest.approx(float(PIN_LAT))
    assert db.session.scalar(sa.select(StopCheckin)).lat == GPS_LAT
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.object_type == ERASED_OBJECT)
        )
        == 0
    )


def test_export_of_a_request_without_site(app):
    """A request never accepted exports its own data and history, and erases cleanly."""
    office = make_office()
    req = make_request(office, RequestStatus.RECEIVED, n=77)
    db.session.commit()
    data = subject_export(req)
    assert data["home_visit_site"] is None and data["checkins"] == []
    json.dumps(data)
    erase_subject(req, None, via="cli")
    assert db.session.scalar(sa.select(sa.func.count(VisitRequest.id))) == 0


# ------------------------------------------------------------------------------ who may


@pytest.mark.parametrize("suffix", ["/export", "/erase"])
def test_field_users_and_strangers_cannot_export_or_erase(app, flow, suffix):
    """SECURITY row 49: a field member gets 403, an anonymous visitor the login page, another
    office's coordinator 404; nothing is exported, deleted or audited."""
    before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    url = f"/coord/requests/{flow.req_id}{suffix}"
    data = {"confirm": str(flow.req_id)}
    field = flow.field_client.post(url, data=data)
    assert field.status_code == 403 and NIK not in html_of(field)
    anonymous = app.test_client().post(url, data=data)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    other = make_office(name="Dinas Dukcapil Kabupaten Deli Serdang")
    stranger = make_user(Role.COORDINATOR, office_id=other.id)
    db.session.commit()
    client = app.test_client()
    login(client, stranger)
    assert client.post(url, data=data).status_code == 404
    assert client.get(f"/coord/requests/{flow.req_id}/erase").status_code == 404
    db.session.expire_all()
    assert db.session.get(VisitRequest, flow.req_id) is not None
    after = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    assert after == before


def test_erase_needs_a_csrf_token(csrf_app, app):
    """SECURITY row 49: the erase POST is CSRF-protected."""
    office = make_office()
    req = make_request(office, RequestStatus.RECEIVED, n=78)
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    req_id = req.id
    client = csrf_app.test_client()
    login(client, user, lang="id")
    db.session.rollback()  # SQLite: release this session's lock for the second app
    url = f"/coord/requests/{req_id}/erase"
    assert client.post(url, data={"confirm": str(req_id)}).status_code == 400
    assert client.post(f"/coord/requests/{req_id}/export").status_code == 400
    token = csrf_token_in(html_of(client.get(url)))
    resp = client.post(url, data={"confirm": str(req_id), "csrf_token": token})
    assert resp.status_code == 303
    db.session.expire_all()
    assert db.session.get(VisitRequest, req_id) is None


def test_detail_page_offers_export_and_erase(app, flow):
    html = html_of(flow.coord_client.get(f"/coord/requests/{flow.req_id}"))
    assert f'action="/coord/requests/{flow.req_id}/export"' in html
    assert f'href="/coord/requests/{flow.req_id}/erase"' in html


# ------------------------------------------------------------------------------ job payloads


REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.redis
def test_solve_job_in_redis_carries_only_ids(app, flow):
    """SECURITY rows 49, 50: a solve that plans the house puts only the job id in Redis."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except (RedisError, OSError):
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable")
    from rq import Queue
    from rq.job import Job

    from outreach import jobs
    from outreach.jobs import rq_backend
    from outreach.plans import service
    from tests.factories import monday

    app.config["REDIS_URL"] = REDIS_URL
    app.config["RQ_QUEUE"] = f"test-subject-{uuid.uuid4().hex[:10]}"
    site = db.session.get(Hotspot, flow.home_id)
    site.status = HotspotStatus.ACTIVE  # the outcome finished it: plan it once more
    for demand in site.demands:
        demand.remaining = demand.requested
    db.session.commit()
    plan = service.create_plan(
        flow.office,
        flow.coord,
        name="Rencana rumah",
        start_date=monday(),
        end_date=monday(),
        team_ids=[flow.team.id],
        hotspot_ids=[flow.home_id],
        time_limit_s=1,
    )
    job = jobs.enqueue_solve(plan, flow.coord)
    conn = rq_backend.connection(app)
    try:
        rq_job = Job.fetch(rq_backend.rq_job_id(job.id), connection=conn)
        assert tuple(rq_job.args) == (job.id,) and rq_job.kwargs == {}
        raw = b"".join(
            k + v for k, v in conn.hgetall(f"rq:job:{rq_backend.rq_job_id(job.id)}").items()
        )
        for sentinel in (*TEXT_SENTINELS, flow.token_hash, f"#{flow.req_id}"):
            assert sentinel.encode() not in raw, sentinel
    finally:
        Queue(rq_backend.queue_name(app), connection=conn).empty()
        conn.delete(f"rq:job:{rq_backend.rq_job_id(job.id)}")
