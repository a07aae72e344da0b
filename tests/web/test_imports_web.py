"""Import screens: upload, preview (row/column/reason), import the valid rows, re-import."""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import AuditEvent, Hotspot, HotspotStatus, Role
from tests.factories import login, make_office, make_team, make_user

HEADER = "kode;nama;jenis;lintang;bujur;ktp_el;prioritas"
GOOD = "A-1;SMA Negeri 5 Medan;SMA;3,5801;98,6789;120;2"
BROKEN = "A-2;RSU Sehat;rumah sakit;3,59;98,67;10;9"
NO_PIN = "A-3;Panti Werdha Kasih;panti;;;15;1"


def csv_bytes(*rows: str, bom: bool = True) -> bytes:
    text = "\r\n".join([HEADER, *rows]) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "uploads")
    return app_config


@pytest.fixture
def upload_dir(app):
    return app.config["IMPORT_UPLOAD_DIR"]


def upload(client, data: bytes, filename: str = "titik.csv"):
    import io

    return client.post(
        "/coord/imports",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def upload_raw(client, payload: bytes):
    """POST a hand-built multipart body (the test client would spool a big one to a temp file
    that stays open when the app refuses the body unread)."""
    body = (
        b"--XBOUNDARYX\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + payload + b"\r\n--XBOUNDARYX--\r\n"
    )
    return client.post(
        "/coord/imports", data=body, content_type="multipart/form-data; boundary=XBOUNDARYX"
    )


def token_of(resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def hotspots() -> list[Hotspot]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Hotspot).order_by(Hotspot.external_code)).all()


def test_upload_page_offers_templates_and_columns(client, coord):
    """The upload page links both templates and lists the accepted header aliases."""
    body = client.get("/coord/imports").get_data(as_text=True)
    assert "/coord/imports/template.xlsx" in body and "/coord/imports/template.csv" in body
    assert "<code>lintang</code>" in body and "<code>latitude</code>" in body


def test_templates_download(client, coord):
    """The CSV template is UTF-8 with BOM and Indonesian headers; the XLSX is a workbook."""
    csv_resp = client.get("/coord/imports/template.csv")
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    assert csv_resp.data.startswith(b"\xef\xbb\xbfkode;nama;")
    assert "attachment" in csv_resp.headers["Content-Disposition"]
    xlsx_resp = client.get("/coord/imports/template.xlsx")
    assert xlsx_resp.status_code == 200 and xlsx_resp.data[:2] == b"PK"


def test_preview_shows_row_column_and_reason_and_stores_nothing(client, coord, upload_dir):
    """The preview names the broken row's number, column and reason; the DB stays empty."""
    token = token_of(upload(client, csv_bytes(GOOD, BROKEN, NO_PIN)))
    assert os.path.exists(os.path.join(upload_dir, token + ".bin"))
    resp = client.get(f"/coord/imports/{token}")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    errors = body.split('class="data issues errors"', 1)[1].split("</table>", 1)[0]
    assert '<tr data-row="3" data-code="out_of_range"><td class="num">3</td><td>prioritas</td>' in (
        errors
    )
    assert "outside the range 1–5" in errors
    assert "Import the 2 valid rows" in body
    assert hotspots() == []
    # The preview survives a reload: no re-upload needed.
    assert client.get(f"/coord/imports/{token}").status_code == 200


def test_preview_in_indonesian_by_default(client, office):
    """Without a language choice the importer's reasons are shown in Indonesian."""
    login(client, make_user(Role.COORDINATOR, office_id=office.id), lang="id")
    token = token_of(upload(client, csv_bytes(GOOD, BROKEN)))
    body = client.get(f"/coord/imports/{token}").get_data(as_text=True)
    assert "di luar rentang 1–5" in body


def test_commit_imports_only_valid_rows_and_sends_to_pins(client, coord, upload_dir):
    """Committing imports the valid rows only, removes the stored upload, audits, and opens
    the "needs location" list when a row has no coordinates."""
    token = token_of(upload(client, csv_bytes(GOOD, BROKEN, NO_PIN)))
    resp = client.post(f"/coord/imports/{token}/commit")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/coord/hotspots?status=needs_location")
    rows = hotspots()
    assert [(h.external_code, h.status) for h in rows] == [
        ("A-1", HotspotStatus.ACTIVE),
        ("A-3", HotspotStatus.NEEDS_LOCATION),
    ]
    assert (rows[0].lat, rows[0].lon, rows[0].priority) == (3.5801, 98.6789, 2)
    assert not os.path.exists(os.path.join(upload_dir, token + ".bin"))
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="hotspots.import"))
    assert event.details["created"] == 2 and event.details["skipped"] == 1
    assert event.user_id == coord.id
    listing = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Panti Werdha Kasih" in listing and "SMA Negeri 5 Medan" not in listing
    # The token is single-use.
    again = client.post(f"/coord/imports/{token}/commit")
    assert again.status_code == 302 and again.headers["Location"].endswith("/coord/imports")
    assert len(hotspots()) == 2


