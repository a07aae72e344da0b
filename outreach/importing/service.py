"""The import service: preview an upload against the office's hotspots, then store the valid rows.

Rules
-----
* One transaction per import: every valid row is written, plus one audit event, then the session
  commits; any database error rolls everything back (nothing half-imported).
* Re-importing updates instead of duplicating. A row updates the office's hotspot with the same
  code (``kode``, case-insensitive); a row without a code updates the hotspot with the same
  kelurahan code and normalised name. Matching is redone at commit time against the database, so
  a stale preview cannot create duplicates.
* Only the columns present in the file are written on an update; a missing column keeps the stored
  value (e.g. a file without ``jam_buka`` keeps the hours the coordinator entered).
* Demand: ``requested`` takes the file's count; ``remaining`` keeps what was already served, i.e.
  ``remaining = max(0, requested_new - (requested_old - remaining_old))``. Re-importing the same
  file therefore changes nothing, and the coverage loop survives a re-import.
* Locations: a pin the coordinator placed (``location_source == "pin"``) is never moved by an
  import. Otherwise coordinates from the file win; an estimate (gazetteer or geocoder) only fills
  a hotspot that has no better location. A hotspot without coordinates is stored with status
  ``needs_location`` — never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from outreach.importing.errors import ImportRejected
from outreach.importing.fields import SERVICES, normalise_name
from outreach.importing.locate import (
    SOURCE_FILE,
    SOURCE_GEOCODER,
    SOURCE_KECAMATAN,
    SOURCE_KELURAHAN,
    STATUS_LOCATED,
    LocationQuery,
    Locator,
)
from outreach.importing.parse import (
    AreaCheck,
    ExistingHotspot,
    HotspotRow,
    Preview,
    preview_file,
)
from outreach.models import (
    AuditEvent,
    Hotspot,
    HotspotDemand,
    HotspotKind,
    HotspotOpening,
    HotspotStatus,
    Office,
    User,
)

logger = logging.getLogger(__name__)

# Warn about rows farther than this from the office's centre (a kabupaten is rarely wider).
DEFAULT_AREA_RADIUS_KM = 50.0
SOURCE_MANUAL = "pin"  # written by the coordinator's pin screen (coordinator/hotspots.py)
# Higher wins when an import meets a stored location; a coordinator's pin is never replaced.
_SOURCE_RANK = {
    None: 0,
    "": 0,
    SOURCE_KECAMATAN: 1,
    SOURCE_KELURAHAN: 2,
    SOURCE_GEOCODER: 3,
    SOURCE_FILE: 4,
    SOURCE_MANUAL: 5,
}


@dataclass
class ImportSummary:
    """What an import wrote."""

    filename: str
    sha256: str
    rows: int
    created: int = 0
    updated: int = 0
    skipped: int = 0  # rows with errors, not imported
    needs_location: int = 0
    kept_manual_pins: int = 0
    hotspot_ids: list[int] = field(default_factory=list)
    skipped_rows: list[int] = field(default_factory=list)
    audit_event_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (for the API's commit response)."""
        return {
            "filename": self.filename,
            "sha256": self.sha256,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "needs_location": self.needs_location,
            "kept_manual_pins": self.kept_manual_pins,
            "hotspot_ids": self.hotspot_ids,
            "skipped_rows": self.skipped_rows,
        }


def office_area(office: Office, radius_km: float = DEFAULT_AREA_RADIUS_KM) -> AreaCheck:
    """Return the office's area for the "outside the area" warning."""
    return AreaCheck(office.lat, office.lon, radius_km)


def existing_hotspots(session: Session, office: Office) -> list[ExistingHotspot]:
    """Return the office's hotspots as plain data (one query, only the columns needed)."""
    rows = session.execute(
        sa.select(
            Hotspot.id,
            Hotspot.name,
            Hotspot.lat,
            Hotspot.lon,
            Hotspot.external_code,
            Hotspot.kelurahan_code,
        ).where(Hotspot.office_id == office.id)
    )
    return [
        ExistingHotspot(
            r.id, r.name, r.lat, r.lon, r.external_code or None, r.kelurahan_code or None
        )
        for r in rows
    ]


