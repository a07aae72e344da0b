"""Human labels for the model's enums, translated (msgids in English, Indonesian catalogue).

Lazy strings: they resolve to the request's language when rendered. Use ``str(label)`` when a
plain string is needed (e.g. before escaping it for a map).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .models import HotspotKind, Role, Service, VehicleKind

SERVICE_LABELS = {
    Service.KTP_RECORD.value: _l("KTP-el recording"),
    Service.KTP_PRINT.value: _l("KTP-el printing"),
    Service.BIRTH_CERT.value: _l("Birth certificate"),
    Service.KIA.value: _l("Child ID card (KIA)"),
}

# Column headers where space is short (tables); the full label goes in a title attribute.
SERVICE_SHORT_LABELS = {
    Service.KTP_RECORD.value: _l("Recording"),
    Service.KTP_PRINT.value: _l("Printing"),
    Service.BIRTH_CERT.value: _l("Birth cert."),
    Service.KIA.value: _l("KIA"),
}

KIND_LABELS = {
    HotspotKind.SCHOOL.value: _l("School"),
    HotspotKind.OFFICE.value: _l("Kelurahan office"),
    HotspotKind.HOSPITAL.value: _l("Hospital"),
    HotspotKind.SOCIAL_HOME.value: _l("Social or nursing home"),
    HotspotKind.PRISON.value: _l("Prison"),
    HotspotKind.MARKET.value: _l("Market or mall"),
    HotspotKind.HOME.value: _l("Home visit"),
    HotspotKind.VILLAGE_HALL.value: _l("Village hall"),
    HotspotKind.OTHER.value: _l("Other"),
}

VEHICLE_LABELS = {
    VehicleKind.CAR.value: _l("Car"),
    VehicleKind.MOTORBIKE.value: _l("Motorbike"),
    VehicleKind.BOAT.value: _l("Boat"),
}

ROLE_LABELS = {
    Role.ADMIN.value: _l("Administrator"),
    Role.COORDINATOR.value: _l("Coordinator"),
    Role.FIELD.value: _l("Field team"),
}

# Priority 1–5 as documented on the model: 1 = most urgent … 5 = can wait.
PRIORITY_LABELS = {
    1: _l("1 – most urgent"),
    2: _l("2 – urgent"),
    3: _l("3 – normal"),
    4: _l("4 – low"),
    5: _l("5 – can wait"),
}


def service_label(service: str) -> str:
    """Return the translated label of a service code (the code itself if unknown)."""
    label = SERVICE_LABELS.get(str(service))
    return str(label) if label is not None else str(service)


def kind_label(kind: str) -> str:
    """Return the translated label of a hotspot kind (the code itself if unknown)."""
    label = KIND_LABELS.get(str(kind))
    return str(label) if label is not None else str(kind)
