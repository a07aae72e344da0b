"""Home-visit requests from residents: the public form, its status code and the status page.

Issue 9, point 4; SECURITY rows 14, 15, 50 and 51: validation per field in Indonesian, NIK only
where the office asks for it, the consent notice and its stored version, only the hash of the
status code stored, a honeypot, rate limits, and no personal data on the status page or in logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import escape

from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    HotspotKind,
    PublicVisit,
    RequestStatus,
    VisitRequest,
)
from outreach.public.requests import (
    CODE_BITS,
    CONSENT_VERSION,
    new_status_code,
    normalise_nik,
    normalise_phone,
    normalise_status_code,
    status_code_hash,
)
from outreach.public.schedule import office_today
from tests.factories import csrf_token_in, make_hotspot, make_office, make_plan

# Sentinel personal data: none of it may leave the request row (logs, audit, status page).
REQUESTER = "ZZREQUESTERZZ Budi"
PERSON = "ZZPERSONZZ Siti"
PHONE = "+6281200000000"
PHONE_STORED = "081200000000"
ADDRESS = "ZZADDRESSZZ Jl. Mawar No. 9, RT 02/RW 05"
NIK = "1271014107500001"  # Medan (12.71.01), a woman born 1 July 1950
NOTES = "ZZNOTESZZ Ibu terbaring di kamar belakang"
KELURAHAN = "ZZKELZZ Pasar Baru"
SENTINELS = (REQUESTER, PERSON, PHONE, PHONE_STORED, ADDRESS, NIK, NOTES, KELURAHAN)
CODE_RE = re.compile(r"JB(?:-[0-9A-HJKMNP-TV-Z]{5}){4}-[0-9A-HJKMNP-TV-Z]{6}")
# A status code of this release (130 bits) and one of the first release (80 bits), canonical.
CODE = "JB-10ABC-D01EF-GHJKM-NPQRS-TVWXYZ"
LEGACY_CODE = "JB-10AB-CD01-EFGH-JKMN"


@pytest.fixture
def office(app):
    office = make_office(
        slug="kota-medan", phone="061-4512345", email="dukcapil@medan.example.go.id"
    )
    make_hotspot(office, kelurahan_code="12.71.01.1001", kelurahan_name=KELURAHAN)
    make_hotspot(
        office,
        kecamatan_code="12.71.02",
        kecamatan_name="Medan Area",
        kelurahan_code="12.71.02.1003",
        kelurahan_name="Sukaramai I",
    )
    db.session.commit()
    return office


def form_data(**kw) -> dict:
    data = {
        "requester_name": REQUESTER,
        "requester_relation": "family",
        "person_name": PERSON,
        "phone": PHONE,
        "address": ADDRESS,
        "kelurahan": "12.71.01.1001",
        "reason": "bedridden",
        "services": ["ktp_record", "kia"],
        "persons": "2",
        "notes": NOTES,
        "consent": "y",
        "lat": "3.583100",
        "lon": "98.671200",
        "nik": NIK,
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def html_of(resp) -> str:
    return resp.get_data(as_text=True)


def requests_count() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(VisitRequest.id)))


def indonesian(app, msgid: str, **values) -> str:
    """The Indonesian text of a message, as the catalogue gives it."""
    with app.test_request_context("/"), force_locale("id"):
        return _(msgid, **values)


def submit(client, key="kota-medan", **kw):
    return client.post(f"/o/{key}/home-visit", data=form_data(**kw))


def code_from_done_page(client, resp) -> str:
    assert resp.status_code == 303, html_of(resp)[:2000]
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200
    found = CODE_RE.findall(html_of(page))
    assert found, "no status code on the page"
    return found[0]


# ------------------------------------------------------------------------------ the form


def test_form_is_indonesian_with_consent_notice_and_honeypot(app, client, office):
    """The form opens in Bahasa Indonesia with the consent notice, version and retention, and
    is never cached (SECURITY rows 32, 51)."""
    resp = client.get("/o/kota-medan/home-visit")
    html = html_of(resp)
    assert resp.status_code == 200
    assert '<html lang="id">' in html
    assert resp.headers["Cache-Control"] == "no-store"
    assert CONSENT_VERSION in html
    assert indonesian(app, "Ask for a home visit") in html
    notice = indonesian(
        app, "How long: the data is deleted %(days)s days after the visit is closed.", days=90
    )
    assert notice in html
    assert "UU No. 27 Tahun 2022" in html
    assert "061-4512345" in html and "dukcapil@medan.example.go.id" in html  # how to ask
    assert 'name="consent"' in html and "required" in html
    # Every visible input has a label.
    ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', html)
    assert {"f-requester_name", "f-phone", "f-kelurahan", "f-address", "f-consent"} <= set(ids)
    for field_id in ids:
        assert f'for="{field_id}"' in html, field_id
    # Kelurahan choices are the office's, with their kecamatan.
    assert "Sukaramai I (Kec. Medan Area)" in html
    # Services default to KTP-el recording.
    assert re.search(r'value="ktp_record" checked', html)
    assert not re.search(r'value="kia" checked', html)
    # The honeypot: hidden from people and screen readers, no tab stop, no autofill.
    trap = re.search(r'<div class="hv-trap" aria-hidden="true">.*?</div>', html, re.S).group(0)
    assert 'name="website"' in trap and 'tabindex="-1"' in trap and 'autocomplete="off"' in trap
    # Location: optional, hidden until JavaScript shows it; the page works without it.
    assert 'name="lat"' in html and 'name="lon"' in html
    assert re.search(r"data-hv-location[^>]*hidden", html)
    assert "js/home-visit.js" in html
    # No NIK unless the office asks for it.
    assert 'name="nik"' not in html


def test_unknown_office_is_404(app, client, office):
    assert client.get("/o/no-such-office/home-visit").status_code == 404
    assert client.post("/o/no-such-office/home-visit", data=form_data()).status_code == 404
    assert requests_count() == 0


def test_valid_request_is_stored_with_consent_and_only_the_code_hash(app, client, office):
    """Everything typed is stored, with the consent version and time; the code only hashed
    (SECURITY rows 15, 50, 51)."""
    before = datetime.now(UTC)
    resp = submit(client)
    code = code_from_done_page(client, resp)
    assert CODE_RE.fullmatch(code)

    db.session.expire_all()
    req = db.session.scalars(sa.select(VisitRequest)).one()
    assert req.office_id == office.id
    assert req.requester_name == REQUESTER
    assert req.requester_relation == "family"
    assert req.person_name == PERSON
    assert req.phone == PHONE_STORED
    assert req.address == ADDRESS
    assert req.kelurahan_code == "12.71.01.1001"
    assert (req.lat, req.lon) == (pytest.approx(3.5831), pytest.approx(98.6712))
    assert req.reason == "bedridden"
    assert req.services == ["ktp_record", "kia"]
    assert req.persons == 2
    assert req.notes == NOTES
    assert req.nik is None  # this office does not ask for it: a posted NIK is dropped
    assert req.status == RequestStatus.RECEIVED
    assert req.consent_version == CONSENT_VERSION
    consent_at = req.consent_at if req.consent_at.tzinfo else req.consent_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= consent_at <= datetime.now(UTC) + timedelta(seconds=1)
    # Only SHA-256 of the normalised code: the code itself is nowhere in the row.
    assert req.token_hash == hashlib.sha256(code.encode()).hexdigest()
    row = db.session.execute(sa.select(VisitRequest.__table__)).one()
    assert all(code not in str(v) for v in row)
    # One audit record, without personal data.
    events = db.session.scalars(sa.select(AuditEvent)).all()
    assert [e.action for e in events] == ["visit_request.create"]
    assert events[0].object_id == str(req.id)
    dumped = json.dumps(events[0].details)
    assert not any(s in dumped for s in SENTINELS)


def test_done_page_shows_the_code_again_after_a_reload(app, client, office):
    """The page with the code is shown again on reload and never cached (SECURITY row 32)."""
    resp = submit(client)
    code = code_from_done_page(client, resp)
    again = client.get(resp.headers["Location"])
    assert code in html_of(again)
    assert again.headers["Cache-Control"] == "no-store"
    assert requests_count() == 1  # reloading the answer does not send the form again


def test_done_page_without_a_request_goes_back_to_the_form(app, client, office):
    resp = client.get("/o/kota-medan/home-visit/done")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/o/kota-medan/home-visit")


def test_person_is_the_requester_when_asking_for_oneself(app, client, office):
    resp = submit(client, requester_relation="self", person_name="")
    assert resp.status_code == 303
    db.session.expire_all()
    req = db.session.scalars(sa.select(VisitRequest)).one()
    assert req.person_name == REQUESTER


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("0812-3456-7890", "081234567890"),
        ("+62 812 3456 7890", "081234567890"),
        ("(061) 451 2345", "0614512345"),
        ("08123456", "08123456"),
    ],
)
def test_phone_forms_are_normalised(app, client, office, phone, stored):
    assert submit(client, phone=phone).status_code == 303
    db.session.expire_all()
    assert db.session.scalars(sa.select(VisitRequest.phone)).one() == stored


PHONE_MSG = (
    "The phone number must start with 0 or +62 and have 8 to 15 digits, e.g. 0812 3456 7890."
)


@pytest.mark.parametrize(
    ("field", "changes", "msgid"),
    [
        ("requester_name", {"requester_name": "  "}, "Enter your name."),
        (
            "requester_name",
            {"requester_name": "x" * 121},
            "Your name is too long (at most 120 characters).",
        ),
        (
            "requester_relation",
            {"requester_relation": "boss"},
            "Choose who you are to the person to visit.",
        ),
        ("person_name", {"person_name": ""}, "Enter the name of the person to visit."),
        ("phone", {"phone": ""}, "Enter a phone number so the office can call you."),
        ("phone", {"phone": "12345678"}, PHONE_MSG),
        ("phone", {"phone": "0812"}, PHONE_MSG),
        ("phone", {"phone": "+1 555 123 4567"}, PHONE_MSG),
        ("phone", {"phone": "0812345678901234"}, PHONE_MSG),
        ("phone", {"phone": "0812３４５６７８９"}, PHONE_MSG),
        (
            "address",
            {"address": "Jl"},
            "Enter the address of the house: street, house number, RT/RW, landmarks.",
        ),
        (
            "address",
            {"address": "Jl. " + "x" * 500},
            "The address is too long (at most 500 characters).",
        ),
        ("kelurahan", {"kelurahan": ""}, "Choose the kelurahan or desa of the house."),
        ("kelurahan", {"kelurahan": "31.71.01.1001"}, "Choose the kelurahan or desa of the house."),
        ("reason", {"reason": None}, "Choose why the person cannot come to the office."),
        ("reason", {"reason": "lazy"}, "Choose why the person cannot come to the office."),
        ("services", {"services": None}, "Choose at least one service."),
        ("services", {"services": ["teleport"]}, "Choose at least one service."),
        ("persons", {"persons": "0"}, "Enter the number of persons: a whole number from 1 to 20."),
        ("persons", {"persons": "21"}, "Enter the number of persons: a whole number from 1 to 20."),
        ("persons", {"persons": "2a"}, "Enter the number of persons: a whole number from 1 to 20."),
        ("notes", {"notes": "x" * 301}, "The notes are too long (at most 300 characters)."),
        ("consent", {"consent": None}, "Tick the box to agree, or we cannot take the request."),
    ],
)
def test_each_validation_error_names_its_field(app, client, office, field, changes, msgid):
    """A wrong field re-renders the form (400, never 500) with an Indonesian message next to
    that field, tied to its input; nothing is stored and the typed values are kept."""
    resp = submit(client, **changes)
    html = html_of(resp)
    assert resp.status_code == 400
    assert requests_count() == 0
    expected = indonesian(app, msgid)
    error = re.search(rf'<p class="field-error hv-error" id="f-{field}-error">([^<]*)</p>', html)
    assert error is not None, f"no error shown for {field}"
    assert error.group(1) == str(escape(expected))
    assert re.search(rf'id="f-{field}"[^>]*aria-describedby="[^"]*f-{field}-error', html)
    assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', html)
    # The other fields keep what was typed.
    if field != "address":
        assert ADDRESS in html
    # Only the broken field has an error.
    assert re.findall(r'id="f-([a-z_]+)-error"', html) == [field]


def test_all_errors_at_once_are_listed_without_a_500(app, client, office):
    resp = client.post("/o/kota-medan/home-visit", data={"persons": "999999999999999"})
    assert resp.status_code == 400
    fields = set(re.findall(r'id="f-([a-z_]+)-error"', html_of(resp)))
    assert {"requester_name", "phone", "address", "kelurahan", "reason", "consent"} <= fields
    assert requests_count() == 0


def test_location_outside_indonesia_or_half_a_pair_is_dropped(app, client, office):
    assert submit(client, lat="48.85", lon="2.35").status_code == 303
    assert submit(client, lat="3.59", lon="").status_code == 303
    assert submit(client, lat="nan", lon="inf").status_code == 303
    db.session.expire_all()
    rows = db.session.execute(sa.select(VisitRequest.lat, VisitRequest.lon)).all()
    assert rows == [(None, None)] * 3


# ------------------------------------------------------------------------------ NIK


def test_nik_is_asked_and_validated_only_where_the_office_requires_it(app, client, office):
    office.requires_nik = True
    db.session.commit()
    html = html_of(client.get("/o/kota-medan/home-visit"))
    assert 'name="nik"' in html and 'for="f-nik"' in html

    missing = submit(client, nik="")
    assert missing.status_code == 400
    assert 'id="f-nik-error"' in html_of(missing)
    for bad in ("127101410750000", "12710141075000011", "1271014113500001", "127101410750ABCD"):
        resp = submit(client, nik=bad)
        assert resp.status_code == 400, bad
        error = re.search(r'id="f-nik-error">([^<]*)<', html_of(resp)).group(1)
        msgid = "The NIK must be the 16 digits of the KTP or family card. Check the digits."
        assert error == str(escape(indonesian(app, msgid)))
    assert requests_count() == 0

    assert submit(client, nik="1271 0141 0750 0001").status_code == 303
    db.session.expire_all()
    assert db.session.scalars(sa.select(VisitRequest.nik)).one() == NIK


def test_nik_is_neither_shown_nor_stored_where_not_required(app, client, office):
    assert office.requires_nik is False
    assert 'name="nik"' not in html_of(client.get("/o/kota-medan/home-visit"))
    assert submit(client, nik="not a nik at all").status_code == 303  # ignored, not validated
    db.session.expire_all()
    assert db.session.scalars(sa.select(VisitRequest.nik)).one() is None


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (NIK, True),
        ("1271010101900002", True),
        ("1271010001900002", False),  # day 00
        ("1271017201900002", False),  # day 72
        ("1271010113900002", False),  # month 13
        ("0971010101900002", False),  # province 09
        ("1271010101900000", False),  # serial 0000
        ("1271010101９00002", False),  # a full-width digit
    ],
)
def test_nik_rules(raw, ok):
    assert (normalise_nik(raw) is not None) is ok


def test_phone_rules():
    assert normalise_phone("0812 3456 7890") == "081234567890"
    assert normalise_phone("+62-61-4512345") == "0614512345"
    assert normalise_phone("62812345678") is None  # no 0 or +62 prefix
    assert normalise_phone("0012345678") is None  # national numbers never start 00
    assert normalise_phone("0" + "1" * 15) is None  # 16 digits


# ------------------------------------------------------------------------------ honeypot, logs


def test_honeypot_stores_nothing_but_answers_like_a_success(app, client, office):
    """A bot that fills the honeypot gets a success page and stores nothing (SECURITY row 33)."""
    resp = submit(client, website="http://spam.example")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/o/kota-medan/home-visit/done")
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200
    assert CODE_RE.search(html_of(page))
    assert requests_count() == 0
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0


def test_no_log_record_holds_personal_data(app, client, office, caplog):
    """No log line holds a name, phone, address, NIK, note or the code (SECURITY row 50)."""
    office.requires_nik = True
    db.session.commit()
    caplog.set_level(logging.DEBUG)
    submit(client, requester_name="")  # an invalid submission first
    code = code_from_done_page(client, submit(client))
    client.post("/request-status", data={"code": code})
    assert requests_count() == 1
    messages = [r.getMessage() for r in caplog.records]
    for sentinel in (*SENTINELS, code):
        assert not any(sentinel in m for m in messages), sentinel


# ------------------------------------------------------------------------------ status codes


def test_status_codes_are_random_130_bit_crockford():
    """Status codes carry at least 128 random bits from secrets (SECURITY row 15)."""
    assert CODE_BITS >= 128
    codes = {new_status_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE_RE.fullmatch(c) for c in codes)
    symbols = [c[3:].replace("-", "") for c in codes]
    # 26 characters of 32 symbols = 130 bits: every position takes every symbol, the first too
    # (a number drawn with fewer bits would leave the leading character at 0).
    assert {len(raw) for raw in symbols} == {26} and 26 * 5 >= 128
    alphabet = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert {raw[0] for raw in symbols} == alphabet
    assert {ch for raw in symbols for ch in raw} == alphabet


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        CODE.lower(),
        "jb 10abc d01ef ghjkm npqrs tvwxyz",
        "JB-lOABC-DOIEF-GHJKM-NPQRS-TVWXYZ",  # l/I for 1, O for 0
        "10ABCD01EFGHJKMNPQRSTVWXYZ",  # without the prefix or dashes
        "JB10ABCD01EFGHJKMNPQRSTVWXYZ",
        "JB-10AB-CD01-EFGH-JKMN-PQRS-TVWX-YZ",  # grouped differently
        " JB–10ABC–D01EF–GHJKM–NPQRS–TVWXYZ ",  # typographic dashes
    ],
)
def test_typed_codes_are_normalised(typed):
    """Case, spaces, dashes and look-alike letters do not matter (SECURITY row 15)."""
    assert normalise_status_code(typed) == CODE
    assert status_code_hash(typed) == hashlib.sha256(CODE.encode()).hexdigest()


@pytest.mark.parametrize(
    "typed", [LEGACY_CODE, "jb 10ab cd01 efgh jkmn", "JB-lOAB-CDOI-EFGH-JKMN", "10ABCD01EFGHJKMN"]
)
def test_first_release_codes_keep_their_hash(typed):
    """An 80-bit code handed out before the switch keeps its canonical form and stored hash, so
    the resident's link still works; new codes are never made this short (SECURITY row 15)."""
    assert normalise_status_code(typed) == LEGACY_CODE
    assert status_code_hash(typed) == hashlib.sha256(LEGACY_CODE.encode()).hexdigest()


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "JB-10AB",
        CODE[:-1],  # 25 characters
        CODE + "Z",  # 27 characters
        CODE[:-1] + "U",  # U is not a Crockford symbol
        "XX" + CODE[2:],
        "JB-10AB-CD01-EFGH-JKM",  # 15 characters
    ],
)
def test_malformed_codes_are_refused(typed):
    """Anything but 26 (or, from the first release, 16) symbols is not a code (SECURITY row 15)."""
    assert normalise_status_code(typed) is None