def preview_upload(
    session: Session,
    office: Office,
    filename: str,
    data: bytes,
    *,
    locator: Locator | None = None,
    radius_km: float = DEFAULT_AREA_RADIUS_KM,
) -> Preview:
    """Read and validate an upload against the office's stored hotspots; stores nothing.

    Raises
    ------
    ImportRejected
        When the whole file is unusable (encoding, format, size, header).
    """
    return preview_file(
        filename,
        data,
        existing=existing_hotspots(session, office),
        area=office_area(office, radius_km),
        locator=locator,
        use_geocoder=False,  # the 1 request/s geocoder runs after the import: locate_pending()
    )


def commit_import(
    session: Session,
    office: Office,
    preview: Preview | str,
    data_or_user: bytes | User | None = None,
    *,
    user: User | None = None,
    locator: Locator | None = None,
) -> ImportSummary:
    """Write the valid rows of an upload in one transaction and commit.

    Two call forms::

        commit_import(session, office, preview, user)            # a Preview from preview_upload
        commit_import(session, office, filename, data, user=u)   # re-read and validate the bytes

    Rows with errors are skipped (and counted); every valid row is stored, including rows without
    coordinates (status ``needs_location``). One audit event ``hotspots.import`` records the file
    name, its SHA-256 and the counts — never row contents.

    Raises
    ------
    ImportRejected
        ``import_conflict`` if the database refused the write (e.g. a concurrent import created
        the same code); the transaction is rolled back and nothing is stored.
    """
    if isinstance(preview, Preview):
        if user is None and isinstance(data_or_user, User):
            user = data_or_user
    else:
        if not isinstance(data_or_user, bytes | bytearray):
            raise TypeError("commit_import(session, office, filename, data, user=...) needs bytes")
        preview = preview_upload(session, office, preview, bytes(data_or_user), locator=locator)

    summary = ImportSummary(preview.filename, preview.sha256, len(preview.rows))
    present = set(preview.columns)
    try:
        stored = _load_office_hotspots(session, office)
        by_code = {h.external_code.casefold(): h for h in stored if h.external_code}
        by_area_name = {
            (h.kelurahan_code, normalise_name(h.name)): h for h in stored if h.kelurahan_code
        }
        written: list[Hotspot] = []
        written_ids: set[int] = set()  # id() of the objects: new ones have no primary key yet
        for row in preview.rows:
            if not row.ok or row.values is None:
                summary.skipped += 1
                summary.skipped_rows.append(row.row)
                continue
            values = row.values
            hotspot = _match(values, by_code, by_area_name)
            if hotspot is not None and id(hotspot) in written_ids:
                # Two rows for one hotspot slipped past a stale preview: keep the first.
                summary.skipped += 1
                summary.skipped_rows.append(row.row)
                continue
            if hotspot is None:
                hotspot = Hotspot(office_id=office.id, name=values.name)
                _apply(hotspot, values, present | {"name"}, new=True, summary=summary)
                session.add(hotspot)
                summary.created += 1
                if values.external_id:
                    by_code[values.external_id.casefold()] = hotspot
                if values.kelurahan_code:
                    by_area_name[(values.kelurahan_code, normalise_name(values.name))] = hotspot
            else:
                _apply(hotspot, values, present, new=False, summary=summary)
                summary.updated += 1
            written.append(hotspot)
            written_ids.add(id(hotspot))
            if hotspot.lat is None:
                summary.needs_location += 1
        session.flush()
        summary.hotspot_ids = sorted(h.id for h in written)
        event = AuditEvent(
            action="hotspots.import",
            user_id=user.id if user is not None else None,
            object_type="office",
            object_id=str(office.id),
            details={
                "filename": preview.filename,
                "sha256": preview.sha256,
                "rows": summary.rows,
                "created": summary.created,
                "updated": summary.updated,
                "skipped": summary.skipped,
                "needs_location": summary.needs_location,
            },
        )
        session.add(event)
        session.flush()
        summary.audit_event_id = event.id
        session.commit()
    except IntegrityError:
        session.rollback()
        logger.warning("hotspot import refused by the database", exc_info=True)
        raise ImportRejected("import_conflict") from None
    except BaseException:
        session.rollback()
        raise
    return summary