def test_reimport_updates_instead_of_duplicating(client, coord):
    """Importing the same codes again updates the stored hotspots."""
    client.post(f"/coord/imports/{token_of(upload(client, csv_bytes(GOOD)))}/commit")
    changed = GOOD.replace("SMA Negeri 5 Medan", "SMA Negeri 5 Medan (baru)").replace(";2", ";1")
    token = token_of(upload(client, csv_bytes(changed)))
    preview = client.get(f"/coord/imports/{token}").get_data(as_text=True)
    assert "0 new, 1 updates" in preview
    resp = client.post(f"/coord/imports/{token}/commit")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/coord/hotspots")
    rows = hotspots()
    assert [(h.external_code, h.name, h.priority) for h in rows] == [
        ("A-1", "SMA Negeri 5 Medan (baru)", 1)
    ]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (HEADER.encode("utf-16"), "titik.csv", "UTF-16"),
        (b"kode;nama\r\nA;Caf\xe9\r\n", "titik.csv", "not UTF-8"),
        (b"", "titik.csv", "The file is empty."),
        (b"PK\x03\x04 not really", "titik.xlsx", "cannot be read"),
        (csv_bytes(GOOD), "titik.txt", "Only .csv and .xlsx"),
    ],
)
def test_rejected_file_shows_reason_and_is_not_kept(
    client, coord, upload_dir, data, filename, message
):
    """A file that cannot be read at all gets 400 with the reason; nothing is stored anywhere."""
    resp = upload(client, data, filename)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert not os.path.isdir(upload_dir) or os.listdir(upload_dir) == []
    assert hotspots() == []


def test_missing_file_is_a_field_error(client, coord):
    """Submitting the form without a file gives 400 with the field's message."""
    resp = client.post("/coord/imports", data={}, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "Choose a file to upload." in resp.get_data(as_text=True)


def test_oversized_upload_is_413_page(client, coord, app):
    """An upload above MAX_CONTENT_LENGTH answers 413 with an explanation, never a 500
    (SECURITY row 18)."""
    resp = upload_raw(client, b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1024))
    assert resp.status_code == 413
    body = resp.get_data(as_text=True)
    assert "File too large" in body and "Traceback" not in body


@pytest.fixture
def csrf_on(app):
    # CSRFProtect and FlaskForm read this per request, so switching it on here is enough.
    app.config["WTF_CSRF_ENABLED"] = True


def test_oversized_upload_is_413_with_csrf_on(csrf_on, client, coord, app):
    """With CSRF protection on (it reads the form first) an oversized upload is still a 413
    (SECURITY row 18)."""
    resp = upload_raw(client, b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1024))
    assert resp.status_code == 413
    assert "File too large" in resp.get_data(as_text=True)


def test_commit_without_csrf_token_is_refused(csrf_on, client, coord, upload_dir, office):
    """With CSRF on, a commit without the token is rejected and imports nothing
    (SECURITY row 16)."""
    from outreach.coordinator import imports as views

    token = "A" * 32
    os.makedirs(upload_dir, exist_ok=True)
    with open(os.path.join(upload_dir, token + ".bin"), "wb") as fh:
        fh.write(csv_bytes(GOOD))
    with open(os.path.join(upload_dir, token + ".json"), "w") as fh:
        fh.write(
            f'{{"office_id": {office.id}, "user_id": {coord.id}, "filename": "a.csv", '
            f'"created": {time.time()}}}'
        )
    assert views._TOKEN.match(token)
    resp = client.post(f"/coord/imports/{token}/commit")
    assert resp.status_code == 400
    assert hotspots() == []


def test_other_users_token_and_junk_tokens_are_not_found(client, coord, office, upload_dir):
    """A token of another coordinator, a malformed or an expired token shows nothing."""
    token = token_of(upload(client, csv_bytes(GOOD)))
    other = make_user(Role.COORDINATOR, office_id=office.id)
    login(client, other, lang="en")
    for url in (
        f"/coord/imports/{token}",
        "/coord/imports/..%2F..%2Fetc%2Fpasswd",
        "/coord/imports/short",
    ):
        resp = client.get(url)
        assert resp.status_code in (302, 404)
    resp = client.post(f"/coord/imports/{token}/commit")
    assert resp.status_code == 302 and hotspots() == []
    assert os.path.exists(os.path.join(upload_dir, token + ".bin"))  # still the owner's


