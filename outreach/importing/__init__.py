"""Hotspot import: read CSV/XLSX uploads, validate, locate rows without coordinates, store.

Pure modules (no Flask, no SQLAlchemy): :mod:`.parse`, :mod:`.locate`, :mod:`.fields`,
:mod:`.numbers`, :mod:`.hours`, :mod:`.template`, :mod:`.messages`, :mod:`.errors`.
The database service is :mod:`.service`; import it explicitly (it needs the app's models).
"""

from outreach.importing.errors import CsvValidationError, ImportRejected, Issue, XlsxValidationError
from outreach.importing.locate import Geocoder, Located, LocationQuery, Locator, locate_offline
from outreach.importing.parse import (
    MAX_COUNT,
    MAX_FILE_BYTES,
    MAX_ROWS,
    AreaCheck,
    ExistingHotspot,
    HotspotRow,
    Preview,
    RowResult,
    preview_file,
)
from outreach.importing.template import template_csv, template_xlsx

__all__ = [
    "MAX_COUNT",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "AreaCheck",
    "CsvValidationError",
    "ExistingHotspot",
    "Geocoder",
    "HotspotRow",
    "ImportRejected",
    "Issue",
    "Located",
    "LocationQuery",
    "Locator",
    "Preview",
    "RowResult",
    "XlsxValidationError",
    "locate_offline",
    "preview_file",
    "template_csv",
    "template_xlsx",
]
