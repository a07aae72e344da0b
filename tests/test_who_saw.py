"""Who saw a person's data: every view and export is audited, and ``who_accessed`` finds them.

Views of the request (coordinator, field team), plan exports and the printed day sheet that
included the house, the field team's check-in: each is listed with who, when (WIB) and what;
an export of a plan without the house is not. The lookup stays fast on 100 000 audit rows.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    HotspotKind,
    RequestStatus,
    Role,
    StopCheckin,
    VisitRequest,
)
from outreach.privacy import who_accessed
from outreach.public.requests import CONSENT_VERSION, status_code_hash
from tests.factories import (
    form_login,
    login,
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
    today_wib,
)
from tests.field.conftest import publish

CODE = "JB-10AB-CD01-EFGH-JKMN"


class Seed:
    """The seeded office, people and plans."""


@pytest.fixture
def seed(app):
    office = make_office()
    coord = make_user(Role.COORDINATOR, office_id=office.id)
    team = make_team(office)
    member = make_user(Role.FIELD, team=team)
    req = VisitRequest(
        office_id=office.id,
        token_hash=status_code_hash(CODE),
        requester_name="Budi",
        person_name="Siti",
        phone="081200000000",
        address="Jl. Mawar 9",
        kelurahan_code="12.71.01.1001",
        services=["ktp_record"],
        consent_at=datetime(2026, 12, 1, tzinfo=UTC),
        consent_version=CONSENT_VERSION,
        status=RequestStatus.ACCEPTED,
    )
    db.session.add(req)
    db.session.flush()
    home = make_hotspot(
        office, kind=HotspotKind.HOME, name=f"Kunjungan rumah #{req.id}", demand={"ktp_record": 1}
    )
    req.hotspot_id = home.id
    plan = make_plan(office, start_date=today_wib(), end_date=today_wib() + timedelta(days=2))
    route = make_route(plan, team, today_wib())
    stop = make_stop(route, home, persons={"ktp_record": 1})
    make_stop(route)
    publish(plan)
    other_plan = make_plan(office, name="Rencana tanpa rumah")
    other_route = make_route(other_plan)
    make_stop(other_route)
    db.session.commit()
    s = Seed()
    s.office, s.coord, s.team, s.member, s.req, s.home = office, coord, team, member, req, home
    s.plan, s.route, s.stop, s.other_plan, s.other_route = (
        plan,
        route,
        stop,
        other_plan,
        other_route,
    )
    return s


def _seed_accesses(app, s) -> None:
    """Two coordinator views, a field view and check-in, five exports with the house, two
    exports without it."""
    coord = app.test_client()
    login(coord, s.coord)
    for _ in range(2):
        assert coord.get(f"/coord/requests/{s.req.id}").status_code == 200
    p, r = s.plan.id, s.route.id
    for url in (
        f"/coord/plans/{p}/export.csv",
        f"/coord/plans/{p}/export.xlsx",
        f"/coord/plans/{p}/routes/{r}.gpx",
        f"/coord/plans/{p}/teams/{s.team.id}.ics",
        f"/coord/plans/{p}/routes/{r}/sheet",
        f"/coord/plans/{s.other_plan.id}/export.csv",
        f"/coord/plans/{s.other_plan.id}/routes/{s.other_route.id}/sheet",
    ):
        assert coord.get(url).status_code == 200, url
    field = app.test_client()
    form_login(field, s.member)
    assert field.get(f"/field/stop/{s.stop.id}").status_code == 200
    token = create_token(s.member, "tablet")
    db.session.commit()
    body = {"client_uuid": str(uuid.uuid4()), "stop_id": s.stop.id, "lat": 3.59, "lon": 98.67}
    resp = app.test_client().post(
        "/api/v1/field/checkins", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 201, resp.get_json()


def test_day_sheet_and_exports_record_the_home_visits_they_contain(app, seed):
    """SECURITY row 50: the day sheet is audited like an export, and every export names the
    home-visit sites it showed (ids only)."""
    _seed_accesses(app, seed)
    db.session.expire_all()
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "plan_export").order_by(AuditEvent.id)
    ).all()
    assert [e.details["format"] for e in events] == [
        "csv",
        "xlsx",
        "gpx",
        "ics",
        "sheet",
        "csv",
        "sheet",
    ]
    assert [e.details["home_hotspots"] for e in events] == [[seed.home.id]] * 5 + [[], []]
    assert all(e.user_id == seed.coord.id for e in events)
    sheet = events[4]
    assert (sheet.object_type, sheet.object_id) == ("plannedroute", str(seed.route.id))


def test_who_accessed_lists_every_view_and_export(app, seed):
    """SECURITY row 50: each seeded view and export of the person's data is listed with user,
    role, time (WIB) and what; exports without the house are not."""
    _seed_accesses(app, seed)
    db.session.expire_all()
    req = db.session.get(VisitRequest, seed.req.id)
    log = who_accessed(req)
    views = [e for e in log if e["kind"] == "view"]
    assert sorted((e["user"], e["role"], e["channel"]) for e in views) == sorted(
        [
            (seed.coord.username, "coordinator", "coordinator"),
            (seed.coord.username, "coordinator", "coordinator"),
            (seed.member.username, "field", "field"),
        ]
    )
    exports = [e for e in log if e["kind"] == "export"]
    assert sorted(e["what"] for e in exports) == sorted(
        ["export csv", "export xlsx", "export gpx", "export ics", "export sheet"]
    )
    assert f"plan {seed.other_plan.id}" not in {e["object"] for e in log}
    assert f"route {seed.other_route.id}" not in {e["object"] for e in log}
    [checkin] = [e for e in log if e["action"] == "field.checkin"]
    assert checkin["user"] == seed.member.username and checkin["object"] == f"stop {seed.stop.id}"
    assert all(e["at_text"].endswith(" WIB") for e in log)
    assert [e["at"] for e in log] == sorted(e["at"] for e in log)

    runner = app.test_cli_runner()
    for args in (["--request", str(req.id)], ["--code", CODE]):
        result = runner.invoke(args=["who-saw", *args])
        assert result.exit_code == 0, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == len(log) + 1
        assert sum(f"{seed.coord.username} (coordinator)" in line for line in lines) == 7
        assert any("export sheet" in line and "WIB" in line for line in lines)
        assert f"{len(log)} access(es)" in lines[-1]
    bad = runner.invoke(args=["who-saw", "--code", "JB-nope"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_older_exports_and_orphaned_check_ins_are_found_too(app, seed):
    """SECURITY row 50: an export recorded before exports listed their home sites counts when
    its plan holds the house; a check-in whose stop a re-plan removed still counts."""
    db.session.add_all(
        [
            AuditEvent(
                action="plan_export",
                user_id=seed.coord.id,
                object_type="plan",
                object_id=str(seed.plan.id),
                details={"format": "csv"},
            ),
            AuditEvent(
                action="plan_export",
                user_id=seed.coord.id,
                object_type="plan",
                object_id=str(seed.other_plan.id),
                details={"format": "csv"},
            ),
            StopCheckin(
                client_uuid=str(uuid.uuid4()),
                stop_id=None,
                hotspot_id=seed.home.id,
                team_id=seed.team.id,
                day=today_wib(),
                recorded_by_id=seed.member.id,
                at=datetime.now(UTC),
            ),
        ]
    )
    db.session.commit()
    log = who_accessed(db.session.get(VisitRequest, seed.req.id))
    assert [(e["what"], e["object"]) for e in log if e["kind"] == "export"] == [
        ("export csv", f"plan {seed.plan.id}")
    ]
    assert [(e["user"], e["object"]) for e in log if e["kind"] == "field"] == [
        (seed.member.username, f"site {seed.home.id}")
    ]


def test_who_saw_answers_quickly_on_100k_audit_rows(app, seed):
    """SECURITY row 50: ``flask who-saw`` on 100 000 audit rows answers in well under a minute
    (measured; the bound here is loose on purpose)."""
    _seed_accesses(app, seed)
    home = seed.home.id
    now = datetime.now(UTC)
    rows = []
    for i in range(100_000):
        kind = i % 10
        if kind < 6:  # other requests and sites
            rows.append(
                {
                    "action": "visit_request.view",
                    "object_type": "visitrequest",
                    "object_id": str(seed.req.id + 1 + i % 5000),
                    "details": {"via": "coordinator"},
                }
            )
        elif kind < 9:  # exports of other home sites (ids that contain the house's digits)
            rows.append(
                {
                    "action": "plan_export",
                    "object_type": "plan",
                    "object_id": str(seed.other_plan.id),
                    "details": {"format": "csv", "home_hotspots": [home * 10 + 1, home + 1000]},
                }
            )
        else:
            rows.append(
                {
                    "action": "field.checkin",
                    "object_type": "plannedstop",
                    "object_id": str(seed.stop.id + 1 + i % 3000),
                    "details": {"team": seed.team.id},
                }
            )
        rows[-1].update(user_id=seed.coord.id, at=now - timedelta(seconds=i))
    db.session.execute(sa.insert(AuditEvent), rows)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) > 100_000

    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["who-saw", "--request", str(seed.req.id)])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    print(f"who-saw on {len(rows)} audit rows: {elapsed:.2f} s")
    assert elapsed < 30
    # Exactly the seeded accesses, none of the noise.
    assert "9 access(es)" in result.output.strip().splitlines()[-1]


def test_screens_showing_the_house_are_audited_and_listed(app, seed):
    """SECURITY row 50: the plan review page (schedule and map), the site's edit and pin
    pages, the field route page and the route API each record the home-visit sites they
    showed, and ``who_accessed`` lists them as views; a plan without a house records nothing."""
    from outreach.privacy import HOME_VIEW_ACTIONS

    coord = app.test_client()
    login(coord, seed.coord)
    assert coord.get(f"/coord/plans/{seed.plan.id}").status_code == 200
    assert coord.get(f"/coord/plans/{seed.other_plan.id}").status_code < 500
    assert coord.get(f"/coord/hotspots/{seed.home.id}/edit").status_code == 200
    assert coord.get(f"/coord/hotspots/{seed.home.id}/location").status_code == 200
    field = app.test_client()
    form_login(field, seed.member)
    assert field.get("/field/").status_code == 200
    token = create_token(seed.member, "tablet")
    db.session.commit()
    api = app.test_client().get("/api/v1/field/route", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    db.session.expire_all()
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action.in_(HOME_VIEW_ACTIONS))
        .order_by(AuditEvent.id)
    ).all()
    home = [seed.home.id]
    assert [(e.action, e.details["home_hotspots"]) for e in events] == [
        ("plan.view", home),
        ("hotspot.view", home),
        ("hotspot.view", home),
        ("field.route_view", home),
        ("field.route_view", home),
    ]
    assert str(seed.other_plan.id) not in {e.object_id for e in events if e.object_type == "plan"}
    log = who_accessed(db.session.get(VisitRequest, seed.req.id))
    views = [e for e in log if e["action"] in HOME_VIEW_ACTIONS]
    assert len(views) == 5 and {e["kind"] for e in views} == {"view"}
    assert {f"plan {seed.plan.id}", f"site {seed.home.id}"} <= {e["object"] for e in views}
    assert sorted({(e["user"], e["channel"]) for e in views}) == sorted(
        {(seed.coord.username, "coordinator"), (seed.member.username, "field")}
    )