# ------------------------------------------------------------------------------ status page


def make_request(office, code=CODE, **kw) -> VisitRequest:
    req = VisitRequest(
        office_id=office.id,
        token_hash=status_code_hash(code),
        requester_name=REQUESTER,
        requester_relation="family",
        person_name=PERSON,
        nik=NIK,
        phone=PHONE_STORED,
        address=ADDRESS,
        kelurahan_code="12.71.01.1001",
        persons=1,
        services=["ktp_record"],
        reason="disability",
        notes=NOTES,
        consent_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        consent_version=CONSENT_VERSION,
        created_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        **kw,
    )
    db.session.add(req)
    db.session.commit()
    return req


def assert_no_pii(html: str) -> None:
    for sentinel in SENTINELS:
        assert sentinel not in html, sentinel
    assert "12.71.01.1001" not in html


def test_status_page_by_code_shows_status_and_no_personal_data(app, client, office):
    """The status page shows the state only, no personal data, and is never cached
    (SECURITY rows 14, 15, 32)."""
    make_request(office)
    resp = client.get("/request-status")
    assert resp.status_code == 200 and 'name="code"' in html_of(resp)
    assert "JB-XXXXX-XXXXX-XXXXX-XXXXX-XXXXXX" in html_of(resp)  # the hint shows the new form
    resp = client.post("/request-status", data={"code": "jb lOabc doief ghjkm npqrs tvwxyz"})
    html = html_of(resp)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert 'class="card hv-result hv-result-received"' in html
    assert indonesian(app, "Received, being checked") in html
    assert "1 Desember 2026" in html  # the day received (WIB)
    assert_no_pii(html)


