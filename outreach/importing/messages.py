"""Message catalogue for import problems: one stable code, an Indonesian and an English text.

The parser never builds user-facing sentences ad hoc; it records a code and its parameters, so the
web layer can show the Indonesian text (the default), the English one, or its own translation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal

# code -> (Bahasa Indonesia, English). Placeholders use str.format with named parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    # Whole-file problems (ImportRejected).
    "empty_file": ("Berkas kosong.", "The file is empty."),
    "file_too_large": (
        "Berkas terlalu besar ({size} byte); batas {limit} byte.",
        "The file is too large ({size} bytes); the limit is {limit} bytes.",
    ),
    "unsupported_format": (
        "Format berkas tidak didukung: {detail}. Unggah CSV (UTF-8) atau XLSX.",
        "Unsupported file format: {detail}. Upload CSV (UTF-8) or XLSX.",
    ),
    "encoding_utf16": (
        'Berkas memakai pengodean UTF-16/UTF-32. Simpan ulang sebagai "CSV UTF-8".',
        'The file is UTF-16/UTF-32 encoded. Save it again as "CSV UTF-8".',
    ),
    "encoding_invalid": (
        "Baris {row}, kolom {column}: byte 0x{byte} bukan UTF-8 (berkas tampaknya ANSI/cp1252). "
        'Simpan ulang sebagai "CSV UTF-8".',
        "Row {row}, column {column}: byte 0x{byte} is not UTF-8 (the file looks like ANSI/cp1252). "
        'Save it again as "CSV UTF-8".',
    ),
    "binary_content": (
        "Baris {row}: berkas berisi karakter NUL/biner, bukan teks CSV.",
        "Row {row}: the file contains NUL/binary characters, not CSV text.",
    ),
    "csv_malformed": (
        "Baris {row}: CSV tidak dapat dibaca ({detail}).",
        "Row {row}: the CSV cannot be read ({detail}).",
    ),
    "xlsx_unreadable": (
        "Berkas XLSX tidak dapat dibaca ({detail}).",
        "The XLSX file cannot be read ({detail}).",
    ),
    "xlsx_too_large": (
        "Isi berkas XLSX terlalu besar setelah diekstrak ({size} byte); batas {limit} byte.",
        "The XLSX content is too large when unpacked ({size} bytes); the limit is {limit} bytes.",
    ),
    "too_many_rows": (
        "Terlalu banyak baris: lebih dari {limit} baris data. Bagi berkas menjadi beberapa bagian.",
        "Too many rows: more than {limit} data rows. Split the file into parts.",
    ),
    "too_many_columns": (
        "Terlalu banyak kolom ({count}); batas {limit}.",
        "Too many columns ({count}); the limit is {limit}.",
    ),
    "no_header": (
        'Baris judul tidak ditemukan: kolom "nama" harus ada di salah satu dari {limit} baris '
        "pertama.",
        'No header row found: a "nama" (name) column must appear within the first {limit} rows.',
    ),
    "duplicate_column": (
        'Kolom {column} dan {other} sama-sama berarti "{field}"; hapus salah satu.',
        'Columns {column} and {other} both mean "{field}"; remove one of them.',
    ),
    "missing_coordinate_column": (
        "Ada kolom {present} tetapi tidak ada kolom {missing}.",
        "There is a {present} column but no {missing} column.",
    ),
    "no_data_rows": (
        "Tidak ada baris data di bawah baris judul.",
        "No data rows below the header.",
    ),
    "import_conflict": (
        "Data titik berubah saat impor (mungkin impor lain berjalan bersamaan). Tidak ada yang "
        "disimpan; ulangi impor.",
        "The hotspots changed during the import (perhaps another import ran at the same time). "
        "Nothing was stored; run the import again.",
    ),
    "preview_stale": (
        "Berkas berbeda dengan yang dipratinjau. Unggah dan periksa ulang.",
        "The file differs from the one previewed. Upload and review it again.",
    ),
    # File-level warnings.
    "unknown_columns": (
        "Kolom tidak dikenal diabaikan: {columns}.",
        "Unknown columns ignored: {columns}.",
    ),
    # Row errors.
    "extra_cells": (
        "Baris berisi {count} sel, lebih banyak dari {expected} kolom judul: sel yang memuat "
        'pemisah "{separator}" harus diberi tanda kutip, misalnya "-6,2001" atau '
        '"Sen-Kam 08:00-16:00; Jum 08:00-11:30".',
        "The row has {count} cells, more than the {expected} header columns: a cell that contains "
        'the separator "{separator}" must be quoted, e.g. "-6,2001" or '
        '"Mon-Thu 08:00-16:00; Fri 08:00-11:30".',
    ),
    "required": ("Wajib diisi.", "Required."),
    "too_long": (
        "Terlalu panjang ({length} karakter); batas {limit}.",
        "Too long ({length} characters); the limit is {limit}.",
    ),
    "control_chars": (
        "Berisi karakter kontrol yang tidak diizinkan.",
        "Contains control characters that are not allowed.",
    ),
    "not_integer": (
        'Bukan bilangan bulat: "{value}". Tulis angka 0-9 saja, tanpa tanda, titik, koma, atau '
        "spasi.",
        'Not a whole number: "{value}". Use the digits 0-9 only, with no sign, dot, comma or '
        "space.",
    ),
    "out_of_range": (
        "Nilai {value} di luar rentang {low}–{high}.",
        "Value {value} is outside the range {low}–{high}.",
    ),
    "not_decimal": (
        'Bukan angka desimal yang sah: "{value}". Contoh yang sah: -6.2001 atau -6,2001.',
        'Not a valid decimal number: "{value}". Valid examples: -6.2001 or -6,2001.',
    ),
    "coord_missing_pair": (
        "Lintang dan bujur harus diisi keduanya atau dikosongkan keduanya.",
        "Fill in both latitude and longitude, or leave both empty.",
    ),
    "lat_lon_swapped": (
        "Lintang/bujur tertukar? Lintang {lat} dan bujur {lon} di luar Indonesia; mungkin "
        "lintang={lon}, bujur={lat}.",
        "Latitude/longitude swapped? Latitude {lat} and longitude {lon} are outside Indonesia; "
        "perhaps latitude={lon}, longitude={lat}.",
    ),
    "coord_outside_indonesia": (
        "Koordinat ({lat}, {lon}) di luar wilayah Indonesia (lintang -11..6,5; bujur 94..141,5).",
        "Coordinates ({lat}, {lon}) are outside Indonesia (latitude -11..6.5; "
        "longitude 94..141.5).",
    ),
    "bad_area_code": (
        'Kode wilayah "{value}" tidak sah; contoh: {example}.',
        'Area code "{value}" is not valid; example: {example}.',
    ),
    "bad_opening_hours": (
        'Jam buka tidak dapat dibaca: "{value}" ({detail}). Contoh: '
        '"Sen-Kam 08:00-16:00; Jum 08:00-11:30,13:30-16:00".',
        'Opening hours cannot be read: "{value}" ({detail}). Example: '
        '"Mon-Thu 08:00-16:00; Fri 08:00-11:30,13:30-16:00".',
    ),
    "bad_phone": (
        'Nomor telepon kontak "{value}" tidak sah: pakai angka, spasi, "-" dan "+" di depan, '
        "6–20 angka; contoh: 0812-3456-7890 atau +62 61 4512345.",
        'The contact phone "{value}" is not valid: use digits, spaces, "-" and a leading "+", '
        "6–20 digits; e.g. 0812-3456-7890 or +62 61 4512345.",
    ),
    "duplicate_code_in_file": (
        'Kode "{value}" sudah dipakai di baris {other_row}.',
        'Code "{value}" is already used in row {other_row}.',
    ),
    "same_target_in_file": (
        "Baris ini dan baris {other_row} memperbarui titik yang sama (#{id}).",
        "This row and row {other_row} update the same hotspot (#{id}).",
    ),
    # Row warnings.
    "unknown_kind": (
        'Jenis "{value}" tidak dikenal; dipakai "lainnya" (other).',
        'Kind "{value}" is not known; "other" is used.',
    ),
    "outside_area": (
        "Lokasi berjarak {distance_km} km dari pusat wilayah kantor (batas {radius_km} km).",
        "The location is {distance_km} km from the office's centre (limit {radius_km} km).",
    ),
    "likely_duplicate": (
        "Kemungkinan duplikat titik yang sudah ada: {other_name} ({distance_m} m).",
        "Likely a duplicate of the existing hotspot {other_name} ({distance_m} m away).",
    ),
    "likely_duplicate_in_file": (
        "Kemungkinan duplikat baris {other_row} ({distance_m} m).",
        "Likely a duplicate of row {other_row} ({distance_m} m away).",
    ),
    "area_code_mismatch": (
        "Kode kelurahan {kelurahan_code} bukan bagian dari kecamatan {kecamatan_code}.",
        "Kelurahan code {kelurahan_code} is not inside kecamatan {kecamatan_code}.",
    ),
    "located_gazetteer": (
        "Koordinat kosong; lokasi diperkirakan dari pusat {level} {area}. Periksa pin di peta.",
        "No coordinates; the location is estimated from the centre of {level} {area}. "
        "Check the pin on the map.",
    ),
    "located_geocoder": (
        "Koordinat kosong; lokasi dari geocoder. Periksa pin di peta.",
        "No coordinates; the location comes from the geocoder. Check the pin on the map.",
    ),
    "needs_location": (
        "Koordinat kosong dan lokasi tidak ditemukan; letakkan pin di peta setelah impor.",
        "No coordinates and no location found; drop a pin on the map after the import.",
    ),
}


# Parameters that are measures or counts, written in the reader's style: Indonesian 1.048.576
# and 3,5952, English 1,048,576 and 3.5952. Row numbers and ids stay plain (they name a row of
# the spreadsheet or a record), and so does any value the user typed ("value", except the
# number of an out-of-range check).
NUMBER_PARAMS = frozenset(
    {
        "size",
        "limit",
        "count",
        "expected",
        "length",
        "distance_km",
        "distance_m",
        "radius_km",
        "lat",
        "lon",
        "low",
        "high",
    }
)
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def format_number(value: Any, lang: str = "id") -> Any:
    """A number (or a plain numeric string such as ``"3.5952"``) in ``lang``'s style.

    Anything else is returned unchanged.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not _PLAIN_NUMBER.match(value.strip()):
            return value
        value = Decimal(value.strip())
    if not isinstance(value, int | float | Decimal):
        return value
    locale = "en" if lang == "en" else "id"
    return format_decimal(value, format="#,##0.######", locale=locale)


def localised_params(code: str, params: Mapping[str, Any], lang: str = "id") -> dict[str, Any]:
    """``params`` with its numbers written in ``lang``'s style (see :data:`NUMBER_PARAMS`)."""
    out = dict(params)
    for name, value in params.items():
        numeric = name in NUMBER_PARAMS or (code == "out_of_range" and name == "value")
        if numeric:
            out[name] = format_number(value, lang)
    return out


def render(
    code: str, params: Mapping[str, Any], lang: str = "id", *, localise: bool = False
) -> str:
    """Return the message for ``code`` in ``lang`` ("id" or "en"), falling back to the code.

    With ``localise`` the numbers in the parameters (sizes, counts, distances, coordinates)
    follow the language's style, as the coordinator's screens show them: ``3,5952`` and
    ``1.048.576`` in Indonesian, ``3.5952`` and ``1,048,576`` in English. Without it (the
    API's ``message`` fields) they stay as the importer wrote them.
    """
    pair = MESSAGES.get(code)
    if pair is None:
        return code
    template = pair[1] if lang == "en" else pair[0]
    values = localised_params(code, params, lang) if localise else params
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # A missing parameter must never turn a validation message into a crash.
        return template