def import_upload(
    session: Session,
    office: Office,
    filename: str,
    data: bytes,
    user: User | None = None,
    *,
    expected_sha256: str | None = None,
    locator: Locator | None = None,
) -> ImportSummary:
    """Validate and import an upload in one call (the API's commit step).

    ``expected_sha256`` (from the preview) guards against committing a different file than the
    one the coordinator reviewed.
    """
    preview = preview_upload(session, office, filename, data, locator=locator)
    if expected_sha256 is not None and preview.sha256 != expected_sha256:
        raise ImportRejected("preview_stale")
    return commit_import(session, office, preview, user=user)


def _load_office_hotspots(session: Session, office: Office) -> list[Hotspot]:
    return list(
        session.scalars(
            sa.select(Hotspot)
            .where(Hotspot.office_id == office.id)
            .options(selectinload(Hotspot.demands), selectinload(Hotspot.openings))
        )
    )


def _match(
    values: HotspotRow,
    by_code: dict[str, Hotspot],
    by_area_name: dict[tuple[str, str], Hotspot],
) -> Hotspot | None:
    if values.external_id:
        found = by_code.get(values.external_id.casefold())
        if found is not None:
            return found
    if values.kelurahan_code:
        found = by_area_name.get((values.kelurahan_code, normalise_name(values.name)))
        if found is not None and not (
            values.external_id
            and found.external_code
            and found.external_code.casefold() != values.external_id.casefold()
        ):
            return found
    return None


def _apply(
    hotspot: Hotspot,
    values: HotspotRow,
    present: set[str],
    *,
    new: bool,
    summary: ImportSummary,
) -> None:
    """Copy a row onto a hotspot: every field when new, the file's columns when updating."""

    def has(name: str) -> bool:
        return new or name in present

    hotspot.name = values.name
    if values.external_id and not (
        hotspot.external_code and hotspot.external_code.casefold() == values.external_id.casefold()
    ):
        hotspot.external_code = values.external_id
    if has("kind"):
        hotspot.kind = HotspotKind(values.kind)
    if has("address"):
        hotspot.address = values.address or ""
    if has("kecamatan"):
        hotspot.kecamatan_name = values.kecamatan or ""
    if has("kecamatan_code"):
        hotspot.kecamatan_code = values.kecamatan_code or ""
    elif new and values.kelurahan_code:
        hotspot.kecamatan_code = values.kelurahan_code.rsplit(".", 1)[0]
    if has("kelurahan"):
        hotspot.kelurahan_name = values.kelurahan or ""
    if has("kelurahan_code"):
        hotspot.kelurahan_code = values.kelurahan_code or ""
    if has("priority"):
        hotspot.priority = values.priority
    if has("notes"):
        hotspot.notes = values.notes or ""
    if has("contact_name"):
        hotspot.contact_name = values.contact_name or ""
    if has("contact_phone"):
        hotspot.contact_phone = values.contact_phone or ""
    _apply_location(hotspot, values, new=new, summary=summary)
    _apply_demand(hotspot, values, present, new=new)
    if has("opening_hours"):
        hotspot.openings.clear()
        if values.opening_hours is not None:
            for weekday, windows in enumerate(values.opening_hours.days):
                for start, end in windows:
                    hotspot.openings.append(
                        HotspotOpening(weekday=weekday, start_min=start, end_min=end)
                    )
    _apply_status(hotspot, new=new)