def test_status_page_finds_a_first_release_code(app, client, office):
    """A request made with an 80-bit code is still found by it (SECURITY rows 14, 15)."""
    make_request(office, code=LEGACY_CODE)
    resp = client.post("/request-status", data={"code": LEGACY_CODE.lower()})
    assert resp.status_code == 200
    assert "hv-result-received" in html_of(resp)
    assert_no_pii(html_of(resp))


def test_status_page_unknown_and_malformed_codes(app, client, office):
    """An unknown code is a 404 without data, a malformed one a 400 (SECURITY rows 14, 15)."""
    make_request(office)
    unknown = client.post("/request-status", data={"code": "JB-00000-00000-00000-00000-000000"})
    assert unknown.status_code == 404
    html = html_of(unknown)
    assert 'id="hv-not-found"' in html and "hv-result" not in html
    assert_no_pii(html)
    malformed = client.post("/request-status", data={"code": "hello"})
    assert malformed.status_code == 400
    assert 'id="f-code-error"' in html_of(malformed)


def test_status_page_shows_the_planned_day_of_an_accepted_request(app, client, office):
    """The planned day is shown, and still no personal data (SECURITY row 14)."""
    hs = make_hotspot(office, kind=HotspotKind.HOME, name="Kunjungan rumah #1", demand={})
    make_request(office, status=RequestStatus.ACCEPTED, hotspot_id=hs.id)
    plan = make_plan(office)
    today = office_today(office)

    def visit(day, cancelled=False):
        start = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)
        db.session.add(
            PublicVisit(
                office_id=office.id,
                plan_id=plan.id,
                hotspot_id=hs.id,
                day=day,
                start_at=start,
                end_at=start + timedelta(hours=1),
                cancelled=cancelled,
                is_home=True,
            )
        )

    # Not yet on a published schedule.
    html = html_of(client.post("/request-status", data={"code": CODE}))
    assert "hv-result-accepted" in html
    assert (
        indonesian(
            app, "The visit is accepted but not scheduled yet. The office will call you when it is."
        )
        in html
    )

    visit(today - timedelta(days=3))  # past
    visit(today + timedelta(days=2), cancelled=True)  # cancelled
    visit(today + timedelta(days=5))
    db.session.commit()
    html = html_of(client.post("/request-status", data={"code": CODE}))
    with app.test_request_context("/"), force_locale("id"):
        from flask_babel import format_date

        planned = format_date(today + timedelta(days=5), "full")
        cancelled = format_date(today + timedelta(days=2), "full")
    assert planned in html
    assert cancelled not in html
    assert_no_pii(html)


