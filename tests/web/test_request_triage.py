"""Coordinator triage of home-visit requests, and what the field team sees of an accepted one.

The queue shows no personal data (no audit); the detail does and is audit-logged on every view;
approve makes a HOME hotspot without the person's name (demand, openings, priority by reason,
needs-location without coordinates); reject stores a reason category the status page shows;
another office's coordinator gets 404 everywhere; the field member of the planned team sees the
contact (audited), another team's member cannot, and the route JSON carries none of it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    Hotspot,
    HotspotKind,
    HotspotStatus,
    RequestStatus,
    Role,
    VisitRequest,
)
from outreach.public.requests import CONSENT_VERSION, new_status_code, status_code_hash
from outreach.public.schedule import office_today
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
    make_user,
)
from tests.field.conftest import publish, today_wib

REQUESTER = "ZZREQUESTERZZ Budi"
PERSON = "ZZPERSONZZ Siti"
PHONE = "081200000000"
ADDRESS = "ZZADDRESSZZ Jl. Mawar No. 9"
NIK = "1271014107500001"
NOTES = "ZZNOTESZZ kamar belakang"
SENTINELS = (REQUESTER, PERSON, PHONE, ADDRESS, NIK, NOTES)
CODE = "JB-10AB-CD01-EFGH-JKMN"


def html_of(resp) -> str:
    return resp.get_data(as_text=True)


def indonesian(app, msgid: str, **values) -> str:
    with app.test_request_context("/"), force_locale("id"):
        return _(msgid, **values)


def audits(action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    q = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action:
        q = q.where(AuditEvent.action == action)
    return list(db.session.scalars(q))


@pytest.fixture
def office(app):
    office = make_office(slug="kota-medan")
    make_hotspot(office)  # Kel. Pasar Baru (12.71.01.1001), Kec. Medan Kota (12.71.01)
    db.session.commit()
    return office


@pytest.fixture
def other_office(app):
    other = make_office(name="Dinas Dukcapil Kabupaten Deli Serdang", slug="deli-serdang")
    db.session.commit()
    return other


@pytest.fixture
def coord(client, office):
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    login(client, user, lang="id")
    return user


def make_request(office, **kw) -> VisitRequest:
    code = kw.pop("code", None) or new_status_code()
    req = VisitRequest(
        office_id=office.id,
        token_hash=status_code_hash(code),
        requester_name=kw.pop("requester_name", REQUESTER),
        requester_relation=kw.pop("requester_relation", "family"),
        person_name=kw.pop("person_name", PERSON),
        nik=kw.pop("nik", NIK),
        phone=kw.pop("phone", PHONE),
        address=kw.pop("address", ADDRESS),
        kelurahan_code=kw.pop("kelurahan_code", "12.71.01.1001"),
        persons=kw.pop("persons", 2),
        services=kw.pop("services", ["ktp_record", "kia"]),
        reason=kw.pop("reason", "bedridden"),
        notes=kw.pop("notes", NOTES),
        consent_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        consent_version=CONSENT_VERSION,
        created_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        **kw,
    )
    db.session.add(req)
    db.session.commit()
    return req


def reload(req: VisitRequest) -> VisitRequest:
    db.session.expire_all()
    return db.session.get(VisitRequest, req.id)


def assert_no_pii(text: str) -> None:
    for sentinel in SENTINELS:
        assert sentinel not in text, sentinel


# ------------------------------------------------------------------------------ queue


def test_queue_lists_requests_without_personal_data_and_writes_no_audit(app, client, coord, office):
    new = make_request(office, reason="elderly", persons=3)
    accepted = make_request(office, status=RequestStatus.ACCEPTED)
    before = len(audits())
    resp = client.get("/coord/requests")
    html = html_of(resp)
    assert resp.status_code == 200
    assert f'data-request="{new.id}"' in html
    assert f'data-request="{accepted.id}"' not in html  # another tab
    assert "Pasar Baru" in html and "Medan Kota" in html
    assert indonesian(app, "Elderly, cannot travel") in html
    assert indonesian(app, "KTP-el recording") in html
    assert ">3<" in html
    assert_no_pii(html)
    assert len(audits()) == before

    html = html_of(client.get("/coord/requests?status=accepted"))
    assert f'data-request="{accepted.id}"' in html and f'data-request="{new.id}"' not in html
    assert_no_pii(html)


def test_navigation_has_the_requests_entry(app, client, coord, office):
    html = html_of(client.get("/coord/requests"))
    assert 'href="/coord/requests" aria-current="page"' in html


def test_queue_shows_only_the_own_office(app, client, coord, office, other_office):
    theirs = make_request(other_office)
    html = html_of(client.get("/coord/requests"))
    assert f'data-request="{theirs.id}"' not in html


# ------------------------------------------------------------------------------ detail


def test_detail_shows_the_data_and_audits_every_view(app, client, coord, office):
    req = make_request(office)
    for _round in range(2):
        resp = client.get(f"/coord/requests/{req.id}")
        html = html_of(resp)
        assert resp.status_code == 200
        assert resp.headers["Cache-Control"] == "no-store"
        for value in (REQUESTER, PERSON, PHONE, ADDRESS, NIK, NOTES):
            assert value in html
        assert f'href="tel:{PHONE}"' in html
        assert CONSENT_VERSION in html
    events = audits("visit_request.view")
    assert len(events) == 2
    assert all(e.user_id == coord.id and e.object_id == str(req.id) for e in events)
    assert "phone" in events[0].details["fields"] and "nik" in events[0].details["fields"]
    assert_no_pii(json.dumps([e.details for e in events]))


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("GET", "", None),
        ("POST", "/approve", {}),
        ("POST", "/reject", {"reason": "duplicate"}),
        ("POST", "/done", {}),
    ],
)
def test_another_offices_coordinator_gets_404(
    app, client, office, other_office, method, suffix, data
):
    req = make_request(office, status=RequestStatus.RECEIVED)
    stranger = make_user(Role.COORDINATOR, office_id=other_office.id)
    db.session.commit()
    login(client, stranger, lang="id")
    before = len(audits())
    resp = client.open(f"/coord/requests/{req.id}{suffix}", method=method, data=data)
    assert resp.status_code == 404
    assert_no_pii(html_of(resp))
    req = reload(req)
    assert req.status == RequestStatus.RECEIVED and req.hotspot_id is None
    assert db.session.scalar(sa.select(sa.func.count(Hotspot.id))) == 1  # the office's site
    assert len(audits()) == before


def test_missing_request_is_404(app, client, coord):
    assert client.get("/coord/requests/999999").status_code == 404
    assert client.get("/coord/requests/99999999999").status_code == 404


# ------------------------------------------------------------------------------ approve


@pytest.mark.parametrize(
    ("reason", "priority"),
    [("bedridden", 1), ("hospital", 1), ("elderly", 2), ("disability", 2)],
)
def test_approve_creates_a_home_hotspot_that_needs_a_location(
    app, client, coord, office, reason, priority
):
    req = make_request(office, reason=reason, persons=2, services=["ktp_record", "kia"])
    resp = client.post(f"/coord/requests/{req.id}/approve")
    assert resp.status_code == 303
    req = reload(req)
    assert req.status == RequestStatus.ACCEPTED
    assert req.decided_by_id == coord.id and req.decided_at is not None
    hs = db.session.get(Hotspot, req.hotspot_id)
    # The coordinator is sent to drop the pin.
    assert resp.headers["Location"].endswith(f"/coord/hotspots/{hs.id}/location")
    assert hs.office_id == office.id
    assert hs.kind == HotspotKind.HOME
    assert hs.name == indonesian(app, "Home visit #%(number)s", number=req.id)
    assert_no_pii(hs.name + hs.address + hs.notes + hs.contact_name + hs.contact_phone)
    assert hs.address == ""
    assert (hs.kecamatan_code, hs.kecamatan_name) == ("12.71.01", "Medan Kota")
    assert (hs.kelurahan_code, hs.kelurahan_name) == ("12.71.01.1001", "Pasar Baru")
    assert (hs.lat, hs.lon) == (None, None)
    assert hs.status == HotspotStatus.NEEDS_LOCATION
    assert hs.priority == priority
    assert sorted((d.service, d.requested, d.remaining) for d in hs.demands) == [
        ("kia", 2, 2),
        ("ktp_record", 2, 2),
    ]
    assert sorted((o.weekday, o.start_min, o.end_min) for o in hs.openings) == [
        (wd, 480, 900) for wd in range(5)
    ]
    [event] = audits("visit_request.approve")
    assert event.user_id == coord.id and event.details["hotspot_id"] == hs.id
    assert_no_pii(json.dumps(event.details))
    # The pin page opens for it.
    assert client.get(resp.headers["Location"]).status_code == 200


def test_approve_with_coordinates_makes_an_active_site(app, client, coord, office):
    req = make_request(office, lat=3.5912, lon=98.6801)
    resp = client.post(f"/coord/requests/{req.id}/approve")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/coord/requests/{req.id}")
    hs = db.session.get(Hotspot, reload(req).hotspot_id)
    assert (hs.lat, hs.lon) == (pytest.approx(3.5912), pytest.approx(98.6801))
    assert hs.status == HotspotStatus.ACTIVE


def test_double_approve_is_refused(app, client, coord, office):
    req = make_request(office)
    assert client.post(f"/coord/requests/{req.id}/approve").status_code == 303
    again = client.post(f"/coord/requests/{req.id}/approve")
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/coord/requests/{req.id}")
    page = client.get(again.headers["Location"])
    assert "flash-error" in html_of(page)
    homes = db.session.scalar(
        sa.select(sa.func.count(Hotspot.id)).where(Hotspot.kind == HotspotKind.HOME)
    )
    assert homes == 1
    assert len(audits("visit_request.approve")) == 1
    # Nor can it be rejected afterwards.
    client.post(f"/coord/requests/{req.id}/reject", data={"reason": "duplicate"})
    req = reload(req)
    assert req.status == RequestStatus.ACCEPTED and req.rejection_reason == ""


# ------------------------------------------------------------------------------ reject, done


def test_reject_stores_the_reason_and_the_status_page_shows_it(app, client, coord, office):
    req = make_request(office, code=CODE)
    resp = client.post(
        f"/coord/requests/{req.id}/reject",
        data={"reason": "can_visit_office", "note": "ZZINTERNALZZ"},
    )
    assert resp.status_code == 303
    req = reload(req)
    assert req.status == RequestStatus.REJECTED
    assert req.rejection_reason == "can_visit_office"
    assert req.decided_by_id == coord.id
    assert "ZZINTERNALZZ" not in json.dumps(
        [str(v) for v in db.session.execute(sa.select(VisitRequest.__table__)).one()]
    )
    [event] = audits("visit_request.reject")
    assert event.details == {"reason": "can_visit_office"}

    public = app.test_client()
    html = html_of(public.post("/request-status", data={"code": CODE.lower()}))
    assert "hv-result-rejected" in html
    assert indonesian(app, "The person can come to the office") in html
    assert_no_pii(html)


def test_reject_needs_a_known_reason(app, client, coord, office):
    req = make_request(office)
    for data in ({}, {"reason": "because"}):
        resp = client.post(f"/coord/requests/{req.id}/reject", data=data)
        assert resp.status_code == 303
        assert reload(req).status == RequestStatus.RECEIVED
    assert audits("visit_request.reject") == []


def test_done_closes_an_accepted_request_and_starts_retention(app, client, coord, office):
    req = make_request(office, code=CODE)
    assert client.post(f"/coord/requests/{req.id}/done").status_code == 303
    assert reload(req).status == RequestStatus.RECEIVED  # only accepted ones

    client.post(f"/coord/requests/{req.id}/approve")
    assert client.post(f"/coord/requests/{req.id}/done").status_code == 303
    req = reload(req)
    assert req.status == RequestStatus.DONE
    assert req.retain_until == office_today(office) + timedelta(days=90)
    assert db.session.get(Hotspot, req.hotspot_id).status == HotspotStatus.ARCHIVED
    [event] = audits("visit_request.done")
    assert event.details["retain_until"] == req.retain_until.isoformat()
    html = html_of(app.test_client().post("/request-status", data={"code": CODE}))
    assert "hv-result-done" in html


def test_retention_days_come_from_the_config(app, client, coord, office):
    app.config["HOME_VISIT_RETENTION_DAYS"] = 30
    req = make_request(office, status=RequestStatus.ACCEPTED)
    client.post(f"/coord/requests/{req.id}/done")
    assert reload(req).retain_until == office_today(office) + timedelta(days=30)


def test_posts_need_a_csrf_token(csrf_app, office):
    req = make_request(office)
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    client = csrf_app.test_client()
    login(client, user, lang="id")
    url = f"/coord/requests/{req.id}"
    db.session.rollback()  # SQLite: release this session's lock for the second app
    assert client.post(f"{url}/approve").status_code == 400
    html = html_of(client.get(url))
    resp = client.post(f"{url}/approve", data={"csrf_token": csrf_token_in(html)})
    assert resp.status_code == 303
    assert reload(req).status == RequestStatus.ACCEPTED


# ------------------------------------------------------------------------------ field team


@pytest.fixture
def home_stop(app, office):
    """An accepted request whose home hotspot is on team A's published route today; a member
    of team A and one of team B (same office)."""
    req = make_request(office, status=RequestStatus.ACCEPTED)
    home = make_hotspot(
        office,
        kind=HotspotKind.HOME,
        name=f"Kunjungan rumah #{req.id}",
        priority=1,
        demand={"ktp_record": 2},
    )
    req.hotspot_id = home.id
    plan = make_plan(office, start_date=today_wib(), end_date=today_wib() + timedelta(days=2))
    team_a, team_b = make_team(office), make_team(office)
    stop = make_stop(make_route(plan, team_a, today_wib()), home, persons={"ktp_record": 2})
    make_stop(make_route(plan, team_b, today_wib()))
    publish(plan)
    member_a = make_user(Role.FIELD, team=team_a)
    member_b = make_user(Role.FIELD, team=team_b)
    db.session.commit()

    class HomeStop:
        pass

    h = HomeStop()
    h.req, h.stop, h.home, h.member_a, h.member_b = req, stop, home, member_a, member_b
    return h


def test_field_member_of_the_team_sees_the_contact_and_is_audited(app, client, home_stop):
    form_login(client, home_stop.member_a)
    resp = client.get(f"/field/stop/{home_stop.stop.id}")
    html = html_of(resp)
    assert resp.status_code == 200
    for value in (PERSON, ADDRESS, NOTES, REQUESTER, PHONE):
        assert value in html
    assert f'href="tel:{PHONE}"' in html
    assert NIK not in html  # the team does not need it
    [event] = audits("visit_request.view")
    assert event.user_id == home_stop.member_a.id
    assert event.object_id == str(home_stop.req.id)
    assert event.details["via"] == "field"
    assert_no_pii(json.dumps(event.details))
    # Each view is recorded.
    client.get(f"/field/stop/{home_stop.stop.id}")
    assert len(audits("visit_request.view")) == 2


def test_field_member_of_another_team_cannot_see_it(app, client, home_stop):
    form_login(client, home_stop.member_b)
    resp = client.get(f"/field/stop/{home_stop.stop.id}")
    assert resp.status_code == 404
    assert_no_pii(html_of(resp))
    day = html_of(client.get("/field/"))
    assert_no_pii(day)
    assert audits("visit_request.view") == []


def test_route_page_and_json_carry_no_contact(app, client, home_stop):
    form_login(client, home_stop.member_a)
    html = html_of(client.get("/field/"))
    assert f"#{home_stop.req.id}" in html
    assert_no_pii(html)
    token = create_token(db.session.get(type(home_stop.member_a), home_stop.member_a.id), "tab")
    db.session.commit()
    resp = app.test_client().get(
        "/api/v1/field/route", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 200
    assert_no_pii(resp.get_data(as_text=True))
    assert audits("visit_request.view") == []


def test_field_sees_nothing_once_the_request_is_closed(app, client, home_stop):
    home_stop.req.status = RequestStatus.DONE
    db.session.commit()
    form_login(client, home_stop.member_a)
    html = html_of(client.get(f"/field/stop/{home_stop.stop.id}"))
    assert_no_pii(html)
    assert audits("visit_request.view") == []
