"""Reading XLSX uploads made by openpyxl, and the templates."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from openpyxl import Workbook

from outreach.importing import (
    ImportRejected,
    XlsxValidationError,
    preview_file,
    template_csv,
    template_xlsx,
)
from outreach.importing.fields import TEMPLATE_HEADERS
from outreach.importing.parse import MAX_ROWS

from .helpers import HEADER, csv_bytes, xlsx_bytes


def test_xlsx_round_trip_native_types():
    """Native numbers, text codes, text decimals and empty cells read back exactly."""
    rows = [
        ("S1", "SMA Negeri 1", "SMA", "12.71.01.1001", 3.5801, 98.6789, 120, 2),
        (1001, "Panti", "panti", 1271011001, "3,59", "98,68", 15.0, None),
        ("S3", "Rumah Bu Sri", "rumah", "12.71.01.1001", None, None, None, 1),
    ]
    preview = preview_file("hotspot.xlsx", xlsx_bytes(rows))
    assert preview.file_format == "xlsx" and preview.separator is None
    a, b, c = (r.values for r in preview.rows)
    assert (a.lat, a.lon, a.demand["ktp_record"], a.priority) == (3.5801, 98.6789, 120, 2)
    assert b.external_id == "1001" and b.kelurahan_code == "12.71.01.1001"
    assert (b.lat, b.lon, b.demand["ktp_record"], b.priority) == (3.59, 98.68, 15, 3)
    assert c.kind == "home" and c.location_source == "gazetteer_kelurahan"
    assert [r.row for r in preview.rows] == [2, 3, 4]


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (98.67, 3.59, "lat_lon_swapped"),
        (True, 98.6, "not_decimal"),
        (dt.datetime(2024, 1, 1), 98.6, "not_decimal"),
        (3.5, None, "coord_missing_pair"),
    ],
)
def test_xlsx_bad_coordinates(lat, lon, code):
    """XLSX swapped, boolean, date or half-missing coordinates are row errors."""
    preview = preview_file("h.xlsx", xlsx_bytes([("K", "A", "", "", lat, lon, 1, 1)]))
    assert code in [e.code for e in preview.rows[0].errors]


def _patch_sheet(data: bytes, old: bytes, new: bytes) -> bytes:
    """Rewrite the first sheet's XML (openpyxl cannot write NaN/inf, Excel-like tools can)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert old in content
                content = content.replace(old, new)
            target.writestr(info, content)
    return out.getvalue()


@pytest.mark.parametrize("raw", [b"1e309", b"-1E400", b"NaN", b"inf", b"0x1A", b"1_0"])
def test_xlsx_hand_written_non_finite_numbers(raw):
    """Non-finite or odd numeric cells in the XML give a row error or a typed rejection only."""
    data = xlsx_bytes([("K", "A", "", "", 3.25, 98.6, 1, 1)])
    data = _patch_sheet(data, b"<v>3.25</v>", b"<v>" + raw + b"</v>")
    try:
        preview = preview_file("h.xlsx", data)
    except XlsxValidationError as exc:
        assert exc.code == "xlsx_unreadable"
    else:
        # openpyxl reads "1_0" with int() (=10); either way the row is refused, never imported.
        assert not preview.rows[0].ok
        assert preview.rows[0].errors[0].code in ("not_decimal", "coord_outside_indonesia")


def test_xlsx_fractional_count_rejected():
    """A fractional count in an XLSX cell is refused, not rounded."""
    preview = preview_file("h.xlsx", xlsx_bytes([("K", "A", "", "", 3.5, 98.6, 12.5, 1)]))
    assert [(e.column, e.code) for e in preview.rows[0].errors] == [("ktp_el", "not_integer")]


