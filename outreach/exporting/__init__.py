"""Plan exports: CSV and XLSX stop lists, GPX routes, iCalendar schedules, day-sheet rows.

Plain functions from model rows to bytes (or dicts); the coordinator views pick the rows the user
may see and send the result as an attachment named with :func:`safe_filename`.
"""

from .filenames import content_disposition, safe_filename
from .gpx import route_gpx
from .ical import team_ical
from .rows import COLUMNS, day_sheet_rows, neutralise, stop_rows
from .tables import stops_csv, stops_xlsx

__all__ = [
    "COLUMNS",
    "content_disposition",
    "day_sheet_rows",
    "neutralise",
    "route_gpx",
    "safe_filename",
    "stop_rows",
    "stops_csv",
    "stops_xlsx",
    "team_ical",
]
