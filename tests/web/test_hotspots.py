"""Coordinator hotspot screens: filters, edit with validation, and dropping/moving the pin."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import AuditEvent, Hotspot, HotspotStatus, Role
from tests.factories import login, make_hotspot, make_office, make_team, make_user


def needs_pin(office, **kw) -> Hotspot:
    return make_hotspot(
        office,
        lat=None,
        lon=None,
        status=HotspotStatus.NEEDS_LOCATION,
        location_source="none",
        **kw,
    )


def names(resp) -> list[str]:
    body = resp.get_data(as_text=True)
    return [n for n in ("Alpha", "Bravo", "Charlie", "Delta") if f">{n}<" in body]


@pytest.fixture
def four(office):
    make_hotspot(office, name="Alpha", kind="school", priority=1, demand={"ktp_record": 10})
    make_hotspot(
        office,
        name="Bravo",
        kind="hospital",
        priority=2,
        demand={"birth_cert": 5},
        kecamatan_code="12.71.02",
        kecamatan_name="Medan Sunggal",
    )
    make_hotspot(office, name="Charlie", kind="prison", priority=5, demand={"ktp_record": 0})
    needs_pin(office, name="Delta", kind="school", priority=1, demand={"kia": 3})
    make_hotspot(make_office(name="Lain"), name="Echo")
    db.session.commit()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Alpha", "Bravo", "Charlie", "Delta"]),
        ("?kecamatan=12.71.02", ["Bravo"]),
        ("?kind=school", ["Alpha", "Delta"]),
        ("?priority=1", ["Alpha", "Delta"]),
        ("?service=ktp_record", ["Alpha"]),
        ("?service=kia", ["Delta"]),
        ("?status=needs_location", ["Delta"]),
        ("?q=rav", ["Bravo"]),
        ("?kind=school&priority=1&status=active", ["Alpha"]),
    ],
)
def test_list_filters(client, coord, four, query, expected):
    """Each filter narrows the office's list; other offices' hotspots never show."""
    resp = client.get("/coord/hotspots" + query)
    assert resp.status_code == 200
    assert names(resp) == expected
    assert "Echo" not in resp.get_data(as_text=True)


def test_list_ignores_junk_filter_values(client, coord, four):
    """Unknown filter values and a silly page number fall back to the full list, not an error."""
    resp = client.get("/coord/hotspots?kind=%27;drop&priority=9&status=x&page=-3&q=%25")
    assert resp.status_code == 200
    assert names(resp) == []  # "%" is matched literally, so no name contains it


def test_list_links_needs_location_rows_to_the_pin_page(client, coord, four):
    """A row that needs a location offers "Drop the pin" and the page counts such rows."""
    delta = db.session.scalar(sa.select(Hotspot).filter_by(name="Delta"))
    body = client.get("/coord/hotspots").get_data(as_text=True)
    assert f'href="/coord/hotspots/{delta.id}/location">Drop the pin' in body
    assert "1 hotspot needs a location." in body


def edit_payload(**kw) -> dict:
    data = {
        "name": "SMA Negeri 2 Medan",
        "kind": "school",
        "address": "Jl. Brigjend Katamso No. 23",
        "kecamatan_code": "12.71.15",
        "kecamatan_name": "Medan Maimun",
        "kelurahan_code": "12.71.15.1003",
        "kelurahan_name": "Kampung Baru",
        "priority": "2",
        "requested_ktp_record": "120",
        "remaining_ktp_record": "80",
        "requested_kia": "",
        "remaining_kia": "",
        "open_0": "07:30-13:00",
        "open_4": "07:30-11:30, 13:30-15:00",
        "notes": "Kelas XII",
        "lat": "3.5781",
        "lon": "98.6812",
    }
    data.update(kw)
    return data


def test_edit_stores_fields_demand_openings_and_audits(client, coord, office):
    """Saving the edit form stores every field, demand per service and several windows a day."""
    hs = make_hotspot(office, demand={"ktp_record": 40, "birth_cert": 5})
    db.session.commit()
    resp = client.post(f"/coord/hotspots/{hs.id}/edit", data=edit_payload())
    assert resp.status_code == 302
    db.session.expire_all()
    hs = db.session.get(Hotspot, hs.id)
    assert (hs.name, hs.priority, hs.kelurahan_code, hs.notes) == (
        "SMA Negeri 2 Medan",
        2,
        "12.71.15.1003",
        "Kelas XII",
    )
    assert [(d.service, d.requested, d.remaining) for d in hs.demands] == [("ktp_record", 120, 80)]
    assert [(o.weekday, o.start_min, o.end_min) for o in hs.openings] == [
        (0, 450, 780),
        (4, 450, 690),
        (4, 810, 900),
    ]
    assert (hs.lat, hs.lon, hs.location_source) == (3.5781, 98.6812, "pin")
    assert db.session.scalar(sa.select(AuditEvent).filter_by(action="hotspot.update")) is not None


def test_edit_form_shows_priority_meaning(client, coord, office):
    """The priority select explains that 1 is most urgent and 5 can wait."""
    hs = make_hotspot(office)
    db.session.commit()
    body = client.get(f"/coord/hotspots/{hs.id}/edit").get_data(as_text=True)
    assert "1 – most urgent" in body and "5 – can wait" in body
    assert "08:00-16:00" in body  # existing opening hours are shown


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"remaining_ktp_record": "200"}, "Remaining cannot exceed requested."),
        ({"requested_ktp_record": "1e3"}, "digits 0-9 only"),
        ({"requested_ktp_record": "100001"}, "Enter a number from 0 to 100000."),
        ({"kecamatan_code": "1271"}, "Write the code like 12.71.01."),
        ({"kelurahan_code": "12.71.02.1003"}, "is not inside kecamatan 12.71.15"),
        ({"open_2": "8-16"}, "is not a window like 08:00-16:00"),
        ({"open_2": "13:00-12:00"}, "must end after it starts"),
        ({"open_2": "08:00-12:00, 11:00-14:00"}, "must not overlap"),
        ({"lat": "NaN"}, "Not a valid decimal number"),
        ({"lat": "inf"}, "Not a valid decimal number"),
        ({"lat": "1e309"}, "Not a valid decimal number"),
        ({"lat": "98.6812", "lon": "3.5781"}, "look swapped"),
        ({"lat": "52.1", "lon": "4.3"}, "outside Indonesia"),
        ({"lon": ""}, "Fill in both latitude and longitude"),
        ({"priority": "0"}, "Not a valid choice"),
    ],
)
def test_edit_rejects_invalid_input(client, coord, office, override, message):
    """Bad input gives 400 with the field's reason and leaves the stored hotspot unchanged."""
    hs = make_hotspot(office, name="Tetap")
    db.session.commit()
    resp = client.post(f"/coord/hotspots/{hs.id}/edit", data=edit_payload(**override))
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).name == "Tetap"


