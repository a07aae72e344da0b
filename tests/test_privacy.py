"""Retention of home-visit requests (UU PDP): personal data goes when promised, facts stay."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    Hotspot,
    HotspotKind,
    OutcomeResult,
    RequestStatus,
    Role,
    StopCheckin,
    VisitOutcome,
    VisitRequest,
    audit,
)
from outreach.privacy import purge_expired_requests
from tests.factories import (
    login,
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
)

TODAY = date(2027, 3, 1)


def make_request(office, status, **kw) -> VisitRequest:
    req = VisitRequest(
        office_id=office.id,
        token_hash=f"{kw.pop('n')}".rjust(64, "0"),
        requester_name="Siti Sentinel",
        person_name="Ibu Sentinel",
        nik="1271015508907701",
        phone="081299990001",
        address="Gang Sentinel No. 7",
        kelurahan_code="12.71.01.1001",
        lat=3.58,
        lon=98.67,
        notes="dekat masjid",
        services=["ktp_record"],
        consent_at=datetime(2026, 12, 1, tzinfo=UTC),
        consent_version="2026-12-04",
        status=status,
        **kw,
    )
    db.session.add(req)
    db.session.flush()
    return req


def test_purge_blanks_expired_requests_only_and_audits(app):
    """SECURITY row 48: closed requests past retention lose their personal data; an audit
    record per purged request remains."""
    office = make_office()
    house = make_hotspot(
        office, kind=HotspotKind.HOME, address="Gang Sentinel No. 7", lat=3.581234, lon=98.671234
    )
    done_old = make_request(
        office, RequestStatus.DONE, n=1, retain_until=TODAY, hotspot_id=house.id
    )
    done_new = make_request(office, RequestStatus.DONE, n=2, retain_until=TODAY + timedelta(1))
    rejected_old = make_request(
        office, RequestStatus.REJECTED, n=3, decided_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    rejected_new = make_request(
        office, RequestStatus.REJECTED, n=4, decided_at=datetime(2027, 2, 20, tzinfo=UTC)
    )
    open_old = make_request(office, RequestStatus.RECEIVED, n=5, retain_until=TODAY)
    db.session.commit()

    assert purge_expired_requests(TODAY, 90) == 2
    db.session.expire_all()
    for req in (done_old, rejected_old):
        row = db.session.get(VisitRequest, req.id)
        assert (row.requester_name, row.person_name, row.phone, row.address, row.notes) == (
            "",
            "",
            "",
            "",
            "",
        )
        assert (row.nik, row.lat, row.lon) == (None, None, None)
        assert row.purged_at is not None
        # The facts without a person stay for the office's statistics.
        assert (row.kelurahan_code, row.services, row.status) == (
            "12.71.01.1001",
            ["ktp_record"],
            req.status,
        )
    site = db.session.get(Hotspot, house.id)
    assert (site.address, site.lat, site.lon, site.status) == ("", 3.58, 98.67, "archived")
    for req in (done_new, rejected_new, open_old):
        assert db.session.get(VisitRequest, req.id).nik == "1271015508907701"
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "visit_request.purge")
    ).all()
    assert sorted(int(e.object_id) for e in events) == sorted([done_old.id, rejected_old.id])
    assert all("Sentinel" not in repr(e.details) for e in events)
    # Running again finds nothing more.
    assert purge_expired_requests(TODAY, 90) == 0


def test_purge_command_for_a_daily_timer(app):
    office = make_office()
    make_request(office, RequestStatus.DONE, n=9, retain_until=TODAY - timedelta(days=1))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purge-requests", "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "1 closed request" in result.output
    bad = runner.invoke(args=["purge-requests", "--today", "kemarin"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


# -- what the field team recorded at the house, and requests nobody closed -----------------


def _visit(office, site, *, notes: str, lat: float, lon: float):
    """A stop at ``site`` with a check-in (GPS fix) and an outcome (with notes)."""
    plan = make_plan(office)
    route = make_route(plan, make_team(office), plan.start_date)
    stop = make_stop(route, site, persons={"ktp_record": 1})
    checkin = StopCheckin(
        client_uuid=str(uuid.uuid4()),
        stop_id=stop.id,
        hotspot_id=site.id,
        team_id=route.team_id,
        day=route.day,
        at=datetime(2026, 12, 7, 2, 0, tzinfo=UTC),
        lat=lat,
        lon=lon,
        accuracy_m=6.5,
    )
    outcome = VisitOutcome(
        client_uuid=str(uuid.uuid4()),
        stop_id=stop.id,
        hotspot_id=site.id,
        team_id=route.team_id,
        day=route.day,
        result=OutcomeResult.SERVED,
        present=1,
        recorded={"ktp_record": 1},
        notes=notes,
    )
    db.session.add_all([checkin, outcome])
    db.session.flush()
    return checkin, outcome


def _pin_event(site, lat: float, lon: float) -> AuditEvent:
    return audit(
        "hotspot.pin",
        site,
        None,
        before={"lat": lat + 0.001, "lon": lon, "status": "x"},
        lat=lat,
        lon=lon,
    )


def test_purge_clears_gps_fixes_notes_and_pin_coordinates_of_the_house(app):
    """SECURITY row 48: the purge also removes what the team recorded at the house: the
    check-in's GPS fix, the outcome's free text and the exact coordinates in the site's audit
    events; another site's records stay as they are."""
    office = make_office()
    house = make_hotspot(office, kind=HotspotKind.HOME, lat=3.581234, lon=98.671234)
    school = make_hotspot(office, lat=3.601234, lon=98.691234)
    req = make_request(office, RequestStatus.DONE, n=11, retain_until=TODAY, hotspot_id=house.id)
    house_checkin, house_outcome = _visit(
        office, house, notes="Ibu Sentinel di kamar", lat=3.581299, lon=98.671299
    )
    school_checkin, school_outcome = _visit(
        office, school, notes="Aula sekolah", lat=3.601299, lon=98.691299
    )
    house_pin, school_pin = (
        _pin_event(house, 3.581234, 98.671234),
        _pin_event(school, 3.601234, 98.691234),
    )
    db.session.commit()

    assert purge_expired_requests(TODAY, 90) == 1
    db.session.expire_all()
    row = db.session.get(StopCheckin, house_checkin.id)
    assert (row.lat, row.lon, row.accuracy_m) == (None, None, None)
    assert row.at is not None and row.team_id == house_checkin.team_id  # the fact stays
    outcome = db.session.get(VisitOutcome, house_outcome.id)
    assert outcome.notes == "" and outcome.recorded == {"ktp_record": 1}
    pin = db.session.get(AuditEvent, house_pin.id).details
    assert (pin["lat"], pin["lon"]) == (3.58, 98.67)
    assert (pin["before"]["lat"], pin["before"]["lon"], pin["before"]["status"]) == (
        3.58,
        98.67,
        "x",
    )
    # Another site keeps its records.
    other = db.session.get(StopCheckin, school_checkin.id)
    assert (other.lat, other.lon, other.accuracy_m) == (3.601299, 98.691299, 6.5)
    assert db.session.get(VisitOutcome, school_outcome.id).notes == "Aula sekolah"
    assert db.session.get(AuditEvent, school_pin.id).details["lat"] == 3.601234
    [event] = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "visit_request.purge")
    ).all()
    assert event.object_id == str(req.id)
    assert event.details == {
        "status": "done",
        "reason": "closed",
        "site": True,
        "checkins": 1,
        "outcomes": 1,
        "audit_events": 1,
    }
    assert "Sentinel" not in repr(event.details) and "3.5812" not in repr(event.details)


