"""The plan's stops as CSV (RFC 4180) and as an Excel workbook."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ..models import Plan
from .rows import COLUMNS, stop_rows


def stops_csv(plan: Plan, *, delimiter: str = ",") -> bytes:
    """Return the plan's stops as CSV bytes.

    RFC 4180: CRLF line ends, fields quoted when they hold the delimiter, a quote or a line
    break. UTF-8 with a byte-order mark, which Excel needs to read non-ASCII names correctly.
    Text cells that a spreadsheet could run as a formula start with ``'``.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
    )
    writer.writerow([header for _, header in COLUMNS])
    for row in stop_rows(plan):
        writer.writerow([row[key] for key, _ in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def _cell_text(value: object) -> object:
    # XML cannot carry most control characters; openpyxl raises on them, so drop them.
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def stops_xlsx(plan: Plan) -> bytes:
    """Return the plan's stops as an ``.xlsx`` workbook (one sheet, a header row, filters).

    Every text cell is stored as a string (never as a formula), and carries the same ``'``
    guard as the CSV so that a later copy-paste or CSV save stays inert.
    """
    wb = Workbook()
    ws = wb.active
    ws.title = "Kunjungan"
    ws.append([header for _, header in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in stop_rows(plan):
        ws.append([_cell_text(row[key]) for key, _ in COLUMNS])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                # openpyxl turns a str starting with "=" into a formula; force plain text.
                cell.data_type = "s"
    widths = [12, 18, 8, 36, 20, 18, 18, 7, 7, 8, 10, 10, 10, 6, 8, 8, 11]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    wb.properties.creator = "Jemput Bola"
    wb.properties.title = plan.name[:200]
    wb.properties.created = wb.properties.modified = datetime.now(UTC).replace(tzinfo=None)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
