"""Builders for upload files used by the import tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook

HEADER = ("kode", "nama", "jenis", "kode_kelurahan", "lintang", "bujur", "ktp_el", "prioritas")


def csv_bytes(
    rows: Sequence[Sequence[object]],
    *,
    header: Sequence[str] = HEADER,
    sep: str = ",",
    bom: bool = False,
    encoding: str = "utf-8",
) -> bytes:
    """Return a CSV file (header + rows) written by the csv module (quoting as Excel does)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    text = buffer.getvalue()
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[object]], *, header: Sequence[str] = HEADER) -> bytes:
    """Return an XLSX workbook made by openpyxl with the header and rows on the first sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


GOOD_ROW = ("S1", "SMA Negeri 1 Medan", "SMA", "12.71.01.1001", "3.5801", "98.6789", "120", "2")
