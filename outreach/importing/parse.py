"""Read a hotspot upload (CSV or XLSX) into a validated :class:`Preview`.

Pure code: no Flask, no SQLAlchemy, no network (unless a :class:`~outreach.importing.locate.Locator`
with a geocoder is passed in and ``use_geocoder=True``).

Documented rules
----------------
Files
    * The format is taken from the content, not the name: a ZIP container (``PK\\x03\\x04``) is
      read as XLSX, anything else as CSV. Legacy ``.xls`` (OLE2) is rejected.
    * CSV must be UTF-8, with or without a BOM. UTF-16/UTF-32 (BOM, or NUL bytes between ASCII
      characters), cp1252/ANSI and any invalid byte are rejected, naming the row and column of the
      first bad byte.
    * At most :data:`MAX_FILE_BYTES` bytes, :data:`MAX_ROWS` data rows, :data:`MAX_COLUMNS`
      columns; an XLSX may unpack to at most :data:`MAX_XLSX_UNPACKED_BYTES` and only its first
      worksheet is read (the template's second sheet holds instructions).
Separator (CSV)
    An Excel hint line ``sep=;`` (or ``sep=,``) as the first line wins and is not counted as a row.
    Otherwise the header line is inspected outside double quotes: the most frequent of ``;``,
    ``,`` and TAB is the separator; on a tie (including none at all) it is ``,``.
Header row
    The first row, among the first :data:`HEADER_SEARCH_ROWS`, that has a column meaning "name"
    (``nama``/``name``…); rows above it (titles) are ignored. Aliases: see
    :data:`outreach.importing.fields.FIELD_ALIASES`.
Row numbers
    As the spreadsheet shows them: 1-based, counting the header and any title rows (the ``sep=``
    line excepted, which Excel hides). With the header on row 1, data starts on row 2. A quoted
    cell spanning several lines is one row.
Contacts
    ``contact_name``/``nama_kontak`` and ``contact_phone``/``telepon_kontak`` are optional. A phone
    has ASCII digits, spaces, ``-`` and a leading ``+`` only, with 6 to 20 digits
    (:func:`outreach.importing.fields.parse_phone`); anything else is a ``bad_phone`` row error.
Cells
    Text is trimmed and inner whitespace collapsed (notes keep their line breaks); a cell longer
    than its limit is a row error, never truncated; C0 control characters and bidirectional
    override characters are a row error. Blank rows are skipped. Numbers: see
    :mod:`outreach.importing.numbers` (strict ASCII forms and the decimal comma rule). Counts are
    0..:data:`MAX_COUNT` (empty = 0); priority is 1..5 (empty = :data:`DEFAULT_PRIORITY`).
Coordinates
    Both empty: the row is located (gazetteer, then the geocoder if configured) or stays
    ``needs_location``. One empty: row error. Text like ``NULL``/``N/A``/``NaN``/``inf``: row error.
    Latitude must be in -11..6.5 and longitude in 94..141.5; if the swapped pair would fit, the
    error is ``lat_lon_swapped`` and suggests the swap.
Warnings
    ``outside_area`` when farther than the office's radius from its centre; ``likely_duplicate``
    when an existing hotspot (not the one this row updates) has the same normalised name within
    :data:`DUPLICATE_RADIUS_M` metres; ``likely_duplicate_in_file`` likewise for an earlier row.
    Both use a grid of buckets, so the check is linear in the number of rows.
Matching (re-import updates instead of duplicating)
    A row with a code (``kode``) updates the existing hotspot with the same code; a row without a
    code updates the existing hotspot with the same kelurahan code and normalised name. A code used
    twice in one file, or two rows updating the same hotspot, is a row error on the later row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from outreach.importing.errors import (
    CsvValidationError,
    ImportRejected,
    Issue,
    XlsxValidationError,
)
from outreach.importing.fields import (
    SERVICES,
    TEXT_LIMITS,
    field_for_header,
    normalise_name,
    parse_kecamatan_code,
    parse_kelurahan_code,
    parse_kind,
    parse_phone,
)
from outreach.importing.hours import OpeningHours, OpeningHoursError, parse_opening_hours
from outreach.importing.locate import (
    SOURCE_FILE,
    SOURCE_GEOCODER,
    SOURCE_KELURAHAN,
    STATUS_LOCATED,
    Located,
    LocationQuery,
    Locator,
    in_indonesia,
    locate_offline,
)
from outreach.importing.numbers import NumberError, parse_decimal, parse_int

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_XLSX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 60
HEADER_SEARCH_ROWS = 10
MAX_COUNT = 100_000
PRIORITY_RANGE = (1, 5)
DEFAULT_PRIORITY = 3
DUPLICATE_RADIUS_M = 150.0
# A physical-row cap for XLSX, whose sheets can claim a million (mostly empty) rows.
_MAX_SHEET_ROWS = MAX_ROWS + 5_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_CONTROL_NO_NEWLINE = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_GRID_DEGREES = 0.002  # ~222 m: a 3x3 block of cells always covers a 150 m radius.
_BUCKET_CAP = 32


@dataclass(frozen=True)
class AreaCheck:
    """The office's area for the "outside the area" warning: a centre and a radius in km."""

    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class ExistingHotspot:
    """An already stored hotspot, as plain data, for matching and duplicate warnings."""

    id: int
    name: str
    lat: float | None = None
    lon: float | None = None
    external_id: str | None = None
    kelurahan_code: str | None = None


