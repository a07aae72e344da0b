"""Header aliases, kinds and area codes."""

from __future__ import annotations

import pytest

from outreach.importing.fields import (
    KINDS,
    field_for_header,
    normalise_name,
    parse_kecamatan_code,
    parse_kelurahan_code,
    parse_kind,
)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("nama", "name"),
        ("Name", "name"),
        ("JENIS", "kind"),
        ("tipe", "kind"),
        ("Alamat", "address"),
        ("lintang", "lat"),
        ("Latitude", "lat"),
        ("lat", "lat"),
        ("bujur", "lon"),
        ("lng", "lon"),
        ("long", "lon"),
        ("Longitude", "lon"),
        ("kecamatan", "kecamatan"),
        ("Kode Kecamatan", "kecamatan_code"),
        ("desa", "kelurahan"),
        ("kode_kelurahan", "kelurahan_code"),
        ("KODE-WILAYAH", "kelurahan_code"),
        ("KTP-el", "ktp_record"),
        ("rekam_ktp", "ktp_record"),
        ("Perekaman KTP", "ktp_record"),
        ("cetak_ktp", "ktp_print"),
        ("Akta Kelahiran", "birth_cert"),
        ("akta", "birth_cert"),
        ("KIA", "kia"),
        ("prioritas", "priority"),
        ("Jam Buka", "opening_hours"),
        ("opening_hours", "opening_hours"),
        ("catatan", "notes"),
        ("kode", "external_id"),
        ("external_id", "external_id"),
        (" nama ", "name"),
    ],
)
def test_header_aliases_match_case_space_underscore_insensitively(header, field):
    """Indonesian and English aliases map to one field whatever the case, spaces or underscores."""
    assert field_for_header(header) == field


def test_unknown_header_maps_to_nothing():
    """A header that is no alias is unknown (reported, then ignored)."""
    assert field_for_header("warna favorit") is None


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        ("sekolah", "school"),
        ("SMA", "school"),
        ("SMK Negeri", "school"),
        ("MA", "school"),
        ("SLB", "school"),
        ("Kantor Kelurahan", "office"),
        ("kantor desa", "office"),
        ("Kantor Kelurahan Pasar Baru", "office"),
        ("Rumah Sakit", "hospital"),
        ("RS", "hospital"),
        ("RSUD", "hospital"),
        ("panti jompo", "social_home"),
        ("Panti Asuhan", "social_home"),
        ("lapas", "prison"),
        ("Rutan", "prison"),
        ("rumah tahanan", "prison"),
        ("pasar", "market"),
        ("Mall", "market"),
        ("rumah", "home"),
        ("Balai Desa", "village_hall"),
        ("school", "school"),
        ("social_home", "social_home"),
        ("village hall", "village_hall"),
        ("", "other"),
    ],
)
def test_kinds_map_indonesian_words(cell, kind):
    """Indonesian kind words (and the canonical English values) map to the kinds enum."""
    assert parse_kind(cell) == (kind, True)
    assert kind in KINDS


def test_unknown_kind_is_other_and_flagged():
    """An unknown kind becomes ``other`` and is flagged so the preview can warn."""
    assert parse_kind("gereja") == ("other", False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.71.01.1001", "12.71.01.1001"),
        ("1271011001", "12.71.01.1001"),
        ("12.71.01", None),
        ("12.71.01.10011", None),
        ("١٢.71.01.1001", None),
        ("12-71-01-1001", None),
    ],
)
def test_kelurahan_code_format(value, expected):
    """Kelurahan codes are 2.2.2.4 ASCII digits, dots optional on input, dotted on output."""
    assert parse_kelurahan_code(value) == expected


def test_kecamatan_code_format():
    """Kecamatan codes are 2.2.2 ASCII digits."""
    assert parse_kecamatan_code("127101") == "12.71.01"
    assert parse_kecamatan_code("12.71") is None


def test_normalise_name_ignores_case_punctuation_and_spacing():
    """Names compare equal regardless of case, punctuation and repeated spaces."""
    assert normalise_name("SMA  Negeri-1, Medan") == normalise_name("sma negeri 1 medan")