def test_xlsx_only_first_sheet_and_blank_rows_keep_numbers():
    """The first sheet is read; blank rows are skipped but keep spreadsheet numbering."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["nama", "lintang", "bujur"])
    sheet.append(["A", 3.5, 98.6])
    sheet.append([])
    sheet.append(["B", 3.5, 98.6])
    workbook.create_sheet("other").append(["nama"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    preview = preview_file("x.xlsx", buffer.getvalue())
    assert [(r.row, r.values.name) for r in preview.rows] == [(2, "A"), (4, "B")]


def test_xlsx_cells_beyond_header_are_ignored():
    """In XLSX nothing shifts, so a value under no header is ignored rather than an error."""
    data = xlsx_bytes([("A", 3.5, 98.6, "stray note")], header=("nama", "lintang", "bujur"))
    row = preview_file("x.xlsx", data).rows[0]
    assert row.ok


def test_xlsx_too_many_rows():
    """An XLSX with more than MAX_ROWS data rows is rejected."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["nama", "lintang", "bujur"])
    for _ in range(MAX_ROWS + 1):
        sheet.append(["A", 3.5, 98.6])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(XlsxValidationError) as info:
        preview_file("x.xlsx", buffer.getvalue())
    assert info.value.code == "too_many_rows"


def test_xlsx_sparse_sheet_claiming_a_million_rows_is_rejected_quickly():
    """A lone cell at row 1,000,000 does not make us iterate a million rows."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["nama", "lintang", "bujur"])
    sheet.append(["A", 3.5, 98.6])
    sheet.cell(row=1_000_000, column=1, value="B")
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(XlsxValidationError) as info:
        preview_file("x.xlsx", buffer.getvalue())
    assert info.value.code == "too_many_rows"


def test_zip_bomb_rejected_before_openpyxl():
    """A ZIP that unpacks beyond the cap is rejected from its directory alone."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (101 * 1024 * 1024))
    with pytest.raises(XlsxValidationError) as info:
        preview_file("x.xlsx", buffer.getvalue())
    assert info.value.code == "xlsx_too_large"


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04garbage",
        b"PK\x03\x04" + b"\x00" * 100,
    ],
)
def test_broken_xlsx_rejected(data):
    """Broken ZIP/XLSX content is rejected with the typed error."""
    with pytest.raises(XlsxValidationError):
        preview_file("x.xlsx", data)


def test_zip_that_is_not_a_workbook_rejected():
    """A valid ZIP without a workbook inside is rejected with the typed error."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(XlsxValidationError) as info:
        preview_file("x.xlsx", buffer.getvalue())
    assert info.value.code == "xlsx_unreadable"


def test_xlsx_name_with_csv_content_is_read_by_content():
    """The format comes from the content: CSV bytes named .xlsx are refused as not a workbook."""
    with pytest.raises(ImportRejected):
        preview_file(
            "x.xlsx", csv_bytes([("S", "A", "", "", "3.5", "98.6", "", "")], header=HEADER)
        )


@pytest.mark.parametrize("maker", [template_xlsx, template_csv, lambda: template_csv(",")])
def test_templates_import_cleanly(maker):
    """Each template has the canonical headers and its two example rows import without errors."""
    preview = preview_file("template", maker())
    assert list(preview.columns.values()) == list(TEMPLATE_HEADERS)
    assert [r.ok for r in preview.rows] == [True, True]
    first, second = (r.values for r in preview.rows)
    assert (first.lat, first.lon, first.location_source) == (3.5801, 98.6789, "file")
    assert second.location_source == "gazetteer_kelurahan"
    assert first.opening_hours is not None and second.kind == "social_home"


def test_csv_template_is_excel_friendly():
    """The CSV template starts with a BOM and uses ';' with decimal commas by default."""
    data = template_csv()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b";3,5801;98,6789;" in data


def test_xlsx_template_has_instructions_sheet():
    """The XLSX template holds the data sheet first and an instructions sheet second."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(template_xlsx()))
    assert workbook.sheetnames == ["hotspot", "petunjuk"]
    assert workbook["hotspot"]["H2"].number_format == "@"
