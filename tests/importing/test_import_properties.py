"""Property tests: whatever the upload, the importer answers with a Preview or its own error."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from outreach.importing import ImportRejected, preview_file
from outreach.importing.locate import in_indonesia

from .helpers import csv_bytes, xlsx_bytes

SETTINGS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def _answer(filename: str, data: bytes):
    """Return the Preview, or None when the importer rejected the file with its own error."""
    try:
        preview = preview_file(filename, data)
    except ImportRejected as exc:
        assert exc.code and exc.message  # a typed error always carries a code and a message
        return None
    json.dumps(preview.to_dict())  # everything in a preview is JSON-ready for the API
    for row in preview.rows:
        assert row.ok == (not row.errors)
    return preview


@SETTINGS
@given(st.binary(max_size=10_000))
def test_random_bytes_only_raise_validation_errors(data):
    """Random bytes as CSV: a clean Preview or a CsvValidationError/ImportRejected, nothing else
    (SECURITY row 19)."""
    _answer("upload.csv", data)


@SETTINGS
@given(st.binary(max_size=2_000))
def test_random_bytes_behind_zip_magic_only_raise_validation_errors(data):
    """Random bytes after the ZIP magic (read as XLSX) only raise the typed error
    (SECURITY row 19)."""
    _answer("upload.xlsx", b"PK\x03\x04" + data)


@SETTINGS
@given(st.binary(max_size=3_000), st.sampled_from([b"\xef\xbb\xbf", b"nama;lintang;bujur\n"]))
def test_random_bytes_after_plausible_start(data, prefix):
    """Random bytes after a BOM or a real header only raise the typed error (SECURITY row 19)."""
    _answer("upload.csv", prefix + data)


hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "=cmd|' /C calc'!A0",
            "@SUM(1+1)",
            "<script>alert(1)</script>",
            "${globalThis.pwn=1}",
            "`",
            "\u202e",
            "\x00",
            "\r\n",
            '"',
            "NaN",
            "inf",
            "1e309",
            "١٢٣",
            "0x1A",
            "1_000",
            "-6,2001",
            "Sen-Kam 08:00-16:00; Jum 25:00-26:00",
            "A" * 5000,
        ]
    ),
)


@SETTINGS
@given(st.lists(st.lists(hostile_text, min_size=8, max_size=8), min_size=1, max_size=15))
def test_hostile_cells_in_csv(rows):
    """Hostile text in every cell of a well-formed CSV never escapes as an unexpected exception
    (SECURITY row 19)."""
    for sep in (",", ";"):
        _answer("upload.csv", csv_bytes(rows, sep=sep))


@SETTINGS
@given(st.lists(st.lists(hostile_text, min_size=8, max_size=8), min_size=1, max_size=8))
def test_hostile_cells_in_xlsx(rows):
    """Hostile text in an openpyxl-made workbook never escapes as an unexpected exception
    (SECURITY row 19)."""
    # openpyxl refuses control characters when writing; such files cannot be made this way.
    clean = [[ILLEGAL_CHARACTERS_RE.sub("", c) for c in row] for row in rows]
    _answer("upload.xlsx", xlsx_bytes(clean))


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@SETTINGS
@given(finite_or_not, finite_or_not)
def test_coordinates_accepted_iff_finite_and_in_indonesia(lat, lon):
    """A lat/lon pair is accepted iff both are finite and inside the Indonesia box
    (SECURITY row 21)."""

    def cell(value: float) -> str:
        return f"{value:.6f}" if math.isfinite(value) else str(value)

    data = csv_bytes([("A", cell(lat), cell(lon))], header=("nama", "lintang", "bujur"))
    row = preview_file("up.csv", data).rows[0]
    expected = (
        math.isfinite(lat)
        and math.isfinite(lon)
        and in_indonesia(float(cell(lat)), float(cell(lon)))
    )
    assert row.ok == expected
    if row.ok:
        assert math.isfinite(row.values.lat) and math.isfinite(row.values.lon)


@SETTINGS
@given(finite_or_not, finite_or_not)
def test_raw_float_reprs_never_smuggle_non_finite_values(lat, lon):
    """Python's float repr (1e-05, inf, nan) is accepted only as a finite in-box coordinate
    (SECURITY row 21)."""
    data = csv_bytes([("A", repr(lat), repr(lon))], header=("nama", "lintang", "bujur"))
    row = preview_file("up.csv", data).rows[0]
    if row.ok:
        assert in_indonesia(row.values.lat, row.values.lon)
        assert (row.values.lat, row.values.lon) == (lat, lon)
