"""Retention of home-visit requests (UU PDP): personal data goes when promised, facts stay."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import AuditEvent, Hotspot, HotspotKind, RequestStatus, VisitRequest
from outreach.privacy import purge_expired_requests
from tests.factories import make_hotspot, make_office

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
