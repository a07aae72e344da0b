"""Site contacts in the import: optional columns, aliases, phone validation, template, storage."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.importing import preview_file, service, template_csv, template_xlsx
from outreach.importing.fields import TEMPLATE_HEADERS, field_for_header, parse_phone
from outreach.models import AuditEvent, Hotspot
from tests.factories import make_office, make_user

from .helpers import GOOD_ROW, HEADER, csv_bytes, xlsx_bytes

CONTACT_HEADER = (*HEADER, "nama_kontak", "telepon_kontak")


def _row(name: str = "Ibu Sari", phone: str = "0812-3456-7890", code: str = "S1") -> tuple:
    return (code, f"SMA {code}", *GOOD_ROW[2:], name, phone)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("nama_kontak", "contact_name"),
        ("Contact Name", "contact_name"),
        ("Narahubung", "contact_name"),
        ("telepon_kontak", "contact_phone"),
        ("Contact-Phone", "contact_phone"),
        ("No. HP", "contact_phone"),
        ("Nomor Telepon", "contact_phone"),
    ],
)
def test_contact_header_aliases(header, field):
    """Indonesian and English spellings of the contact columns are recognised."""
    assert field_for_header(header) == field


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0812-3456-7890", "0812-3456-7890"),
        ("+62 812 3456 7890", "+62 812 3456 7890"),
        ("  061   4512345 ", "061 4512345"),
        ("123456", "123456"),
        ("1" * 20, "1" * 20),
        ("12345", None),  # 5 digits
        ("1" * 21, None),  # 21 digits
        ("+", None),
        ("0812/3456", None),
        ("(061) 451234", None),
        ("0812.3456.789", None),
        ("62+812345678", None),
        ("0812 3456 ext 12", None),
        ("١٢٣٤٥٦٧٨", None),  # Arabic-Indic digits
        ("1-2-3-4-5-6-7-8-9-0-1-2-3-4-5-6-7", None),  # > 32 characters
    ],
)
def test_parse_phone(value, expected):
    """Digits, spaces, "-" and a leading "+", with 6–20 digits; nothing else is guessed at."""
    assert parse_phone(value) == expected


def test_contact_columns_are_read():
    """Both contact columns are read into the row's values, whitespace tidied."""
    preview = preview_file(
        "up.csv", csv_bytes([_row("  Ibu   Sari ", " +62 61 4512345 ")], header=CONTACT_HEADER)
    )
    (row,) = preview.rows
    assert row.ok, row.errors
    assert (row.values.contact_name, row.values.contact_phone) == ("Ibu Sari", "+62 61 4512345")
    assert row.to_dict()["values"]["contact_phone"] == "+62 61 4512345"
    assert preview.columns["contact_phone"] == "telepon_kontak"


def test_contact_columns_are_optional():
    """A file without contact columns imports as before, with no warning about them."""
    preview = preview_file("up.csv", csv_bytes([GOOD_ROW]))
    (row,) = preview.rows
    assert row.ok and row.values.contact_name is None and row.values.contact_phone is None
    assert not preview.issues


def test_bad_phone_is_a_row_error_naming_row_and_column():
    """An invalid phone rejects the row with an error naming its row and the column header."""
    rows = [_row(), _row(phone="0812/3456", code="S2"), _row(phone="", code="S3")]
    preview = preview_file("up.csv", csv_bytes(rows, header=CONTACT_HEADER))
    assert [r.ok for r in preview.rows] == [True, False, True]
    (issue,) = preview.errors
    assert (issue.row, issue.column, issue.code) == (3, "telepon_kontak", "bad_phone")
    assert '"0812/3456"' in issue.message and "6–20 angka" in issue.message
    assert "6–20 digits" in issue.message_en
    assert preview.rows[2].values.contact_phone is None


