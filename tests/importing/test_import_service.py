"""The import service against the database: preview, one-transaction commit, re-import."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from outreach.extensions import db
from outreach.importing import ImportRejected, Locator, parse, service
from outreach.importing.fields import KINDS, SERVICES
from outreach.models import (
    MAX_COUNT,
    PRIORITY_MAX,
    PRIORITY_MIN,
    AuditEvent,
    Hotspot,
    HotspotKind,
    HotspotStatus,
    Service,
)
from tests.factories import make_hotspot, make_office, make_user

from .helpers import csv_bytes

HEADER = (
    "kode",
    "nama",
    "jenis",
    "kode_kelurahan",
    "lintang",
    "bujur",
    "ktp_el",
    "akta",
    "prioritas",
    "jam_buka",
)
ROWS = [
    (
        "SMA-1",
        "SMA Negeri 1 Medan",
        "SMA",
        "12.71.01.1001",
        "3.5801",
        "98.6789",
        "120",
        "5",
        "2",
        "Sen-Kam 07:30-13:00; Jum 07:30-11:00",
    ),
    ("PANTI-2", "Panti Jompo Kasih", "panti", "12.71.01.1001", "", "", "15", "", "1", ""),
    ("RMH-3", "Rumah Pak Budi", "rumah", "", "", "", "1", "", "1", ""),
    ("BAD-4", "Lapas Tanjung Gusta", "lapas", "", "98.67", "3.59", "40", "", "", ""),
]


def _data(rows=ROWS, header=HEADER) -> bytes:
    return csv_bytes(rows, header=header, sep=";")


def _hotspots() -> list[Hotspot]:
    return list(db.session.scalars(sa.select(Hotspot).order_by(Hotspot.id)))


def test_limits_agree_with_the_models(app):
    """The parser's caps and vocabularies equal the model's CHECK constraints and enums."""
    assert parse.MAX_COUNT == MAX_COUNT
    assert parse.PRIORITY_RANGE == (PRIORITY_MIN, PRIORITY_MAX)
    assert set(KINDS) == {k.value for k in HotspotKind}
    assert set(SERVICES) == {s.value for s in Service}


def test_preview_stores_nothing_and_warns_against_stored_hotspots(app):
    """A preview matches stored hotspots and warns, but writes no row."""
    office = make_office()
    make_hotspot(office, name="SMA Negeri 1 Medan", external_code="SMA-1", lat=3.5801, lon=98.6789)
    db.session.commit()
    preview = service.preview_upload(db.session, office, "up.csv", _data())
    assert [r.action for r in preview.valid_rows] == ["update", "create", "create"]
    assert len(_hotspots()) == 1


def test_commit_writes_valid_rows_in_one_transaction_with_audit(app):
    """Valid rows are stored (also those without coordinates), bad rows skipped, one audit event."""
    office = make_office()
    user = make_user(office_id=office.id)
    db.session.commit()
    preview = service.preview_upload(db.session, office, "up.csv", _data())
    summary = service.commit_import(db.session, office, preview, user)
    assert (summary.created, summary.updated, summary.skipped) == (3, 0, 1)
    assert summary.skipped_rows == [5] and summary.needs_location == 1
    sma, panti, home = _hotspots()
    assert (sma.lat, sma.lon, sma.location_source, sma.status) == (
        3.5801,
        98.6789,
        "file",
        HotspotStatus.ACTIVE,
    )
    assert sma.kind == HotspotKind.SCHOOL and sma.priority == 2
    assert {d.service: (d.requested, d.remaining) for d in sma.demands} == {
        "ktp_record": (120, 120),
        "birth_cert": (5, 5),
    }
    assert [(o.weekday, o.start_min, o.end_min) for o in sma.openings] == [
        (0, 450, 780),
        (1, 450, 780),
        (2, 450, 780),
        (3, 450, 780),
        (4, 450, 660),
    ]
    assert panti.location_source == "gazetteer_kelurahan" and panti.status == HotspotStatus.ACTIVE
    assert home.lat is None and home.status == HotspotStatus.NEEDS_LOCATION  # never lost
    events = list(db.session.scalars(sa.select(AuditEvent)))
    assert [(e.action, e.user_id) for e in events] == [("hotspots.import", user.id)]
    assert events[0].details["created"] == 3 and events[0].details["sha256"] == preview.sha256
    assert "Budi" not in str(events[0].details)  # no row contents in the audit trail
    assert summary.audit_event_id == events[0].id


def test_reimporting_the_same_file_changes_nothing(app):
    """Importing the same file twice updates the same hotspots instead of duplicating them."""
    office = make_office()
    db.session.commit()
    first = service.commit_import(db.session, office, "up.csv", _data())
    again = service.commit_import(db.session, office, "up.csv", _data())
    assert (again.created, again.updated) == (0, 3)
    assert again.hotspot_ids == first.hotspot_ids
    assert len(_hotspots()) == 3


def test_reimport_without_codes_matches_kelurahan_and_name(app):
    """Rows without a code update by kelurahan code + normalised name."""
    office = make_office()
    db.session.commit()
    header = ("nama", "kode_kelurahan", "lintang", "bujur", "ktp_el")
    service.commit_import(
        db.session,
        office,
        "a.csv",
        _data([("Pasar Baru", "12.71.01.1001", "3.57", "98.68", "9")], header),
    )
    summary = service.commit_import(
        db.session,
        office,
        "b.csv",
        _data([("PASAR  BARU", "1271011001", "3.571", "98.68", "12")], header),
    )
    assert (summary.created, summary.updated) == (0, 1)
    (hotspot,) = _hotspots()
    assert hotspot.name == "PASAR  BARU".replace("  ", " ") and hotspot.lat == 3.571
    assert hotspot.demands[0].requested == 12


def test_reimport_keeps_served_progress_and_absent_columns(app):
    """Remaining keeps what was served; columns absent from the file keep their stored values."""
    office = make_office()
    db.session.commit()
    service.commit_import(db.session, office, "a.csv", _data(ROWS[:1]))
    (sma,) = _hotspots()
    sma.demand_of("ktp_record").remaining = 100  # 20 of 120 recorded in the field
    sma.notes = "catatan koordinator"
    db.session.commit()
    header = ("kode", "nama", "ktp_el")
    service.commit_import(
        db.session, office, "b.csv", _data([("SMA-1", "SMA Negeri 1 Medan", "150")], header)
    )
    db.session.expire_all()
    (sma,) = _hotspots()
    record = sma.demand_of("ktp_record")
    assert (record.requested, record.remaining) == (150, 130)
    assert sma.demand_of("birth_cert").requested == 5  # no akta column in the second file
    assert len(sma.openings) == 5 and sma.notes == "catatan koordinator"
    assert (sma.lat, sma.lon) == (3.5801, 98.6789)


def test_manual_pin_is_never_moved_by_an_import(app):
    """A pin the coordinator placed stays where it is when the file is imported again."""
    office = make_office()
    db.session.commit()
    service.commit_import(db.session, office, "a.csv", _data(ROWS[:2]))
    sma, panti = _hotspots()
    sma.lat, sma.lon, sma.location_source = 3.6, 98.7, "pin"
    panti.lat, panti.lon, panti.location_source = 3.61, 98.71, "pin"
    db.session.commit()
    summary = service.commit_import(db.session, office, "a.csv", _data(ROWS[:2]))
    db.session.expire_all()
    sma, panti = _hotspots()
    assert (sma.lat, sma.lon, panti.lat, panti.lon) == (3.6, 98.7, 3.61, 98.71)
    assert summary.kept_manual_pins == 2


def test_estimate_never_replaces_file_coordinates(app):
    """A later file without coordinates does not move a hotspot to a gazetteer centre."""
    office = make_office()
    db.session.commit()
    header = ("kode", "nama", "kode_kelurahan", "lintang", "bujur")
    service.commit_import(
        db.session, office, "a.csv", _data([("K", "A", "12.71.01.1001", "3.59", "98.66")], header)
    )
    service.commit_import(
        db.session, office, "b.csv", _data([("K", "A", "12.71.01.1001", "", "")], header)
    )
    (hotspot,) = _hotspots()
    assert (hotspot.lat, hotspot.lon, hotspot.location_source) == (3.59, 98.66, "file")


def test_stale_preview_cannot_duplicate(app):
    """Two previews committed one after the other still give one hotspot per code."""
    office = make_office()
    db.session.commit()
    first = service.preview_upload(db.session, office, "up.csv", _data())
    second = service.preview_upload(db.session, office, "up.csv", _data())
    service.commit_import(db.session, office, first)
    summary = service.commit_import(db.session, office, second)
    assert (summary.created, summary.updated) == (0, 3)
    assert len(_hotspots()) == 3


def test_failure_mid_import_rolls_everything_back(app):
    """If the database fails after some rows, nothing of the import is stored."""
    office = make_office()
    db.session.commit()
    preview = service.preview_upload(db.session, office, "up.csv", _data())

    def explode(session, flush_context, instances):
        if any(isinstance(o, AuditEvent) for o in session.new):
            raise RuntimeError("disk full")

    event.listen(db.session, "before_flush", explode)
    try:
        with pytest.raises(RuntimeError):
            service.commit_import(db.session, office, preview)
    finally:
        event.remove(db.session, "before_flush", explode)
    assert _hotspots() == []
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0


def test_integrity_error_becomes_typed_rejection(app):
    """A unique-constraint clash (concurrent import) is a typed rejection with nothing stored."""
    office = make_office()
    db.session.commit()
    preview = service.preview_upload(db.session, office, "up.csv", _data(ROWS[:1]))
    # A concurrent import stores the same code after this one has loaded the stored hotspots.
    make_hotspot(office, name="Other", external_code="SMA-1")
    db.session.commit()
    original = service._match
    try:
        service._match = lambda *a, **k: None  # the race: our snapshot did not see that row
        with pytest.raises(ImportRejected) as info:
            service.commit_import(db.session, office, preview)
    finally:
        service._match = original
    assert info.value.code == "import_conflict"
    assert [h.name for h in _hotspots()] == ["Other"]


def test_offices_are_isolated(app):
    """An import never matches or touches another office's hotspots."""
    mine, other = make_office(), make_office()
    make_hotspot(other, name="SMA Negeri 1 Medan", external_code="SMA-1")
    db.session.commit()
    summary = service.commit_import(db.session, mine, "up.csv", _data(ROWS[:1]))
    assert summary.created == 1
    assert (
        db.session.scalar(sa.select(sa.func.count(Hotspot.id)).where(Hotspot.office_id == other.id))
        == 1
    )