@dataclass(frozen=True)
class HotspotRow:
    """The parsed, validated values of one row (what the service writes)."""

    name: str
    kind: str
    priority: int
    demand: Mapping[str, int]
    external_id: str | None = None
    address: str | None = None
    kecamatan: str | None = None
    kecamatan_code: str | None = None
    kelurahan: str | None = None
    kelurahan_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    location_source: str | None = None
    opening_hours: OpeningHours | None = None
    notes: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None

    @property
    def needs_location(self) -> bool:
        """Whether the coordinator still has to drop a pin."""
        return self.lat is None or self.lon is None

    @property
    def location_is_approximate(self) -> bool:
        """Whether the point is an estimate (gazetteer centre or geocoder) to be checked."""
        return self.location_source not in (None, SOURCE_FILE)


@dataclass
class RowResult:
    """One data row of the upload: its number, raw cells, parsed values, errors and warnings."""

    row: int
    cells: dict[str, str]
    values: HotspotRow | None = None
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    action: str = "create"  # "create" or "update"
    match_id: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the row can be imported."""
        return not self.errors and self.values is not None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        values = None
        if self.values is not None:
            v = self.values
            values = {
                "external_id": v.external_id,
                "name": v.name,
                "kind": v.kind,
                "address": v.address,
                "kecamatan": v.kecamatan,
                "kecamatan_code": v.kecamatan_code,
                "kelurahan": v.kelurahan,
                "kelurahan_code": v.kelurahan_code,
                "lat": v.lat,
                "lon": v.lon,
                "location_source": v.location_source,
                "needs_location": v.needs_location,
                "demand": dict(v.demand),
                "priority": v.priority,
                "opening_hours": v.opening_hours.to_dict() if v.opening_hours else None,
                "notes": v.notes,
                "contact_name": v.contact_name,
                "contact_phone": v.contact_phone,
            }
        return {
            "row": self.row,
            "ok": self.ok,
            "action": self.action if self.ok else None,
            "match_id": self.match_id,
            "cells": self.cells,
            "values": values,
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
        }


@dataclass
class Table:
    """The cells of an upload before validation."""

    file_format: str  # "csv" or "xlsx"
    separator: str | None
    header_row: int
    headers: list[str]
    rows: list[tuple[int, tuple[Any, ...]]]
    issues: list[Issue] = field(default_factory=list)


@dataclass
class Preview:
    """The result of reading and validating an upload; nothing is stored yet."""

    filename: str
    file_format: str
    separator: str | None
    header_row: int
    columns: dict[str, str]  # canonical field -> header as written
    rows: list[RowResult]
    issues: list[Issue] = field(default_factory=list)  # file-level warnings
    sha256: str = ""

    @property
    def valid_rows(self) -> list[RowResult]:
        """Rows that can be imported."""
        return [r for r in self.rows if r.ok]

    @property
    def invalid_rows(self) -> list[RowResult]:
        """Rows with at least one error."""
        return [r for r in self.rows if not r.ok]

    @property
    def errors(self) -> list[Issue]:
        """All row errors, in row order."""
        return [issue for r in self.rows for issue in r.errors]

    @property
    def warnings(self) -> list[Issue]:
        """File-level warnings, then all row warnings."""
        return [*self.issues, *(issue for r in self.rows for issue in r.warnings)]

    def counts(self) -> dict[str, int]:
        """Return row counts for a summary line."""
        valid = self.valid_rows
        return {
            "rows": len(self.rows),
            "valid": len(valid),
            "invalid": len(self.rows) - len(valid),
            "create": sum(1 for r in valid if r.action == "create"),
            "update": sum(1 for r in valid if r.action == "update"),
            "needs_location": sum(1 for r in valid if r.values and r.values.needs_location),
            "warnings": sum(len(r.warnings) for r in self.rows) + len(self.issues),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (for the API's preview response)."""
        return {
            "filename": self.filename,
            "format": self.file_format,
            "separator": self.separator,
            "header_row": self.header_row,
            "columns": self.columns,
            "sha256": self.sha256,
            "counts": self.counts(),
            "issues": [i.to_dict() for i in self.issues],
            "rows": [r.to_dict() for r in self.rows],
        }


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------


