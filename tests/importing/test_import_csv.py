"""Reading CSV uploads: encodings, separators, the decimal comma rule, coordinates, rows."""

from __future__ import annotations

import pytest

from outreach.importing import CsvValidationError, ImportRejected, preview_file
from outreach.importing.parse import MAX_ROWS

from .helpers import GOOD_ROW, HEADER, csv_bytes


def _only_row(data: bytes):
    preview = preview_file("up.csv", data)
    assert len(preview.rows) == 1
    return preview.rows[0]


# -- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_with_or_without_bom(bom):
    """UTF-8 is read with and without a BOM, and the BOM never sticks to the first header
    (SECURITY row 19)."""
    row = ("S1", "SD Negeri Gunung Sitoli – Ñ", "SD", "", "3.58", "98.67", "5", "")
    preview = preview_file("up.csv", csv_bytes([row], bom=bom))
    assert preview.columns["external_id"] == "kode"
    assert preview.rows[0].values.name == "SD Negeri Gunung Sitoli – Ñ"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_rejected(encoding):
    """UTF-16/32, with or without a BOM, is rejected with a clear 'save as CSV UTF-8' error
    (SECURITY row 19)."""
    data = csv_bytes([GOOD_ROW], encoding=encoding)
    with pytest.raises(CsvValidationError) as info:
        preview_file("up.csv", data)
    assert info.value.code == "encoding_utf16"
    assert "UTF-8" in info.value.message


def test_cp1252_rejected_with_row_and_column():
    """A cp1252 byte is rejected naming the spreadsheet row and the column header
    (SECURITY row 19)."""
    rows = [GOOD_ROW, ("S2", "Panti Jompo Café", "panti", "", "3.5", "98.6", "1", "")]
    data = csv_bytes(rows, encoding="cp1252")
    with pytest.raises(CsvValidationError) as info:
        preview_file("up.csv", data)
    assert info.value.code == "encoding_invalid"
    assert (info.value.row, info.value.column) == (3, "nama")
    assert "0xE9" in info.value.message and "Baris 3" in info.value.message


def test_invalid_byte_in_semicolon_file_names_column():
    """The column of a bad byte is found with the sniffed separator too (SECURITY row 19)."""
    data = "nama;alamat;lintang;bujur\nA;Jl. Merdeka;3.5;98.6\nB;Jl. \xff;3.5;98.6\n".encode(
        "latin-1"
    )
    with pytest.raises(CsvValidationError) as info:
        preview_file("up.csv", data)
    assert (info.value.row, info.value.column) == (3, "alamat")


def test_nul_bytes_rejected_as_binary():
    """NUL bytes in an otherwise ASCII file are rejected as binary content (SECURITY row 19)."""
    data = csv_bytes([GOOD_ROW]) + b"x" * 300 + b"\x00abc"
    with pytest.raises(CsvValidationError) as info:
        preview_file("up.csv", data)
    assert info.value.code == "binary_content"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"\r\n \r\n", "empty_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "unsupported_format"),
        (b"foo,bar\n1,2\n", "no_header"),
        (b"nama,lintang\nA,3.5\n", "missing_coordinate_column"),
        (b"nama,name\nA,B\n", "duplicate_column"),
        (b"nama,jenis\n", "no_data_rows"),
    ],
)
def test_whole_file_problems(data, code):
    """Whole-file problems raise one ValueError subclass with a stable code."""
    with pytest.raises(ImportRejected) as info:
        preview_file("up.csv", data)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)


# -- separators and the decimal comma ---------------------------------------------------------


def test_semicolon_file_with_decimal_comma_parses_exactly():
    """A ';'-separated file reads -6,2001 as -6.2001 exactly (never truncated to -6)
    (SECURITY row 20)."""
    data = b"nama;lintang;bujur;ktp_el\nKantor Desa A;-6,2001;106,8166;12\n"
    row = _only_row(data)
    assert row.ok, row.errors
    assert (row.values.lat, row.values.lon) == (-6.2001, 106.8166)


def test_semicolon_file_with_decimal_dot_parses():
    """A ';'-separated file may also use dots (SECURITY row 20)."""
    row = _only_row(b"nama;lintang;bujur\nA;-6.2001;106.8166\n")
    assert (row.values.lat, row.values.lon) == (-6.2001, 106.8166)


def test_comma_file_quoted_decimal_comma_is_decimal():
    """In a ','-separated file a quoted "-6,2001" (the only mark in the cell) is -6.2001
    (SECURITY row 20)."""
    row = _only_row(b'nama,lintang,bujur\nA,"-6,2001","106,8166"\n')
    assert (row.values.lat, row.values.lon) == (-6.2001, 106.8166)


def test_comma_file_unquoted_decimal_comma_is_a_row_error_not_truncation():
    """An unquoted -6,2001 in a ','-file shifts cells: the row is refused, not read as -6
    (SECURITY row 20)."""
    data = b"nama,lintang,bujur\nA,-6,2001,106,8166\nB,-6.2,106.8\n"
    preview = preview_file("up.csv", data)
    first, second = preview.rows
    assert not first.ok and first.values is None
    assert [e.code for e in first.errors] == ["extra_cells"]
    assert first.errors[0].params["separator"] == ","
    assert second.ok and second.values.lat == -6.2