def test_decimal_comma_coordinates_are_accepted(client, coord, office):
    """A coordinate typed with a decimal comma (Indonesian style) is read exactly."""
    hs = make_hotspot(office)
    db.session.commit()
    resp = client.post(
        f"/coord/hotspots/{hs.id}/edit", data=edit_payload(lat="3,5781", lon="98,6812")
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert (db.session.get(Hotspot, hs.id).lat, db.session.get(Hotspot, hs.id).lon) == (
        3.5781,
        98.6812,
    )


def test_create_hotspot_without_coordinates_needs_location(client, coord, office):
    """A hand-added hotspot without coordinates is stored as "needs location"."""
    resp = client.post("/coord/hotspots/new", data=edit_payload(lat="", lon="", name="Baru"))
    assert resp.status_code == 302
    hs = db.session.scalar(sa.select(Hotspot).filter_by(name="Baru"))
    assert hs.office_id == office.id and hs.status == HotspotStatus.NEEDS_LOCATION


def test_drop_pin_sets_location_and_goes_to_next(client, coord, office):
    """Dropping a pin stores it, makes the hotspot active and opens the next one needing a pin."""
    first = needs_pin(office, name="Pertama")
    second = needs_pin(office, name="Kedua")
    db.session.commit()
    page = client.get(f"/coord/hotspots/{first.id}/location").get_data(as_text=True)
    assert 'id="pin-map"' in page and "leaflet.js" in page and "js/pin-map.js" in page
    assert 'data-center-lat="3.574200"' in page  # starts at the kelurahan's centre
    resp = client.post(
        f"/coord/hotspots/{first.id}/location",
        data={"lat": "3.5801", "lon": "98.6901", "next": "1"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/coord/hotspots/{second.id}/location")
    db.session.expire_all()
    first = db.session.get(Hotspot, first.id)
    assert (first.lat, first.lon, first.status, first.location_source) == (
        3.5801,
        98.6901,
        HotspotStatus.ACTIVE,
        "pin",
    )
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="hotspot.pin"))
    assert event.details["before"]["lat"] is None


def test_move_pin_of_located_hotspot(client, coord, office):
    """Moving the pin of a located hotspot replaces its coordinates and returns to the list."""
    hs = make_hotspot(office, lat=3.6, lon=98.7)
    db.session.commit()
    resp = client.post(f"/coord/hotspots/{hs.id}/location", data={"lat": "3.61", "lon": "98.71"})
    assert resp.status_code == 302 and "/coord/hotspots" in resp.headers["Location"]
    db.session.expire_all()
    assert (db.session.get(Hotspot, hs.id).lat, db.session.get(Hotspot, hs.id).lon) == (3.61, 98.71)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lat": "", "lon": ""}, "Drop the pin on the map"),
        ({"lat": "98.69", "lon": "3.58"}, "look swapped"),
        ({"lat": "-6.2", "lon": "abc"}, "Not a valid decimal number"),
    ],
)
def test_pin_rejects_missing_or_bad_coordinates(client, coord, office, data, message):
    """The pin form refuses empty, swapped or malformed coordinates and changes nothing."""
    hs = needs_pin(office)
    db.session.commit()
    resp = client.post(f"/coord/hotspots/{hs.id}/location", data=data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).status == HotspotStatus.NEEDS_LOCATION