def test_requests_nobody_closed_are_purged_after_the_maximum_age(app):
    """SECURITY row 48: a request still new or accepted loses its personal data
    ``HOME_VISIT_MAX_AGE_DAYS`` after it was received; younger ones keep it."""
    office = make_office()
    house = make_hotspot(office, kind=HotspotKind.HOME, lat=3.581234, lon=98.671234)
    old = datetime.combine(TODAY - timedelta(days=181), datetime.min.time(), tzinfo=UTC)
    young = datetime.combine(TODAY - timedelta(days=179), datetime.min.time(), tzinfo=UTC)
    stale_new = make_request(office, RequestStatus.RECEIVED, n=21, created_at=old)
    stale_accepted = make_request(
        office, RequestStatus.ACCEPTED, n=22, created_at=old, hotspot_id=house.id
    )
    fresh_new = make_request(office, RequestStatus.RECEIVED, n=23, created_at=young)
    fresh_accepted = make_request(office, RequestStatus.ACCEPTED, n=24, created_at=young)
    db.session.commit()

    # Without a maximum age (the old behaviour) open requests are never touched.
    assert purge_expired_requests(TODAY, 90) == 0
    assert purge_expired_requests(TODAY, 90, 180) == 2
    db.session.expire_all()
    for req in (stale_new, stale_accepted):
        row = db.session.get(VisitRequest, req.id)
        assert (row.requester_name, row.phone, row.nik, row.lat) == ("", "", None, None)
        assert row.purged_at is not None and row.status == req.status
    for req in (fresh_new, fresh_accepted):
        assert db.session.get(VisitRequest, req.id).phone == "081299990001"
    site = db.session.get(Hotspot, house.id)
    assert (site.lat, site.status) == (3.58, "archived")
    reasons = sorted(
        e.details["reason"]
        for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "visit_request.purge")
        )
    )
    assert reasons == ["stale", "stale"]
    # A later day catches up with the younger ones.
    assert purge_expired_requests(TODAY + timedelta(days=2), 90, 180) == 2


def test_purge_command_reads_the_maximum_age_from_the_config(app):
    """SECURITY row 48: ``flask purge-requests`` applies ``HOME_VISIT_MAX_AGE_DAYS``."""
    office = make_office()
    created = datetime.combine(TODAY - timedelta(days=40), datetime.min.time(), tzinfo=UTC)
    req = make_request(office, RequestStatus.RECEIVED, n=31, created_at=created)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purge-requests", "--today", TODAY.isoformat()])
    assert result.exit_code == 0 and "0 closed request" in result.output
    app.config["HOME_VISIT_MAX_AGE_DAYS"] = 30
    result = runner.invoke(args=["purge-requests", "--today", TODAY.isoformat()])
    assert result.exit_code == 0 and "1 closed request" in result.output
    db.session.expire_all()
    assert db.session.get(VisitRequest, req.id).nik is None


def test_a_purged_request_cannot_be_accepted(app, client):
    """SECURITY row 48: no home visit is planned from a request whose data is gone."""
    office = make_office()
    created = datetime.combine(TODAY - timedelta(days=400), datetime.min.time(), tzinfo=UTC)
    req = make_request(office, RequestStatus.RECEIVED, n=41, created_at=created)
    coord = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    assert purge_expired_requests(TODAY, 90, 180) == 1
    login(client, coord, lang="en")
    page = client.get(f"/coord/requests/{req.id}").get_data(as_text=True)
    assert "data-purged" in page and f"/coord/requests/{req.id}/approve" not in page
    resp = client.post(f"/coord/requests/{req.id}/approve")
    assert resp.status_code == 303
    db.session.expire_all()
    row = db.session.get(VisitRequest, req.id)
    assert row.status == RequestStatus.RECEIVED and row.hotspot_id is None