def test_commit_accepts_filename_and_bytes_form(app):
    """The API's call form (filename, data, user=) validates and imports in one go."""
    office = make_office()
    user = make_user(office_id=office.id)
    db.session.commit()
    summary = service.commit_import(db.session, office, "up.csv", _data(), user=user)
    assert summary.created == 3
    assert summary.to_dict()["skipped_rows"] == [5]


def test_import_upload_refuses_a_different_file_than_previewed(app):
    """import_upload with the preview's SHA-256 refuses other bytes."""
    office = make_office()
    db.session.commit()
    with pytest.raises(ImportRejected) as info:
        service.import_upload(db.session, office, "up.csv", _data(), expected_sha256="0" * 64)
    assert info.value.code == "preview_stale"
    assert _hotspots() == []


def test_locate_pending_with_gazetteer_and_no_geocoder(app):
    """Background locating fills what the gazetteer knows and leaves the rest needs_location."""
    office = make_office()
    db.session.commit()
    header = ("kode", "nama", "kecamatan")
    service.commit_import(
        db.session, office, "a.csv", _data([("A", "X", ""), ("B", "Y", "")], header)
    )
    a, b = _hotspots()
    a.kecamatan_name = "Medan Baru"  # e.g. fixed by the coordinator after the import
    db.session.commit()
    summary = service.locate_pending(db.session, office, Locator(None))
    assert (summary.tried, summary.located, summary.still_needs_location) == (2, 1, 1)
    db.session.expire_all()
    a, b = _hotspots()
    assert a.status == HotspotStatus.ACTIVE and a.location_source == "gazetteer_kecamatan"
    assert b.status == HotspotStatus.NEEDS_LOCATION and b.lat is None