def test_other_office_hotspot_is_not_found(client, coord):
    """Another office's hotspot answers 404 on edit and pin, and is not changed."""
    other = make_hotspot(make_office(name="Lain"), lat=3.6, lon=98.7)
    db.session.commit()
    assert client.get(f"/coord/hotspots/{other.id}/edit").status_code == 404
    resp = client.post(f"/coord/hotspots/{other.id}/location", data={"lat": "3.5", "lon": "98.5"})
    assert resp.status_code == 404
    db.session.expire_all()
    assert db.session.get(Hotspot, other.id).lat == 3.6


HOTSPOT_URLS = [
    ("get", "/coord/hotspots"),
    ("get", "/coord/hotspots/new"),
    ("post", "/coord/hotspots/new"),
    ("get", "/coord/hotspots/{id}/edit"),
    ("post", "/coord/hotspots/{id}/edit"),
    ("get", "/coord/hotspots/{id}/location"),
    ("post", "/coord/hotspots/{id}/location"),
]


@pytest.mark.parametrize(("method", "url"), HOTSPOT_URLS)
def test_hotspot_views_deny_field_users_and_anonymous(client, office, method, url):
    """Anonymous users are sent to login and field users get 403; nothing changes."""
    hs = needs_pin(office, name="Tetap")
    field_user = make_user(Role.FIELD, team=make_team(office))
    db.session.commit()
    target = url.format(id=hs.id)
    payload = edit_payload()
    assert getattr(client, method)(target, data=payload).status_code in (302, 401)
    login(client, field_user, lang="en")
    assert getattr(client, method)(target, data=payload).status_code == 403
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).name == "Tetap"
    assert db.session.scalar(sa.select(sa.func.count(Hotspot.id))) == 1


def test_list_paginates_and_keeps_filters(client, coord, office):
    """More than 50 matches are split over pages; the page links keep the active filters."""
    for i in range(55):
        make_hotspot(office, name=f"Sekolah {i:02d}", kind="school", priority=3)
    make_hotspot(office, name="Rumah Sakit", kind="hospital", priority=3)
    db.session.commit()
    first = client.get("/coord/hotspots?kind=school").get_data(as_text=True)
    assert "55 hotspots" in first and "Page 1 of 2" in first
    assert 'href="/coord/hotspots?page=2&amp;kind=school"' in first
    second = client.get("/coord/hotspots?kind=school&page=2").get_data(as_text=True)
    assert second.count('<tr data-hotspot="') == 5 and "Rumah Sakit" not in second


def test_archive_hides_and_unarchive_restores(client, coord, office):
    """Archiving hides a hotspot from the default list; un-archiving derives its status again."""
    hs = make_hotspot(office, name="Arsip Saya")
    db.session.commit()
    resp = client.post(
        f"/coord/hotspots/{hs.id}/edit", data=edit_payload(name="Arsip Saya", archived="y")
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).status == HotspotStatus.ARCHIVED
    assert ">Arsip Saya<" not in client.get("/coord/hotspots").get_data(as_text=True)
    assert ">Arsip Saya<" in client.get("/coord/hotspots?status=archived").get_data(as_text=True)
    client.post(
        f"/coord/hotspots/{hs.id}/edit", data=edit_payload(name="Arsip Saya", lat="", lon="")
    )
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).status == HotspotStatus.NEEDS_LOCATION


