"""The office's public address and contacts, edited by its coordinator; the publish note."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import AuditEvent, Office, PublicVisit, Role
from tests.factories import form_login, make_hotspot, make_office, make_team, make_user
from tests.public.conftest import add_route, new_plan, publish_now, today_wib

VALID = {
    "slug": "kota-binjai",
    "address": "Jl. Jend. Sudirman No. 1, Binjai",
    "phone": "(061) 555-0199",
    "whatsapp": "0811-555-0199",
    "email": "dukcapil@binjai.example.go.id",
    "opening_hours": "Senin–Jumat 08.00–15.00 WIB",
    "requires_nik": "y",
}


def test_coordinator_sets_the_public_address_and_contacts(client, app):
    office = make_office(name="Dinas Dukcapil Kota Binjai")
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    form_login(client, user.username)
    assert client.get("/coord/office").status_code == 200
    resp = client.post("/coord/office", data=VALID)
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Office, office.id)
    assert (saved.slug, saved.phone, saved.requires_nik) == ("kota-binjai", "(061) 555-0199", True)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "office.update")
    ).one()
    assert "phone" in event.details["fields"]
    page = client.get("/o/kota-binjai").get_data(as_text=True)
    assert "dukcapil@binjai.example.go.id" in page and "(061) 555-0199" in page


def test_bad_or_taken_addresses_are_refused_with_the_field_named(client, app):
    make_office(slug="kota-medan")
    office = make_office()
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    form_login(client, user.username)
    for slug in ("kota-medan", "Kota Medan!", "12345", "-x-"):
        resp = client.post("/coord/office", data={**VALID, "slug": slug})
        assert resp.status_code == 400, slug
        assert 'id="slug-errors"' in resp.get_data(as_text=True), slug
    resp = client.post("/coord/office", data={**VALID, "email": "not an email", "phone": "abc"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="email-errors"' in html and 'id="phone-errors"' in html
    db.session.expire_all()
    assert db.session.get(Office, office.id).slug is None  # nothing half-written


def test_field_members_cannot_edit_the_office(client, app):
    member = make_user(Role.FIELD)
    db.session.commit()
    form_login(client, member.username)
    assert client.post("/coord/office", data=VALID).status_code == 403


def test_publish_note_reaches_the_changed_visits_pages(client, app):
    """The coordinator's note typed at re-publication shows on each changed visit's page."""
    office = make_office(slug="kota-uji")
    team = make_team(office)
    a, b = make_hotspot(office, name="SMA Satu"), make_hotspot(office, name="SMA Dua")
    plan = new_plan(office, today_wib())
    route = add_route(
        plan, team, today_wib() + timedelta(days=1), [(a, "08:00", 60), (b, "10:00", 60)]
    )
    publish_now(plan)
    route.stops[1].start_at += timedelta(hours=2)
    route.stops[1].end_at += timedelta(hours=2)
    publish_now(plan, notice="Tim datang siang karena rapat pagi.")
    moved = db.session.scalars(sa.select(PublicVisit).where(PublicVisit.hotspot_id == b.id)).one()
    kept = db.session.scalars(sa.select(PublicVisit).where(PublicVisit.hotspot_id == a.id)).one()
    assert "Tim datang siang" in client.get(f"/stop/{moved.id}").get_data(as_text=True)
    assert "Tim datang siang" not in client.get(f"/stop/{kept.id}").get_data(as_text=True)