@pytest.mark.parametrize("cell", ['"1.234,5"', '"1,2,3"', '"-6,2001.5"'])
def test_ambiguous_marks_rejected(cell):
    """Cells with both marks or several commas are rejected with a reason (SECURITY row 20)."""
    row = _only_row(f"nama,lintang,bujur\nA,{cell},106.8\n".encode())
    assert [(e.column, e.code) for e in row.errors] == [("lintang", "not_decimal")]


@pytest.mark.parametrize(
    ("data", "sep"),
    [
        (b"nama;lintang;bujur\nA;3,5;98,6\n", ";"),
        (b"nama,lintang,bujur\nA,3.5,98.6\n", ","),
        (b"nama\tlintang\tbujur\nA\t3.5\t98.6\n", "\t"),
        # Commas inside quotes do not count: 2 semicolons beat 0 unquoted commas.
        (b'nama;"a,b,c,d";lintang;bujur\nA;x;3,5;98,6\n', ";"),
        # A tie (here: none at all) goes to the comma.
        (b"nama\nA\n", ","),
    ],
)
def test_separator_sniffing_rule(data, sep):
    """The most frequent of ; , TAB outside quotes in the header wins; ties go to ','
    (SECURITY row 20)."""
    preview = preview_file("up.csv", data)
    assert preview.separator == sep
    assert preview.rows[0].ok and preview.rows[0].values.name == "A"


def test_excel_sep_hint_line():
    """An Excel 'sep=;' first line sets the separator and is not counted as a row
    (SECURITY row 20)."""
    preview = preview_file("up.csv", b"sep=;\r\nnama;lintang;bujur\r\nA;3,5;98,6\r\n")
    assert preview.separator == ";"
    assert preview.rows[0].row == 2 and preview.rows[0].values.lat == 3.5


# -- rows -------------------------------------------------------------------------------------


def test_row_numbers_match_the_spreadsheet():
    """Data starts on row 2, blank rows keep their numbers, multi-line cells are one row."""
    data = (
        b'nama,lintang,bujur,catatan\nA,3.5,98.6,x\n\n,,,\nB,3.5,98.6,"line 1\nline 2"\n'
        b"C,3.5,98.6,\n"
    )
    preview = preview_file("up.csv", data)
    assert [r.row for r in preview.rows] == [2, 5, 6]
    assert preview.rows[1].values.notes == "line 1\nline 2"


def test_title_rows_above_header_are_skipped():
    """A title row above the header is skipped and rows are numbered as Excel shows them."""
    data = b"Daftar hotspot Kota Medan,,\nnama,lintang,bujur\nA,3.5,98.6\n"
    preview = preview_file("up.csv", data)
    assert preview.header_row == 2 and preview.rows[0].row == 3


def test_errors_name_row_and_column_and_code():
    """Each row error carries (row, column header as written, reason) and an English code."""
    data = csv_bytes([GOOD_ROW, ("S2", "", "SMA", "", "3.5", "98.6", "-5", "9")])
    preview = preview_file("up.csv", data)
    bad = preview.rows[1]
    assert not bad.ok
    assert {(e.row, e.column, e.code) for e in bad.errors} == {
        (3, "nama", "required"),
        (3, "ktp_el", "not_integer"),
        (3, "prioritas", "out_of_range"),
    }
    assert all(e.as_tuple()[2] for e in bad.errors)
    assert preview.rows[0].ok and preview.counts()["valid"] == 1


def test_parsed_values_of_a_full_row():
    """A full row yields typed values: kind, demand per service, priority, hours, codes."""
    header = (
        "Kode",
        "Nama",
        "Jenis",
        "Alamat",
        "Kecamatan",
        "Kode Kecamatan",
        "Kelurahan",
        "Kode Kelurahan",
        "Latitude",
        "Longitude",
        "Rekam KTP",
        "Cetak KTP",
        "Akta",
        "KIA",
        "Priority",
        "Opening Hours",
        "Notes",
    )
    row = (
        "RS-7",
        "RSUD dr. Pirngadi",
        "Rumah Sakit",
        "Jl. Prof. H. M. Yamin",
        "Medan Timur",
        "12.71.20",
        "Perintis",
        "1271201001",
        "3,5951",
        "98,6935",
        "30",
        "",
        "4",
        "2",
        "1",
        "Mon-Fri 09:00-14:00",
        "bangsal lansia",
    )
    values = _only_row(csv_bytes([row], header=header, sep=";")).values
    assert values.kind == "hospital" and values.external_id == "RS-7"
    assert values.kelurahan_code == "12.71.20.1001" and values.kecamatan_code == "12.71.20"
    assert dict(values.demand) == {"ktp_record": 30, "ktp_print": 0, "birth_cert": 4, "kia": 2}
    assert values.priority == 1 and values.location_source == "file"
    assert values.opening_hours is not None and values.opening_hours.days[4] == ((540, 840),)


