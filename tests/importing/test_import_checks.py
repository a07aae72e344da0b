"""Coordinates, area and duplicate warnings, and re-import matching."""

from __future__ import annotations

import pytest

from outreach.importing import AreaCheck, ExistingHotspot, preview_file

from .helpers import csv_bytes

COORD_HEADER = ("nama", "lintang", "bujur")


def _row(lat: str, lon: str):
    preview = preview_file("up.csv", csv_bytes([("A", lat, lon)], header=COORD_HEADER))
    return preview.rows[0]


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        ("98.67", "3.59", "lat_lon_swapped"),
        ("106.8", "-6.2", "lat_lon_swapped"),
        ("52.37", "4.89", "coord_outside_indonesia"),
        ("-11.5", "110", "coord_outside_indonesia"),
        ("0", "0", "coord_outside_indonesia"),
        ("NaN", "98.6", "not_decimal"),
        ("3.5", "inf", "not_decimal"),
        ("1e309", "98.6", "not_decimal"),
        ("NULL", "N/A", "not_decimal"),
        ("3.5", "", "coord_missing_pair"),
        ("", "98.6", "coord_missing_pair"),
    ],
)
def test_bad_coordinates_are_row_errors(lat, lon, code):
    """Malformed, swapped or out-of-Indonesia coordinates are rejected with a reason
    (SECURITY row 21)."""
    row = _row(lat, lon)
    assert not row.ok and row.values is None
    assert code in [e.code for e in row.errors]


def test_swap_message_suggests_the_swap():
    """The swap error is Indonesian-first and proposes the swapped pair (SECURITY row 21)."""
    error = _row("98.67", "3.59").errors[0]
    assert error.column == "lintang"
    assert "tertukar" in error.message and "lintang=3.59, bujur=98.67" in error.message
    assert "swapped" in error.message_en


@pytest.mark.parametrize(("lat", "lon"), [("-11", "94"), ("6.5", "141.5"), ("-6.2", "106.8")])
def test_bbox_edges_accepted(lat, lon):
    """The Indonesia box is inclusive: -11..6.5 and 94..141.5 (SECURITY row 21)."""
    row = _row(lat, lon)
    assert row.ok and (row.values.lat, row.values.lon) == (float(lat), float(lon))


def test_outside_office_area_warns_but_imports():
    """A point farther than the radius from the office centre is a warning, not an error."""
    data = csv_bytes([("Dekat", "3.60", "98.67"), ("Jauh", "-6.2", "106.8")], header=COORD_HEADER)
    preview = preview_file("up.csv", data, area=AreaCheck(3.5952, 98.6722, 30))
    near, far = preview.rows
    assert near.ok and not near.warnings
    assert far.ok and [w.code for w in far.warnings] == ["outside_area"]
    assert far.warnings[0].params["distance_km"] > 1000


def test_likely_duplicate_of_existing_within_150_m():
    """Same normalised name within ~150 m of an existing hotspot warns; farther does not."""
    existing = [ExistingHotspot(5, "SMA Negeri 1 Medan", 3.5800, 98.6700)]
    data = csv_bytes(
        [("sma negeri-1  medan", "3.5809", "98.6700"), ("SMA Negeri 1 Medan", "3.5830", "98.6700")],
        header=COORD_HEADER,
    )
    near, far = preview_file("up.csv", data, existing=existing).rows
    assert [w.code for w in near.warnings] == ["likely_duplicate"]
    assert near.warnings[0].params["other_id"] == 5 and near.warnings[0].params["distance_m"] == 100
    assert not far.warnings  # ~333 m away
    assert near.action == "create"


def test_duplicate_across_grid_cell_border_is_found():
    """A twin just across a grid-cell border is still found (3x3 neighbourhood)."""
    existing = [ExistingHotspot(5, "Pasar Petisah", 3.5999, 98.6700)]
    data = csv_bytes([("Pasar Petisah", "3.6001", "98.6700")], header=COORD_HEADER)
    row = preview_file("up.csv", data, existing=existing).rows[0]
    assert [w.code for w in row.warnings] == ["likely_duplicate"]


def test_duplicate_within_the_file_warns_on_the_later_row():
    """Two rows with the same name 50 m apart: the second warns, naming the first row."""
    data = csv_bytes(
        [("Pasar A", "3.5800", "98.67"), ("Pasar A", "3.58045", "98.67")], header=COORD_HEADER
    )
    first, second = preview_file("up.csv", data).rows
    assert not first.warnings
    assert second.warnings[0].code == "likely_duplicate_in_file"
    assert second.warnings[0].params["other_row"] == 2


HEADER = ("kode", "nama", "kode_kelurahan", "lintang", "bujur")