def test_zero_remaining_marks_done_and_new_demand_reactivates(client, coord, office):
    """A hotspot whose remaining counts are all zero is done; adding demand makes it active."""
    hs = make_hotspot(office)
    db.session.commit()
    client.post(f"/coord/hotspots/{hs.id}/edit", data=edit_payload(remaining_ktp_record="0"))
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).status == HotspotStatus.DONE
    client.post(f"/coord/hotspots/{hs.id}/edit", data=edit_payload(remaining_ktp_record="5"))
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).status == HotspotStatus.ACTIVE


# --- site contacts ---------------------------------------------------------------------------


def test_edit_stores_site_contact_and_shows_it_again(client, coord, office):
    """The contact person and phone are saved (whitespace tidied) and prefilled on the form."""
    hs = make_hotspot(office)
    db.session.commit()
    resp = client.post(
        f"/coord/hotspots/{hs.id}/edit",
        data=edit_payload(contact_name="  Ibu  Sari ", contact_phone=" +62 812-3456-7890 "),
    )
    assert resp.status_code == 302
    db.session.expire_all()
    hs = db.session.get(Hotspot, hs.id)
    assert (hs.contact_name, hs.contact_phone) == ("Ibu Sari", "+62 812-3456-7890")
    body = client.get(f"/coord/hotspots/{hs.id}/edit").get_data(as_text=True)
    assert 'value="Ibu Sari"' in body and 'value="+62 812-3456-7890"' in body
    assert 'type="tel"' in body and "Shown to field teams only." in body
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="hotspot.update"))
    assert "Sari" not in repr(event.details) and "3456" not in repr(event.details)


def test_create_hotspot_with_contact_and_clear_it(client, coord, office):
    """A new hotspot keeps its contact; emptying both fields clears it again."""
    resp = client.post(
        "/coord/hotspots/new",
        data=edit_payload(name="Baru", contact_name="Pak Kepala", contact_phone="061 4512345"),
    )
    assert resp.status_code == 302
    hs = db.session.scalar(sa.select(Hotspot).filter_by(name="Baru"))
    assert (hs.contact_name, hs.contact_phone) == ("Pak Kepala", "061 4512345")
    client.post(
        f"/coord/hotspots/{hs.id}/edit",
        data=edit_payload(name="Baru", contact_name="", contact_phone=""),
    )
    db.session.expire_all()
    hs = db.session.get(Hotspot, hs.id)
    assert (hs.contact_name, hs.contact_phone) == ("", "")


@pytest.mark.parametrize(
    "phone",
    ["12345", "0812/3456/789", "(061) 4512345", "0812 3456 ext 7", "+62+812345678", "١٢٣٤٥٦٧٨"],
)
def test_edit_rejects_invalid_contact_phone(client, coord, office, phone):
    """A phone that is not digits, spaces, "-" and a leading "+" (6–20 digits) is refused."""
    hs = make_hotspot(office, name="Tetap")
    db.session.commit()
    resp = client.post(f"/coord/hotspots/{hs.id}/edit", data=edit_payload(contact_phone=phone))
    assert resp.status_code == 400
    assert "Enter a phone number with digits" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Hotspot, hs.id).contact_phone == ""


def test_edit_rejects_too_long_contact_name(client, coord, office):
    """A contact name over 120 characters is refused, never truncated."""
    hs = make_hotspot(office)
    db.session.commit()
    resp = client.post(f"/coord/hotspots/{hs.id}/edit", data=edit_payload(contact_name="x" * 121))
    assert resp.status_code == 400


def test_public_pages_never_show_site_contacts(client, app):
    """A published site's contact person and phone appear on no public page (id and en)."""
    from tests.factories import today_wib
    from tests.web.test_pages import _public_get_routes, publish_route

    team = make_team()
    school = make_hotspot(
        team.office,
        name="SMA Kontak Terbuka",
        contact_name="ZZKONTAKZZ",
        contact_phone="+62 812-0000-9999",
    )
    publish_route(team, today_wib(), [school])
    publish_route(make_team(team.office), today_wib() + timedelta(days=1), [school])
    db.session.commit()
    paths = _public_get_routes(app)
    assert "/" in paths
    seen_site = False
    for path in paths:
        for query in ("", "?lang=en", "?kecamatan=12.71.01"):
            body = client.get(path + query).get_data(as_text=True)
            seen_site = seen_site or "SMA Kontak Terbuka" in body
            for sentinel in ("ZZKONTAKZZ", "812-0000-9999"):
                assert sentinel not in body, f"{sentinel} leaked on {path}{query}"
    assert seen_site  # the site itself is public, so the pages did show it
