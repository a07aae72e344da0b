"""CSV and XLSX stop lists: columns, order, local times, formula neutralising (row 26)."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from outreach.exporting import COLUMNS, neutralise, stops_csv, stops_xlsx
from tests.exporting.conftest import HOSTILE

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\0")


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_header_and_row_count(plan_setup):
    """The CSV has the documented header and one row per stop."""
    rows = read_csv(stops_csv(plan_setup["plan"]))
    assert rows[0] == [header for _, header in COLUMNS]
    assert len(rows) == 1 + len(HOSTILE) + 2 + 2


def test_csv_order_by_date_team_position(plan_setup):
    """Rows go by date, then team name, then visit order (counted from 1)."""
    rows = read_csv(stops_csv(plan_setup["plan"]))[1:]
    keys = [(r[0], r[1], int(r[2])) for r in rows]
    assert keys == sorted(keys)
    assert [int(r[2]) for r in rows if r[1] == "Tim Anggrek"][:3] == [1, 2, 3]


def test_csv_formula_cells_start_with_apostrophe(plan_setup):
    """Every cell that starts with = + - @ tab CR or NUL is prefixed with an apostrophe
    (SECURITY row 26)."""
    rows = read_csv(stops_csv(plan_setup["plan"]))[1:]
    cells = [cell for row in rows for cell in row]
    for name in HOSTILE:
        assert "'" + name in cells
    assert "'=Tim Bahaya" in cells and "'@Kec" in cells
    assert not [c for c in cells if c.startswith(DANGEROUS)]


def test_csv_is_rfc4180(plan_setup):
    """CRLF line ends, a UTF-8 BOM, and quoted fields round-trip commas, quotes and newlines
    (SECURITY row 26)."""
    data = stops_csv(plan_setup["plan"])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") >= 1 and b'"SMA ""Satu"", Medan\nKampus 2"' in data
    names = [row[3] for row in read_csv(data)[1:]]
    assert 'SMA "Satu", Medan\nKampus 2' in names


def test_csv_times_are_office_local(plan_setup):
    """Times appear in the office's zone: 01:30 UTC is 08:30 WIB."""
    first = read_csv(stops_csv(plan_setup["plan"]))[1]
    row = dict(zip([k for k, _ in COLUMNS], first, strict=True))
    assert (row["arrival"], row["start"], row["end"]) == ("08:25", "08:30", "09:30")


def test_csv_times_follow_other_zones(app, plan_setup):
    """An office in WITA (UTC+8) gets its times an hour later."""
    from outreach.extensions import db

    plan_setup["office"].timezone = "Asia/Makassar"
    db.session.commit()
    first = read_csv(stops_csv(plan_setup["plan"]))[1]
    assert first[8] == "09:30"


def test_csv_persons_cards_locked_status(plan_setup):
    """Persons per service, blank cards, locked and status are exported as documented."""
    rows = [
        dict(zip([k for k, _ in COLUMNS], r, strict=True))
        for r in read_csv(stops_csv(plan_setup["plan"]))[1:]
    ]
    big = next(r for r in rows if r["hotspot"].startswith("SMA"))
    assert big["persons_ktp_record"] == "120" and big["persons_kia"] == "4"
    assert big["persons_ktp_print"] == "0" and big["cards"] == "30"
    assert big["locked"] == "ya"
    statuses = {r["status"] for r in rows}
    assert statuses == {"terjadwal", "dibatalkan"}


def test_semicolon_delimiter_for_indonesian_excel(plan_setup):
    """A semicolon-separated CSV can be asked for (Excel in the Indonesian locale)."""
    data = stops_csv(plan_setup["plan"], delimiter=";")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][0] == "Tanggal" and len(rows[0]) == len(COLUMNS)


def test_neutralise_leaves_numbers_and_safe_text():
    """Numbers and ordinary text are untouched; dangerous text gains one apostrophe
    (SECURITY row 26)."""
    assert neutralise(-5) == -5
    assert neutralise("SMA 1") == "SMA 1"
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("\uff1dcmd") == "'\uff1dcmd"


def test_xlsx_cells_are_text_not_formulas(plan_setup):
    """The workbook stores hostile names as text with the apostrophe, never as formulas
    (SECURITY row 26)."""
    wb = load_workbook(io.BytesIO(stops_xlsx(plan_setup["plan"])))
    ws = wb.active
    assert [c.value for c in ws[1]] == [header for _, header in COLUMNS]
    cells = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    values = [c.value for c in cells if isinstance(c.value, str)]
    for name in HOSTILE:
        # XML parsers turn a stored CR into LF; the apostrophe guard is what matters.
        assert "'" + name.replace("\r", "\n") in [v.replace("\r", "\n") for v in values]
    assert not [v for v in values if v.startswith(DANGEROUS)]


def test_xlsx_keeps_numbers_numeric(plan_setup):
    """Counts are numbers in the workbook, so coordinators can sum them."""
    ws = load_workbook(io.BytesIO(stops_xlsx(plan_setup["plan"]))).active
    header = [c.value for c in ws[1]]
    column = header.index("Perekaman KTP-el")
    values = [row[column].value for row in ws.iter_rows(min_row=2)]
    assert 120 in values and all(isinstance(v, int) for v in values)


def test_xlsx_drops_control_characters(plan_setup):
    """Control characters XML cannot hold are dropped instead of breaking the file."""
    ws = load_workbook(io.BytesIO(stops_xlsx(plan_setup["plan"]))).active
    names = [row[3].value for row in ws.iter_rows(min_row=2)]
    assert "<script>alert(1)</script> & bell" in names
