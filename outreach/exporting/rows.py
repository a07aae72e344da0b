"""One row per planned stop, shared by the CSV and XLSX exports and the printable day sheet.

Exports are documents for Dukcapil staff, so headers and labels are in Bahasa Indonesia and
times are local to the office. Text cells are neutralised against spreadsheet formula injection
(CWE-1236): a cell that starts with ``= + - @``, a tab, a carriage return or a NUL gets a leading
apostrophe, which spreadsheet programs treat as "this is text".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..models import HotspotKind, Plan, PlannedRoute, PlannedStop, Service, StopStatus

# (key, header) in export order. Persons come as one numeric column per service.
COLUMNS: list[tuple[str, str]] = [
    ("date", "Tanggal"),
    ("team", "Tim"),
    ("position", "Urutan"),
    ("hotspot", "Lokasi"),
    ("kind", "Jenis"),
    ("kecamatan", "Kecamatan"),
    ("kelurahan", "Kelurahan"),
    ("arrival", "Tiba"),
    ("start", "Mulai"),
    ("end", "Selesai"),
    ("persons_ktp_record", "Perekaman KTP-el"),
    ("persons_ktp_print", "Cetak KTP-el"),
    ("persons_birth_cert", "Akta kelahiran"),
    ("persons_kia", "KIA"),
    ("cards", "Blangko"),
    ("locked", "Dikunci"),
    ("status", "Status"),
]

KIND_LABELS = {
    HotspotKind.SCHOOL.value: "Sekolah",
    HotspotKind.OFFICE.value: "Kantor kelurahan/desa",
    HotspotKind.HOSPITAL.value: "Rumah sakit",
    HotspotKind.SOCIAL_HOME.value: "Panti sosial/werdha",
    HotspotKind.PRISON.value: "Lapas/rutan",
    HotspotKind.MARKET.value: "Pasar/mal",
    HotspotKind.HOME.value: "Kunjungan rumah",
    HotspotKind.VILLAGE_HALL.value: "Balai desa",
    HotspotKind.OTHER.value: "Lainnya",
}
SERVICE_LABELS = {
    Service.KTP_RECORD.value: "Perekaman KTP-el",
    Service.KTP_PRINT.value: "Cetak KTP-el",
    Service.BIRTH_CERT.value: "Akta kelahiran",
    Service.KIA.value: "KIA",
}
STATUS_LABELS = {
    StopStatus.PLANNED.value: "terjadwal",
    StopStatus.CANCELLED.value: "dibatalkan",
    StopStatus.DONE.value: "selesai",
}

# Leading characters a spreadsheet may read as a formula or a command (OWASP CSV injection),
# plus their full-width forms, which some spreadsheet programs fold to ASCII.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` if it is text a spreadsheet could execute."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def as_utc(dt: datetime) -> datetime:
    """Read a stored instant as aware UTC (SQLite hands back naive datetimes)."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    return as_utc(dt).astimezone(tz) if dt is not None else None


def hhmm(dt: datetime | None, tz: ZoneInfo) -> str:
    moment = local(dt, tz)
    return moment.strftime("%H:%M") if moment is not None else ""


def office_zone(route: PlannedRoute) -> ZoneInfo:
    """The time zone of the route's office (WIB when unknown)."""
    name = getattr(getattr(route.team, "office", None), "timezone", None) or "Asia/Jakarta"
    return ZoneInfo(name)


def ordered_routes(routes: list[PlannedRoute]) -> list[PlannedRoute]:
    return sorted(routes, key=lambda r: (r.day, r.team.name if r.team else "", r.id or 0))


def ordered_stops(route: PlannedRoute) -> list[PlannedStop]:
    return sorted(route.stops, key=lambda s: (s.position, s.id or 0))


def _status(stop: PlannedStop) -> str:
    status = getattr(stop.status, "value", stop.status)
    return STATUS_LABELS.get(status, str(status))


def _kind(kind: Any) -> str:
    kind = getattr(kind, "value", kind)
    return KIND_LABELS.get(kind, str(kind))


def stop_row(route: PlannedRoute, stop: PlannedStop, tz: ZoneInfo) -> dict[str, Any]:
    """Return one stop as a dict keyed like :data:`COLUMNS` (raw, not yet neutralised)."""
    hotspot = stop.hotspot
    persons = stop.persons or {}
    return {
        "date": route.day.isoformat(),
        "team": route.team.name if route.team else "",
        "position": stop.position + 1,  # people count from 1
        "hotspot": hotspot.name,
        "kind": _kind(hotspot.kind),
        "kecamatan": hotspot.kecamatan_name,
        "kelurahan": hotspot.kelurahan_name,
        "arrival": hhmm(stop.arrival_at, tz),
        "start": hhmm(stop.start_at, tz),
        "end": hhmm(stop.end_at, tz),
        **{f"persons_{s.value}": int(persons.get(s.value, 0)) for s in Service},
        "cards": stop.cards,
        "locked": "ya" if stop.locked else "tidak",
        "status": _status(stop),
    }


def stop_rows(plan: Plan) -> list[dict[str, Any]]:
    """Return every stop of ``plan`` by date, team and visit order, neutralised for export."""
    rows = []
    for route in ordered_routes(list(plan.routes)):
        tz = office_zone(route)
        for stop in ordered_stops(route):
            rows.append({k: neutralise(v) for k, v in stop_row(route, stop, tz).items()})
    return rows


def day_sheet_rows(route: PlannedRoute) -> list[dict[str, Any]]:
    """Return the stops of one team-day for the printable day sheet, in visit order.

    Each dict has ``position`` (from 1), ``name``, ``kind`` (label), ``kind_code``, ``address``,
    ``kecamatan``, ``kelurahan``, ``arrival``/``start``/``end`` (``HH:MM`` local),
    ``services`` (list of ``(label, persons)`` with persons > 0), ``persons_total``, ``cards``,
    ``locked`` (bool), ``status`` (label), ``status_code``, ``cancelled`` (bool), ``lat``,
    ``lon`` and ``geo_uri`` (``geo:lat,lon`` for a phone's map app, or ``""``). Values are raw
    text: the template escapes them.
    """
    tz = office_zone(route)
    rows = []
    for stop in ordered_stops(route):
        hotspot = stop.hotspot
        persons = stop.persons or {}
        services = [
            (SERVICE_LABELS[s.value], int(persons.get(s.value, 0)))
            for s in Service
            if int(persons.get(s.value, 0)) > 0
        ]
        status = getattr(stop.status, "value", stop.status)
        has_point = hotspot.lat is not None and hotspot.lon is not None
        rows.append(
            {
                "position": stop.position + 1,
                "name": hotspot.name,
                "kind": _kind(hotspot.kind),
                "kind_code": getattr(hotspot.kind, "value", hotspot.kind),
                "address": hotspot.address,
                "kecamatan": hotspot.kecamatan_name,
                "kelurahan": hotspot.kelurahan_name,
                "arrival": hhmm(stop.arrival_at, tz),
                "start": hhmm(stop.start_at, tz),
                "end": hhmm(stop.end_at, tz),
                "services": services,
                "persons_total": sum(n for _, n in services),
                "cards": stop.cards,
                "locked": bool(stop.locked),
                "status": _status(stop),
                "status_code": status,
                "cancelled": status == StopStatus.CANCELLED.value,
                "lat": hotspot.lat,
                "lon": hotspot.lon,
                "geo_uri": f"geo:{hotspot.lat:.6f},{hotspot.lon:.6f}" if has_point else "",
            }
        )
    return rows