def test_status_page_shows_the_translated_rejection_reason(app, client, office):
    """The rejection reason is shown, and still no personal data (SECURITY row 14)."""
    make_request(office, status=RequestStatus.REJECTED, rejection_reason="outside_area")
    html = html_of(client.post("/request-status", data={"code": CODE}))
    assert "hv-result-rejected" in html
    assert indonesian(app, "The address is outside this office's area") in html.replace(
        "&#39;", "'"
    )
    assert_no_pii(html)


def test_anonymous_read_back_by_id_is_impossible(app, client, office):
    """SECURITY row 15: no public URL takes a request id."""
    make_request(office)
    for url in ("/requests/1", "/request-status/1", "/o/kota-medan/home-visit/1"):
        assert client.get(url).status_code == 404


# ------------------------------------------------------------------------------ rate limits


def test_home_visit_posts_are_rate_limited_with_a_friendly_page(app_config, request):
    """N+1 posts from one address get a friendly 429 page; others may still send
    (SECURITY row 33)."""
    app_config.update(RATELIMIT_ENABLED=True, HOME_VISIT_RATE_LIMIT="2 per hour")
    app = request.getfixturevalue("app")
    office = request.getfixturevalue("office")
    client = app.test_client()
    env = {"REMOTE_ADDR": "10.20.30.41"}
    url = f"/o/{office.slug}/home-visit"
    codes = [client.post(url, data=form_data(), environ_base=env).status_code for _ in range(3)]
    assert codes == [303, 303, 429]
    blocked = client.post(url, data=form_data(), environ_base=env)
    html = html_of(blocked)
    assert blocked.status_code == 429
    assert '<html lang="id">' in html
    assert indonesian(app, "Please wait a moment") in html
    assert "Traceback" not in html and "Too Many Requests" not in html
    assert requests_count() == 2
    # Reading the form is not limited; another address may still send.
    assert client.get(url, environ_base=env).status_code == 200
    other = client.post(url, data=form_data(), environ_base={"REMOTE_ADDR": "10.20.30.42"})
    assert other.status_code == 303