def test_reimport_matches_by_external_code_then_by_kelurahan_and_name():
    """Rows update the hotspot with the same code, else the same kelurahan code + name."""
    existing = [
        ExistingHotspot(1, "SMA 1", 3.58, 98.67, external_id="S-1", kelurahan_code="12.71.01.1001"),
        ExistingHotspot(2, "Panti Jompo", 3.59, 98.68, None, "12.71.01.1001"),
        ExistingHotspot(3, "Pasar", 3.60, 98.69, "P-9", "12.71.01.1001"),
    ]
    rows = [
        ("s-1", "SMA Satu (nama baru)", "12.71.01.1001", "3.58", "98.67"),
        ("", "PANTI  JOMPO", "12.71.01.1001", "3.59", "98.68"),
        ("P-10", "Pasar", "12.71.01.1001", "3.60", "98.69"),
        ("", "Baru", "12.71.01.1001", "3.61", "98.70"),
    ]
    preview = preview_file("up.csv", csv_bytes(rows, header=HEADER), existing=existing)
    assert [(r.action, r.match_id) for r in preview.rows] == [
        ("update", 1),
        ("update", 2),
        ("create", None),  # a different code is a different site, even with the same name
        ("create", None),
    ]
    # The updated rows do not warn about being duplicates of themselves.
    assert not preview.rows[0].warnings and not preview.rows[1].warnings
    assert [w.code for w in preview.rows[2].warnings] == ["likely_duplicate"]
    assert preview.counts()["update"] == 2 and preview.counts()["create"] == 2


def test_code_twice_in_file_is_an_error_on_the_later_row():
    """A code used twice in one file is refused on the later row, naming the first."""
    rows = [("K1", "A", "", "3.5", "98.6"), ("k1", "B", "", "3.6", "98.6")]
    first, second = preview_file("up.csv", csv_bytes(rows, header=HEADER)).rows
    assert first.ok and not second.ok
    assert second.errors[0].code == "duplicate_code_in_file"
    assert second.errors[0].params["other_row"] == 2


def test_two_rows_updating_one_hotspot_is_an_error():
    """Two rows that would update the same stored hotspot: the later one is refused."""
    existing = [ExistingHotspot(2, "Panti", 3.59, 98.68, None, "12.71.01.1001")]
    rows = [("", "Panti", "12.71.01.1001", "3.59", "98.68")] * 2
    first, second = preview_file("up.csv", csv_bytes(rows, header=HEADER), existing=existing).rows
    assert first.match_id == 2 and second.errors[0].code == "same_target_in_file"


def test_rows_without_coordinates_are_located_from_the_gazetteer():
    """No coordinates: kelurahan code, then kecamatan code, then kecamatan name; else a pin."""
    header = ("nama", "kode_kelurahan", "kode_kecamatan", "kecamatan", "lintang", "bujur")
    rows = [
        ("A", "12.71.01.1001", "", "", "", ""),
        ("B", "12.71.05.1009", "", "", "", ""),
        ("C", "", "12.71.20", "", "", ""),
        ("D", "", "", "Kec. Medan Baru", "", ""),
        ("E", "", "", "Kecamatan Entah", "", ""),
        ("F", "32.73.01.1001", "", "", "", ""),
    ]
    preview = preview_file("up.csv", csv_bytes(rows, header=header))
    sources = [r.values.location_source for r in preview.rows]
    assert sources == [
        "gazetteer_kelurahan",
        "gazetteer_kecamatan",
        "gazetteer_kecamatan",
        "gazetteer_kecamatan",
        None,
        None,
    ]
    assert (preview.rows[0].values.lat, preview.rows[0].values.lon) == (3.5742, 98.6893)
    assert all(r.ok for r in preview.rows)  # no row is lost
    assert preview.rows[4].values.needs_location
    assert preview.rows[4].warnings[-1].code == "needs_location"
    assert preview.counts()["needs_location"] == 2


def test_5000_rows_against_5000_existing_all_match():
    """5,000 rows against 5,000 stored hotspots all match by code (timing: the benchmark)."""
    existing = [
        ExistingHotspot(i, f"Lokasi {i}", 3.5 + i * 1e-4, 98.6, f"E{i}", None) for i in range(5000)
    ]
    rows = [(f"E{i}", f"Lokasi {i}", "", f"{3.5 + i * 1e-4:.4f}", "98.6") for i in range(5000)]
    data = csv_bytes(rows, header=HEADER)
    preview = preview_file("up.csv", data, existing=existing, area=AreaCheck(3.6, 98.6, 50))
    assert preview.counts()["update"] == 5000
    assert not any(r.warnings for r in preview.rows)