def _apply_location(
    hotspot: Hotspot, values: HotspotRow, *, new: bool, summary: ImportSummary
) -> None:
    if values.lat is None or values.lon is None:
        if new:
            hotspot.lat = hotspot.lon = None
            hotspot.location_source = ""
        return
    current = None if new or hotspot.lat is None else (hotspot.location_source or "")
    if current == SOURCE_MANUAL:
        summary.kept_manual_pins += 1
        return
    incoming = values.location_source or SOURCE_FILE
    if current is not None and _SOURCE_RANK.get(current, 4) > _SOURCE_RANK.get(incoming, 0):
        return  # never replace a better location with an estimate
    hotspot.lat, hotspot.lon = values.lat, values.lon
    hotspot.location_source = incoming


def _apply_demand(hotspot: Hotspot, values: HotspotRow, present: set[str], *, new: bool) -> None:
    rows = {d.service: d for d in hotspot.demands}
    for service in SERVICES:
        if not new and service not in present:
            continue
        requested = int(values.demand.get(service, 0))
        demand = rows.get(service)
        if demand is None:
            if requested > 0:
                hotspot.demands.append(
                    HotspotDemand(service=service, requested=requested, remaining=requested)
                )
            continue
        served = max(0, (demand.requested or 0) - (demand.remaining or 0))
        demand.requested = requested
        demand.remaining = max(0, requested - served)


def _apply_status(hotspot: Hotspot, *, new: bool) -> None:
    if hotspot.lat is None:
        hotspot.status = HotspotStatus.NEEDS_LOCATION
        return
    status = None if new else hotspot.status
    if status == HotspotStatus.ARCHIVED:
        return  # an archived hotspot stays archived until the coordinator restores it
    requested = sum(d.requested for d in hotspot.demands)
    remaining = sum(d.remaining for d in hotspot.demands)
    if status == HotspotStatus.DONE and requested > 0 and remaining == 0:
        return
    hotspot.status = HotspotStatus.ACTIVE


@dataclass
class LocateSummary:
    """What :func:`locate_pending` did."""

    tried: int = 0
    located: int = 0
    still_needs_location: int = 0
    geocoder_requests: int = 0
    paused_reason: str | None = None
    hotspot_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def locate_pending(
    session: Session,
    office: Office,
    locator: Locator,
    *,
    limit: int = 200,
    hotspot_ids: Sequence[int] | None = None,
) -> LocateSummary:
    """Try to locate the office's ``needs_location`` hotspots (gazetteer, then the geocoder).

    Meant for a background job after an import: the geocoder allows one request per second, so
    ``limit`` bounds one run (200 ≈ 3–4 minutes at worst). Each located hotspot becomes ``active``
    with its ``location_source``; failures leave it ``needs_location``. Commits once at the end.
    """
    query = (
        sa.select(Hotspot)
        .where(Hotspot.office_id == office.id, Hotspot.status == HotspotStatus.NEEDS_LOCATION)
        .order_by(Hotspot.id)
        .limit(limit)
    )
    if hotspot_ids is not None:
        query = query.where(Hotspot.id.in_(list(hotspot_ids)))
    summary = LocateSummary()
    geocoder = locator.geocoder
    before = geocoder.requests_made if geocoder else 0
    for hotspot in session.scalars(query):
        summary.tried += 1
        found = locator.locate(
            LocationQuery(
                kelurahan_code=hotspot.kelurahan_code or None,
                kecamatan_code=hotspot.kecamatan_code or None,
                kecamatan=hotspot.kecamatan_name or None,
                kelurahan=hotspot.kelurahan_name or None,
                address=hotspot.address or None,
                name=hotspot.name,
                kind=str(hotspot.kind.value if hasattr(hotspot.kind, "value") else hotspot.kind),
            )
        )
        if found.status == STATUS_LOCATED and found.lat is not None and found.lon is not None:
            hotspot.lat, hotspot.lon = found.lat, found.lon
            hotspot.location_source = found.source or SOURCE_GEOCODER
            hotspot.status = HotspotStatus.ACTIVE
            summary.located += 1
            summary.hotspot_ids.append(hotspot.id)
        else:
            summary.still_needs_location += 1
    if geocoder is not None:
        summary.geocoder_requests = geocoder.requests_made - before
        summary.paused_reason = geocoder.paused_reason
    session.commit()
    return summary