@pytest.mark.parametrize("hops", [0, 1])
def test_behind_a_proxy_each_resident_has_their_own_limit(app_config, request, hops):
    """With PROXY_FIX_X_FOR=1 the limit counts the client from X-Forwarded-For (residents
    behind one reverse proxy are not counted together); with 0 a forged header changes nothing
    (SECURITY row 33)."""
    app_config.update(
        RATELIMIT_ENABLED=True, HOME_VISIT_RATE_LIMIT="1 per hour", PROXY_FIX_X_FOR=hops
    )
    app = request.getfixturevalue("app")
    office = request.getfixturevalue("office")
    client = app.test_client()
    url = f"/o/{office.slug}/home-visit"
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    codes = [
        client.post(
            url, data=form_data(), environ_base=proxy, headers={"X-Forwarded-For": resident}
        ).status_code
        for resident in ("36.68.1.10", "36.68.1.11", "36.68.1.10")
    ]
    assert codes == ([303, 303, 429] if hops else [303, 429, 429])


def test_status_lookups_are_rate_limited(app_config, request):
    """Guessing codes is slowed down: N+1 look-ups from one address get 429
    (SECURITY rows 15, 33)."""
    app_config.update(RATELIMIT_ENABLED=True, REQUEST_STATUS_RATE_LIMIT="3 per hour")
    app = request.getfixturevalue("app")
    request.getfixturevalue("office")
    client = app.test_client()
    env = {"REMOTE_ADDR": "10.20.30.51"}
    codes = [
        client.post(
            "/request-status", data={"code": new_status_code()}, environ_base=env
        ).status_code
        for _ in range(4)
    ]
    assert codes == [404, 404, 404, 429]
    assert client.get("/request-status", environ_base=env).status_code == 200


# ------------------------------------------------------------------------------ CSRF


def test_form_works_with_csrf_on(csrf_app, office):
    """Residents have no account: the CSRF token rides on the anonymous session
    (SECURITY row 16)."""
    client = csrf_app.test_client()
    assert client.post("/o/kota-medan/home-visit", data=form_data()).status_code == 400
    html = html_of(client.get("/o/kota-medan/home-visit"))
    resp = client.post("/o/kota-medan/home-visit", data=form_data(csrf_token=csrf_token_in(html)))
    assert resp.status_code == 303
    assert requests_count() == 1