def test_bad_phone_error_uses_the_header_as_written():
    """With an alias header, the error names the header the coordinator wrote."""
    header = (*HEADER, "No. HP")
    preview = preview_file("up.csv", csv_bytes([(*GOOD_ROW, "abc")], header=header))
    (issue,) = preview.errors
    assert (issue.row, issue.column) == (2, "No. HP")


def test_too_long_contact_name_is_a_row_error():
    """A contact name over 120 characters is refused, never truncated."""
    preview = preview_file("up.csv", csv_bytes([_row(name="x" * 121)], header=CONTACT_HEADER))
    (issue,) = preview.errors
    assert (issue.column, issue.code) == ("nama_kontak", "too_long")


def test_xlsx_contacts_and_phone_typed_as_text():
    """XLSX cells are read the same way; a phone stored as text keeps its leading zero."""
    preview = preview_file(
        "up.xlsx", xlsx_bytes([_row(phone="081234567890")], header=CONTACT_HEADER)
    )
    (row,) = preview.rows
    assert row.values.contact_phone == "081234567890"


def test_templates_carry_the_contact_columns():
    """Both templates have the contact columns with a valid example, and import cleanly."""
    assert TEMPLATE_HEADERS[-2:] == ("nama_kontak", "telepon_kontak")
    for data in (template_csv(), template_xlsx()):
        first, second = (r.values for r in preview_file("template", data).rows)
        assert first.contact_name and parse_phone(first.contact_phone) == first.contact_phone
        assert second.contact_name is None and second.contact_phone is None


def test_xlsx_template_keeps_phones_as_text():
    """The XLSX template formats the phone column as text (leading zeros survive Excel)."""
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(template_xlsx())).worksheets[0]
    column = TEMPLATE_HEADERS.index("telepon_kontak") + 1
    assert sheet.cell(row=3, column=column).number_format == "@"
    instructions = " ".join(
        str(c.value)
        for row in load_workbook(io.BytesIO(template_xlsx())).worksheets[1].iter_rows()
        for c in row
    )
    assert "telepon_kontak" in instructions and "halaman publik" in instructions


def test_import_stores_contacts_and_keeps_them_when_the_column_is_absent(app):
    """New rows get their contacts; a re-import without the columns keeps the stored ones."""
    office = make_office()
    user = make_user(office_id=office.id)
    db.session.commit()
    data = csv_bytes([_row()], header=CONTACT_HEADER)
    service.commit_import(
        db.session, office, service.preview_upload(db.session, office, "a.csv", data), user
    )
    hs = db.session.scalar(sa.select(Hotspot))
    assert (hs.contact_name, hs.contact_phone) == ("Ibu Sari", "0812-3456-7890")
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="hotspots.import"))
    assert "Sari" not in repr(event.details) and "3456" not in repr(event.details)

    service.commit_import(db.session, office, "b.csv", csv_bytes([GOOD_ROW]))
    db.session.expire_all()
    hs = db.session.scalar(sa.select(Hotspot))
    assert (hs.contact_name, hs.contact_phone) == ("Ibu Sari", "0812-3456-7890")

    cleared = csv_bytes([_row(name="", phone="")], header=CONTACT_HEADER)
    service.commit_import(db.session, office, "c.csv", cleared)
    db.session.expire_all()
    hs = db.session.scalar(sa.select(Hotspot))
    assert (hs.contact_name, hs.contact_phone) == ("", "")
    assert db.session.scalar(sa.select(sa.func.count(Hotspot.id))) == 1


def test_rows_with_bad_phone_are_skipped_on_commit(app):
    """A row with a bad phone is not stored; the valid rows are."""
    office = make_office()
    db.session.commit()
    good = _row()
    bad = _row(name="Pak Budi", phone="telp 0812", code="S2")
    summary = service.commit_import(
        db.session, office, "up.csv", csv_bytes([good, bad], header=CONTACT_HEADER)
    )
    assert (summary.created, summary.skipped, summary.skipped_rows) == (1, 1, [3])