def test_expired_upload_is_swept(client, coord, app, upload_dir):
    """After the TTL the stored upload is deleted and the preview asks for a new upload."""
    token = token_of(upload(client, csv_bytes(GOOD)))
    app.config["IMPORT_UPLOAD_TTL_SECONDS"] = -1
    resp = client.get(f"/coord/imports/{token}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/coord/imports")
    assert os.listdir(upload_dir) == []


def test_discard_removes_the_upload(client, coord, upload_dir):
    """Discarding deletes the stored bytes and imports nothing."""
    token = token_of(upload(client, csv_bytes(GOOD)))
    resp = client.post(f"/coord/imports/{token}/discard")
    assert resp.status_code == 302
    assert os.listdir(upload_dir) == [] and hotspots() == []


def test_preview_escapes_hostile_cells(client, coord):
    """Cell text with HTML is shown as text in the preview, never as markup."""
    hostile = "A-9;<script>alert(1)</script>;SMA;3,58;98,67;5;3"
    token = token_of(upload(client, csv_bytes(hostile)))
    body = client.get(f"/coord/imports/{token}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


IMPORT_URLS = [
    ("get", "/coord/imports"),
    ("post", "/coord/imports"),
    ("get", "/coord/imports/template.csv"),
    ("get", "/coord/imports/template.xlsx"),
    ("get", "/coord/imports/{token}"),
    ("post", "/coord/imports/{token}/commit"),
    ("post", "/coord/imports/{token}/discard"),
]


@pytest.mark.parametrize(("method", "url"), IMPORT_URLS)
def test_import_views_deny_field_users_and_anonymous(client, office, method, url):
    """Anonymous users are sent to login and field users get 403 on every import view
    (SECURITY row 12)."""
    field_user = make_user(Role.FIELD, team=make_team(office))
    db.session.commit()
    target = url.format(token="B" * 32)
    assert getattr(client, method)(target).status_code in (302, 401)
    login(client, field_user, lang="en")
    assert getattr(client, method)(target).status_code == 403
    assert hotspots() == []


# ---------------------------------------------------------------------------------------------
# The same flow in a real browser (Debian Chromium), with CSRF on and the real CSP
# ---------------------------------------------------------------------------------------------


def seed() -> None:
    office = make_office(name="Dinas Dukcapil Kota Medan")
    make_user(Role.COORDINATOR, username="koordinator", office_id=office.id)


@pytest.fixture
def live_server(tmp_path):
    """The app on 127.0.0.1 with CSRF on and no map tiles (no internet here)."""
    from tests.browser.conftest import live_site

    uploads = str(tmp_path / "live-uploads")
    with live_site(tmp_path / "live.sqlite3", seed, IMPORT_UPLOAD_DIR=uploads) as (base, app, _):
        yield app, base


@pytest.mark.browser
@pytest.mark.slow
def test_browser_import_then_drop_pin(live_server, chromium_path, tmp_path):
    """In Chromium: upload a file with a broken row, see row/column/reason, import the valid
    rows, then drop the missing pin by clicking the map; no script error, no CSP violation."""
    from tests.browser.conftest import TABLET, chromium, log_in, open_page

    app, base = live_server
    csv_path = tmp_path / "titik.csv"
    csv_path.write_bytes(csv_bytes(GOOD, BROKEN, NO_PIN))
    with chromium(chromium_path) as browser:
        _context, page, problems = open_page(browser, TABLET, console=True)
        log_in(page, base, "koordinator", lang="en")
        page.goto(base + "/coord/imports")
        page.set_input_files("#file", str(csv_path))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_selector("table.errors")
        error_row = page.locator('table.errors tr[data-row="3"]')
        assert error_row.locator("td").nth(1).inner_text() == "prioritas"
        assert "1–5" in error_row.locator("td").nth(2).inner_text()
        page.click("form.import-bar button.button-primary")
        page.wait_for_url("**/coord/hotspots?status=needs_location")
        page.click("a.pin-link")
        page.wait_for_selector("#pin-map.leaflet-container")
        assert page.input_value("#lat") == ""
        page.click("#pin-map", position={"x": 300, "y": 150})
        lat, lon = page.input_value("#lat"), page.input_value("#lon")
        assert lat and lon
        page.click("button[name=next][value='1']")
        page.wait_for_load_state("networkidle")
        assert "Every hotspot has a location now." in page.content()
    assert problems == []
    with app.app_context():
        rows = db.session.scalars(sa.select(Hotspot).order_by(Hotspot.external_code)).all()
        assert [(h.external_code, h.status) for h in rows] == [
            ("A-1", HotspotStatus.ACTIVE),
            ("A-3", HotspotStatus.ACTIVE),
        ]
        assert (rows[1].lat, rows[1].lon, rows[1].location_source) == (
            float(lat),
            float(lon),
            "pin",
        )
        db.session.remove()