def test_defaults_for_empty_optional_cells():
    """Empty counts are 0, empty priority is 3, empty kind is other (no warning)."""
    row = _only_row(b"nama,lintang,bujur,ktp_el,prioritas,jenis\nA,3.5,98.6,,,\n")
    assert row.values.priority == 3 and row.values.demand["ktp_record"] == 0
    assert row.values.kind == "other" and not row.warnings


def test_unknown_kind_and_unknown_column_warn():
    """Unknown kinds and unknown columns are warnings, not errors."""
    preview = preview_file("up.csv", b"nama,jenis,warna,lintang,bujur\nA,gereja,merah,3.5,98.6\n")
    assert preview.rows[0].ok
    assert [w.code for w in preview.rows[0].warnings] == ["unknown_kind"]
    assert [i.code for i in preview.issues] == ["unknown_columns"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("A" * 201, "too_long"),
        ("evil\x07bell", "control_chars"),
        ("abc\u202eexe.gpj", "control_chars"),
    ],
)
def test_hostile_text_cells(name, code):
    """Over-long names are refused (never truncated); control and bidi characters are refused."""
    row = _only_row(csv_bytes([(None, name, "", "", "3.5", "98.6", "", "")]))
    assert [e.code for e in row.errors] == [code]


def test_formula_like_text_is_kept_literally():
    """Text starting with = + - @ is stored as text (exports neutralise it)."""
    row = _only_row(csv_bytes([(None, '=HYPERLINK("x")', "", "", "3.5", "98.6", "", "")]))
    assert row.ok and row.values.name == '=HYPERLINK("x")'


def test_bad_opening_hours_and_area_codes_are_row_errors():
    """Unreadable hours and malformed area codes are row errors with the column named."""
    header = ("nama", "jam_buka", "kode_kelurahan", "lintang", "bujur")
    row = _only_row(csv_bytes([("A", "tiap saat", "12.71.1", "3.5", "98.6")], header=header))
    assert {(e.column, e.code) for e in row.errors} == {
        ("jam_buka", "bad_opening_hours"),
        ("kode_kelurahan", "bad_area_code"),
    }


def test_area_code_mismatch_warns():
    """A kelurahan code outside the given kecamatan code is a warning."""
    header = ("nama", "kode_kecamatan", "kode_kelurahan", "lintang", "bujur")
    row = _only_row(csv_bytes([("A", "12.71.02", "12.71.01.1001", "3.5", "98.6")], header=header))
    assert row.ok and [w.code for w in row.warnings] == ["area_code_mismatch"]


# -- limits -----------------------------------------------------------------------------------


def test_too_many_rows_rejected_quickly():
    """More than MAX_ROWS data rows is rejected as a whole with the limit in the message
    (SECURITY row 24)."""
    line = b"A,3.5,98.6\n"
    data = b"nama,lintang,bujur\n" + line * (MAX_ROWS + 1)
    with pytest.raises(CsvValidationError) as info:
        preview_file("up.csv", data)
    assert info.value.code == "too_many_rows"
    assert str(MAX_ROWS) in info.value.message


def test_50000_row_file_is_rejected_without_reading_it_all():
    """A pathological 50,000-row upload is refused with the row limit (SECURITY row 24)."""
    data = b"nama,lintang,bujur\n" + b"Sekolah,3.5,98.6\n" * 50_000
    with pytest.raises(CsvValidationError) as info:
        preview_file("big.csv", data)
    assert info.value.code == "too_many_rows" and info.value.issue.params["limit"] == MAX_ROWS


def test_exactly_max_rows_accepted():
    """MAX_ROWS data rows are still accepted (SECURITY row 24)."""
    data = b"nama,lintang,bujur\n" + b"A,3.5,98.6\n" * MAX_ROWS
    assert len(preview_file("up.csv", data).rows) == MAX_ROWS


def test_file_size_cap():
    """A file above the byte cap is rejected before decoding."""
    from outreach.importing.parse import MAX_FILE_BYTES

    with pytest.raises(ImportRejected) as info:
        preview_file("up.csv", b"nama\n" + b"a" * MAX_FILE_BYTES)
    assert info.value.code == "file_too_large"


def test_header_constant_is_used():
    """The helper's header is a valid import header (guards the other tests)."""
    assert preview_file("up.csv", csv_bytes([GOOD_ROW])).columns["name"] == HEADER[1]


def test_any_bytes_like_input_and_missing_filename():
    """Views may pass a memoryview and no file name; issues stay hashable for de-duplication."""
    preview = preview_file(None, memoryview(b"nama,lintang,bujur\nA,3.5,98.6\n"))
    assert preview.filename == "" and preview.rows[0].ok
    issue = preview_file("x.csv", b"nama,prioritas\nA,9\n").rows[0].errors[0]
    assert len({issue, issue}) == 1