def read_table(filename: str, data: bytes) -> Table:
    """Read the raw cells of a CSV or XLSX upload.

    Raises
    ------
    ImportRejected
        (or its subclasses) for any whole-file problem; never anything else.
    """
    filename, data = filename or "", bytes(data)
    if not data:
        raise CsvValidationError("empty_file")
    if len(data) > MAX_FILE_BYTES:
        raise ImportRejected("file_too_large", size=len(data), limit=MAX_FILE_BYTES)
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRejected("unsupported_format", detail="Excel 97-2003 (.xls)")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise XlsxValidationError("xlsx_unreadable", detail="bukan berkas ZIP/XLSX")
    return _read_csv(data)


def _read_csv(data: bytes) -> Table:
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise CsvValidationError("encoding_utf16")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        # UTF-16 without a BOM puts a NUL next to every ASCII character.
        sample = data[:200]
        if sample.count(b"\x00") * 3 >= len(sample):
            raise CsvValidationError("encoding_utf16")
        raise CsvValidationError("binary_content", row=data[:nul].count(b"\n") + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid_byte(data, exc) from None
    if not text.strip():
        raise CsvValidationError("empty_file")

    text, separator = _separator(text)
    records: list[tuple[int, tuple[Any, ...]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            if any(cell.strip() for cell in record):
                records.append((number, tuple(record)))
                # The header is among the first HEADER_SEARCH_ROWS non-blank rows, so this many
                # non-blank rows means more than MAX_ROWS data rows: stop reading at once.
                if len(records) > MAX_ROWS + HEADER_SEARCH_ROWS:
                    raise CsvValidationError("too_many_rows", limit=MAX_ROWS)
    except csv.Error as exc:
        raise CsvValidationError("csv_malformed", row=number + 1, detail=str(exc)) from None
    return _table_from_records("csv", separator, records)


def _separator(text: str) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    hint = first.strip().lower()
    if len(hint) == 5 and hint.startswith("sep=") and hint[4] in ";,\t|":
        return rest, first.strip()[4]
    # Header line = first non-blank line; quoted parts are skipped so "Nama, lengkap" counts not.
    header = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = "".join(header.split('"')[::2])
    counts = {sep: unquoted.count(sep) for sep in (",", ";", "\t")}
    best = max(counts.values())
    if best == 0 or counts[","] == best:
        return text, ","
    return text, (";" if counts[";"] == best else "\t")


def _invalid_byte(data: bytes, exc: UnicodeDecodeError) -> CsvValidationError:
    """Name the row and column of the first byte that is not UTF-8."""
    prefix = data[: exc.start].decode("utf-8")  # valid up to exc.start by definition
    bad = data[exc.start : exc.start + 1].hex().upper()
    try:
        text, separator = _separator(prefix)
        records = list(csv.reader(io.StringIO(text + "\x1e", newline=""), delimiter=separator))
    except csv.Error:
        records = []
    if not records:
        return CsvValidationError("encoding_invalid", row=1, column="?", byte=bad)
    row = len(records)
    column_index = len(records[-1]) - 1
    headers = records[0]
    if row > 1 and column_index < len(headers) and headers[column_index].strip():
        column = headers[column_index].strip()
    else:
        column = str(column_index + 1)
    return CsvValidationError("encoding_invalid", row=row, column=column, byte=bad)


def _read_xlsx(data: bytes) -> Table:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise XlsxValidationError("xlsx_unreadable", detail=type(exc).__name__) from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise XlsxValidationError("xlsx_too_large", size=unpacked, limit=MAX_XLSX_UNPACKED_BYTES)

    import openpyxl

    records: list[tuple[int, tuple[Any, ...]]] = []
    workbook = None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        if not workbook.worksheets:
            raise XlsxValidationError("xlsx_unreadable", detail="tidak ada lembar kerja")
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1)
        for number, values in enumerate(rows, start=1):
            if number > _MAX_SHEET_ROWS:
                raise XlsxValidationError("too_many_rows", limit=MAX_ROWS)
            if any(v is not None and v != "" for v in values):
                records.append((number, tuple(values)))
                if len(records) > MAX_ROWS + HEADER_SEARCH_ROWS:
                    raise XlsxValidationError("too_many_rows", limit=MAX_ROWS)
    except ImportRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on malformed files
        raise XlsxValidationError("xlsx_unreadable", detail=type(exc).__name__) from None
    finally:
        if workbook is not None:
            try:
                workbook.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken archive must not mask
                pass
    return _table_from_records("xlsx", None, records)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table_from_records(
    file_format: str, separator: str | None, records: list[tuple[int, tuple[Any, ...]]]
) -> Table:
    records = [(n, cells) for n, cells in records if not all(_blank(c) for c in cells)]
    if not records:
        raise ImportRejected("empty_file")
    header_at = None
    for index, (_, cells) in enumerate(records[:HEADER_SEARCH_ROWS]):
        if any(isinstance(c, str) and field_for_header(c) == "name" for c in cells):
            header_at = index
            break
    if header_at is None:
        raise _rejected(file_format, "no_header", limit=HEADER_SEARCH_ROWS)
    header_row, header_cells = records[header_at]
    headers = [("" if c is None else str(c)).strip() for c in header_cells]
    while headers and not headers[-1]:
        headers.pop()
    if len(headers) > MAX_COLUMNS:
        raise _rejected(file_format, "too_many_columns", count=len(headers), limit=MAX_COLUMNS)
    data_rows = records[header_at + 1 :]
    if len(data_rows) > MAX_ROWS:
        raise _rejected(file_format, "too_many_rows", limit=MAX_ROWS)
    if not data_rows:
        raise _rejected(file_format, "no_data_rows")
    return Table(file_format, separator, header_row, headers, data_rows)


def _last_filled(cells: Sequence[Any]) -> int:
    return max((i + 1 for i, c in enumerate(cells) if not _blank(c)), default=0)


def _rejected(file_format: str, code: str, **params: Any) -> ImportRejected:
    cls = XlsxValidationError if file_format == "xlsx" else CsvValidationError
    return cls(code, **params)


# --------------------------------------------------------------------------------------------
# Validating rows
# --------------------------------------------------------------------------------------------


def _column_map(table: Table) -> tuple[dict[str, int], list[Issue]]:
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for index, header in enumerate(table.headers):
        if not header:
            continue
        name = field_for_header(header)
        if name is None:
            unknown.append(header)
        elif name in columns:
            raise _rejected(
                table.file_format,
                "duplicate_column",
                column=table.headers[columns[name]],
                other=header,
                field=name,
            )
        else:
            columns[name] = index
    issues = []
    if unknown:
        issues.append(Issue(None, None, "unknown_columns", {"columns": ", ".join(unknown)}))
    for present, missing in (("lat", "lon"), ("lon", "lat")):
        if present in columns and missing not in columns:
            raise _rejected(
                table.file_format,
                "missing_coordinate_column",
                present=table.headers[columns[present]],
                missing={"lat": "lintang", "lon": "bujur"}[missing],
            )
    return columns, issues


def _text(value: Any) -> str:
    """Return a cell as text; XLSX numbers lose a spurious ``.0`` (codes typed as numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


class _RowChecker:
    """Validates one row; collects errors instead of stopping at the first one."""

    def __init__(self, row: int, cells: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        self.row = row
        self.cells = cells
        self.headers = headers
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []

    def error(self, name: str, code: str, **params: Any) -> None:
        self.errors.append(Issue(self.row, self.headers.get(name, name), code, params))

    def warn(self, name: str | None, code: str, **params: Any) -> None:
        column = self.headers.get(name, name) if name else None
        self.warnings.append(Issue(self.row, column, code, params))

    def text(self, name: str, *, multiline: bool = False) -> str | None:
        raw = _text(self.cells.get(name))
        if multiline:
            value = "\n".join(" ".join(line.split()) for line in raw.strip().splitlines()).strip()
            bad = _CONTROL.search(value)
        else:
            value = " ".join(raw.split())
            bad = _CONTROL_NO_NEWLINE.search(value)
        if bad:
            self.error(name, "control_chars")
            return None
        limit = TEXT_LIMITS.get(name, 500)
        if len(value) > limit:
            self.error(name, "too_long", length=len(value), limit=limit)
            return None
        return value or None

    def integer(self, name: str, *, low: int, high: int, default: int) -> int | None:
        value = self.cells.get(name)
        if _blank(value):
            return default
        try:
            return parse_int(value, low=low, high=high)
        except NumberError as exc:
            self.error(name, exc.code, **exc.params)
            return None

    def coordinates(self) -> tuple[float | None, float | None, bool]:
        """Return ``(lat, lon, failed)``."""
        raw_lat, raw_lon = self.cells.get("lat"), self.cells.get("lon")
        if _blank(raw_lat) and _blank(raw_lon):
            return None, None, False
        if _blank(raw_lat) or _blank(raw_lon):
            self.error("lat" if _blank(raw_lat) else "lon", "coord_missing_pair")
            return None, None, True
        values: list[float] = []
        for name, raw in (("lat", raw_lat), ("lon", raw_lon)):
            try:
                values.append(parse_decimal(raw))
            except NumberError as exc:
                self.error(name, exc.code, **exc.params)
        if len(values) < 2:
            return None, None, True
        lat, lon = values
        if in_indonesia(lat, lon):
            return lat, lon, False
        if in_indonesia(lon, lat):
            self.error("lat", "lat_lon_swapped", lat=_num(lat), lon=_num(lon))
        else:
            self.error("lat", "coord_outside_indonesia", lat=_num(lat), lon=_num(lon))
        return None, None, True


def _num(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _check_row(row: int, cells: Mapping[str, Any], headers: Mapping[str, str]) -> RowResult:
    check = _RowChecker(row, cells, headers)
    name = check.text("name")
    if name is None and not check.errors:
        check.error("name", "required")
    kind_text = check.text("kind") or ""
    kind, known = parse_kind(kind_text)
    if not known:
        check.warn("kind", "unknown_kind", value=kind_text)
    external_id = check.text("external_id")
    address = check.text("address", multiline=False)
    kecamatan = check.text("kecamatan")
    kelurahan = check.text("kelurahan")
    kecamatan_code = kelurahan_code = None
    raw_kec = check.text("kecamatan_code")
    if raw_kec:
        kecamatan_code = parse_kecamatan_code(raw_kec)
        if kecamatan_code is None:
            check.error("kecamatan_code", "bad_area_code", value=raw_kec, example="12.71.01")
    raw_kel = check.text("kelurahan_code")
    if raw_kel:
        kelurahan_code = parse_kelurahan_code(raw_kel)
        if kelurahan_code is None:
            check.error("kelurahan_code", "bad_area_code", value=raw_kel, example="12.71.01.1001")
    if kecamatan_code and kelurahan_code and not kelurahan_code.startswith(kecamatan_code + "."):
        check.warn(
            "kelurahan_code",
            "area_code_mismatch",
            kelurahan_code=kelurahan_code,
            kecamatan_code=kecamatan_code,
        )
    lat, lon, _ = check.coordinates()
    demand: dict[str, int] = {}
    for service in SERVICES:
        count = check.integer(service, low=0, high=MAX_COUNT, default=0)
        if count is not None:
            demand[service] = count
    priority = check.integer(
        "priority", low=PRIORITY_RANGE[0], high=PRIORITY_RANGE[1], default=DEFAULT_PRIORITY
    )
    hours_text = check.text("opening_hours")
    hours = None
    if hours_text:
        try:
            hours = parse_opening_hours(hours_text)
        except OpeningHoursError as exc:
            check.error("opening_hours", "bad_opening_hours", value=hours_text, detail=str(exc))
    notes = check.text("notes", multiline=True)
    contact_name = check.text("contact_name")
    contact_phone = check.text("contact_phone")
    if contact_phone is not None:
        phone = parse_phone(contact_phone)
        if phone is None:
            check.error("contact_phone", "bad_phone", value=contact_phone)
        contact_phone = phone

    result = RowResult(row, {k: _text(v) for k, v in cells.items()})
    result.errors, result.warnings = check.errors, check.warnings
    if not check.errors and name is not None and priority is not None:
        result.values = HotspotRow(
            name=name,
            kind=kind,
            priority=priority,
            demand=demand,
            external_id=external_id,
            address=address,
            kecamatan=kecamatan,
            kecamatan_code=kecamatan_code,
            kelurahan=kelurahan,
            kelurahan_code=kelurahan_code,
            lat=lat,
            lon=lon,
            location_source=SOURCE_FILE if lat is not None else None,
            opening_hours=hours,
            notes=notes,
            contact_name=contact_name,
            contact_phone=contact_phone,
        )
    return result


# --------------------------------------------------------------------------------------------
# Cross-row checks
# --------------------------------------------------------------------------------------------


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return (math.floor(lat / _GRID_DEGREES), math.floor(lon / _GRID_DEGREES))


class _NameGrid:
    """Points bucketed by (normalised name, grid cell): a near-duplicate lookup in O(1).

    Each bucket keeps at most :data:`_BUCKET_CAP` distinct positions, so even a file of 20,000
    rows with the same name at the same place stays linear: identical positions collapse to one
    entry, and a crowded bucket already makes every newcomer a likely duplicate.
    """

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, int, int], dict[tuple[float, float], Any]] = defaultdict(
            dict
        )

    def add(self, name: str, lat: float, lon: float, item: Any) -> None:
        i, j = _cell(lat, lon)
        bucket = self._buckets[(name, i, j)]
        if len(bucket) < _BUCKET_CAP:
            bucket.setdefault((lat, lon), item)

    def near(self, name: str, lat: float, lon: float, skip: Any = None) -> tuple[Any, float]:
        i, j = _cell(lat, lon)
        best: tuple[Any, float] = (None, math.inf)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                bucket = self._buckets.get((name, i + di, j + dj))
                if not bucket:
                    continue
                for (plat, plon), item in bucket.items():
                    if skip is not None and item == skip:
                        continue
                    distance = haversine_m(lat, lon, plat, plon)
                    if distance <= DUPLICATE_RADIUS_M and distance < best[1]:
                        best = (item, distance)
        return best


def _cross_checks(
    results: list[RowResult],
    existing: Sequence[ExistingHotspot],
    area: AreaCheck | None,
    headers: Mapping[str, str],
) -> None:
    by_code = {h.external_id.casefold(): h for h in existing if h.external_id}
    by_area_name = {
        (h.kelurahan_code, normalise_name(h.name)): h for h in existing if h.kelurahan_code
    }
    existing_grid = _NameGrid()
    for hotspot in existing:
        if hotspot.lat is not None and hotspot.lon is not None:
            existing_grid.add(normalise_name(hotspot.name), hotspot.lat, hotspot.lon, hotspot)
    file_grid = _NameGrid()
    codes_seen: dict[str, int] = {}
    targets_seen: dict[int, int] = {}

    for result in results:
        values = result.values
        if values is None:
            continue
        key = normalise_name(values.name)
        match: ExistingHotspot | None = None
        if values.external_id:
            code = values.external_id.casefold()
            if code in codes_seen:
                result.errors.append(
                    Issue(
                        result.row,
                        headers.get("external_id"),
                        "duplicate_code_in_file",
                        {"value": values.external_id, "other_row": codes_seen[code]},
                    )
                )
                continue
            codes_seen[code] = result.row
            match = by_code.get(code)
        if match is None and values.kelurahan_code:
            candidate = by_area_name.get((values.kelurahan_code, key))
            # Two different codes mean two different sites, even with the same name.
            if candidate is not None and not (
                values.external_id
                and candidate.external_id
                and candidate.external_id.casefold() != values.external_id.casefold()
            ):
                match = candidate
        if match is not None:
            if match.id in targets_seen:
                result.errors.append(
                    Issue(
                        result.row,
                        headers.get("name"),
                        "same_target_in_file",
                        {"other_row": targets_seen[match.id], "id": match.id},
                    )
                )
                continue
            targets_seen[match.id] = result.row
            result.action, result.match_id = "update", match.id

        if values.lat is None or values.lon is None:
            continue
        if area is not None:
            distance_km = haversine_m(area.lat, area.lon, values.lat, values.lon) / 1000
            if distance_km > area.radius_km:
                result.warnings.append(
                    Issue(
                        result.row,
                        headers.get("lat"),
                        "outside_area",
                        {"distance_km": round(distance_km, 1), "radius_km": area.radius_km},
                    )
                )
        twin, distance = existing_grid.near(key, values.lat, values.lon, skip=match)
        if twin is not None:
            result.warnings.append(
                Issue(
                    result.row,
                    headers.get("name"),
                    "likely_duplicate",
                    {"other_name": twin.name, "other_id": twin.id, "distance_m": round(distance)},
                )
            )
        earlier, distance = file_grid.near(key, values.lat, values.lon)
        if earlier is not None:
            result.warnings.append(
                Issue(
                    result.row,
                    headers.get("name"),
                    "likely_duplicate_in_file",
                    {"other_row": earlier, "distance_m": round(distance)},
                )
            )
        file_grid.add(key, values.lat, values.lon, result.row)


def _locate_rows(
    results: Iterable[RowResult],
    locator: Locator | None,
    use_geocoder: bool,
    headers: Mapping[str, str],
) -> None:
    for result in results:
        values = result.values
        if values is None or not values.needs_location:
            continue
        query = LocationQuery(
            kelurahan_code=values.kelurahan_code,
            kecamatan_code=values.kecamatan_code,
            kecamatan=values.kecamatan,
            kelurahan=values.kelurahan,
            address=values.address,
            name=values.name,
            kind=values.kind,
        )
        found: Located = (
            locator.locate(query, use_geocoder=use_geocoder)
            if locator is not None
            else locate_offline(query)
        )
        column = headers.get("lat")
        if found.status == STATUS_LOCATED and found.lat is not None and found.lon is not None:
            result.values = _replace_location(values, found.lat, found.lon, found.source)
            if found.source == SOURCE_GEOCODER:
                result.warnings.append(Issue(result.row, column, "located_geocoder", {}))
            else:
                level = "kelurahan" if found.source == SOURCE_KELURAHAN else "kecamatan"
                result.warnings.append(
                    Issue(
                        result.row,
                        column,
                        "located_gazetteer",
                        {"level": level, "area": found.area_name or ""},
                    )
                )
        else:
            result.warnings.append(
                Issue(result.row, column, "needs_location", {"reason": found.reason or ""})
            )


def _replace_location(values: HotspotRow, lat: float, lon: float, source: str | None) -> HotspotRow:
    from dataclasses import replace

    return replace(values, lat=lat, lon=lon, location_source=source)


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def preview_table(
    table: Table,
    *,
    filename: str = "",
    existing: Sequence[ExistingHotspot] = (),
    area: AreaCheck | None = None,
    locator: Locator | None = None,
    use_geocoder: bool = False,
    sha256: str = "",
) -> Preview:
    """Validate the rows of a :class:`Table` and return a :class:`Preview`.

    Parameters
    ----------
    existing
        The office's stored hotspots, for re-import matching and duplicate warnings.
    area
        The office's centre and radius, for the "outside the area" warning.
    locator
        Used for rows without coordinates; without one only the offline gazetteer is used.
    use_geocoder
        Allow network geocoding during the preview (off by default: a preview must be fast and
        a 1 request/s geocoder is for the background, after the import).
    """
    columns, issues = _column_map(table)
    headers = {name: table.headers[index] for name, index in columns.items()}
    expected = len(table.headers)
    results: list[RowResult] = []
    for row, raw in table.rows:
        # In a CSV, cells beyond the header mean a separator inside an unquoted cell shifted the
        # row: every value after it is suspect, so the row is refused as a whole. In an XLSX
        # nothing shifts, and cells under no header are ignored like unknown columns.
        extra = [c for c in raw[expected:] if not _blank(c)]
        if extra and table.file_format == "csv":
            cells = {f"#{i + 1}": _text(c) for i, c in enumerate(raw)}
            results.append(
                RowResult(
                    row,
                    cells,
                    errors=[
                        Issue(
                            row,
                            None,
                            "extra_cells",
                            {
                                "count": _last_filled(raw),
                                "expected": expected,
                                "separator": table.separator,
                            },
                        )
                    ],
                )
            )
            continue
        cells = {name: raw[index] if index < len(raw) else None for name, index in columns.items()}
        results.append(_check_row(row, cells, headers))
    _locate_rows(results, locator, use_geocoder, headers)
    _cross_checks(results, existing, area, headers)
    return Preview(
        filename=filename,
        file_format=table.file_format,
        separator=table.separator,
        header_row=table.header_row,
        columns=headers,
        rows=results,
        issues=[*table.issues, *issues],
        sha256=sha256,
    )


def preview_file(
    filename: str,
    data: bytes,
    *,
    existing: Sequence[ExistingHotspot] = (),
    area: AreaCheck | None = None,
    locator: Locator | None = None,
    use_geocoder: bool = False,
) -> Preview:
    """Read and validate an upload; nothing is stored.

    Raises
    ------
    ImportRejected
        (``CsvValidationError`` / ``XlsxValidationError``) when the whole file is unusable. Row
        problems never raise: they are in ``Preview.rows[i].errors``.
    """
    filename, data = filename or "", bytes(data)
    table = read_table(filename, data)
    return preview_table(
        table,
        filename=filename,
        existing=existing,
        area=area,
        locator=locator,
        use_geocoder=use_geocoder,
        sha256=hashlib.sha256(data).hexdigest(),
    )
