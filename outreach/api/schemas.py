"""Request schemas written once and used twice: to validate input and to document it.

A :class:`Schema` is a set of named :class:`F` (field) specs. :meth:`Schema.validate` turns a
JSON object (or query parameters) into clean Python values or raises
:class:`~outreach.errors.ValidationFailed` with one ``{"field", "message"}`` per problem —
never a 500. :meth:`Schema.json_schema` renders the same specs as JSON Schema for OpenAPI 3.1.
Unknown fields are rejected, so a client cannot slip in ``status`` or ``office_id``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..errors import ValidationFailed
from ..importing.fields import parse_phone
from ..models import MAX_COUNT, PRIORITY_MAX, PRIORITY_MIN, HotspotKind, HotspotStatus, Service

_INT = re.compile(r"^-?[0-9]{1,9}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")
_MISSING = object()


@dataclass(frozen=True)
class F:
    """One field: its JSON type and constraints (``date`` and ``time`` are strings)."""

    type: str  # string | integer | number | boolean | date | time | array | object | map
    required: bool = False
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    enum: tuple[Any, ...] | None = None
    items: F | None = None  # array items / map values
    keys: tuple[str, ...] | None = None  # allowed keys of a map
    properties: Schema | None = None  # nested object
    max_items: int | None = None
    nullable: bool = False
    default: Any = _MISSING

    def json_schema(self) -> dict[str, Any]:
        t = self.type
        out: dict[str, Any]
        if t == "date":
            out = {"type": "string", "format": "date"}
        elif t == "time":
            out = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"}
        elif t == "map":
            out = {"type": "object"}
            if self.items is not None:
                out["additionalProperties"] = self.items.json_schema()
            if self.keys:
                out["propertyNames"] = {"enum": list(self.keys)}
        elif t == "object" and self.properties is not None:
            out = self.properties.json_schema()
        else:
            out = {"type": t}
        if self.nullable:
            out["type"] = [out.get("type", "object"), "null"]
        if self.description:
            out["description"] = self.description
        for key, value in (
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
            ("maxItems", self.max_items),
        ):
            if value is not None:
                out[key] = value
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if t == "array" and self.items is not None:
            out["items"] = self.items.json_schema()
        if self.default is not _MISSING:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class Schema:
    """A named object schema; ``name`` becomes the OpenAPI component name."""

    name: str
    fields: Mapping[str, F]
    description: str = ""
    checks: tuple[Any, ...] = field(default=(), compare=False)  # callables(data) -> errors

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "additionalProperties": False,
        }
        required = [k for k, f in self.fields.items() if f.required]
        if required:
            out["required"] = required
        if self.description:
            out["description"] = self.description
        return out

    def validate(self, data: Any, *, from_query: bool = False, path: str = "") -> dict[str, Any]:
        """Return clean values or raise :class:`ValidationFailed` listing every bad field."""
        errors: list[dict[str, str]] = []
        out = self._validate(data, from_query, path, errors)
        if errors:
            raise ValidationFailed("Masukan tidak valid.", errors)
        return out

    def _validate(
        self, data: Any, from_query: bool, path: str, errors: list[dict[str, str]]
    ) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            errors.append({"field": path or "body", "message": "Harus berupa objek JSON."})
            return {}
        out: dict[str, Any] = {}
        for key in data:
            if key not in self.fields:
                errors.append({"field": _join(path, str(key)), "message": "Kolom tidak dikenal."})
        for key, spec in self.fields.items():
            where = _join(path, key)
            if key not in data or (from_query and data.get(key) == ""):
                if spec.required:
                    errors.append({"field": where, "message": "Wajib diisi."})
                elif spec.default is not _MISSING:
                    out[key] = spec.default
                continue
            value = _coerce(spec, data[key], from_query, where, errors)
            if value is not _MISSING:
                out[key] = value
        if not errors:
            for check in self.checks:
                errors.extend(check(out, path))
        return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _coerce(spec: F, value: Any, from_query: bool, where: str, errors: list) -> Any:
    def bad(message: str) -> Any:
        errors.append({"field": where, "message": message})
        return _MISSING

    if value is None:
        return None if spec.nullable else bad("Tidak boleh kosong (null).")
    t = spec.type
    if t == "integer":
        if from_query and isinstance(value, str):
            if not _INT.match(value.strip()):
                return bad("Harus bilangan bulat.")
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            return bad("Harus bilangan bulat.")
    elif t == "number":
        if from_query and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return bad("Harus angka.")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return bad("Harus angka.")
        if not math.isfinite(value):
            return bad("Harus angka terhingga.")
        value = float(value)
    elif t == "boolean":
        if from_query and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            value = value.lower() in ("true", "1")
        if not isinstance(value, bool):
            return bad("Harus true atau false.")
    elif t in ("string", "date", "time"):
        if not isinstance(value, str):
            return bad("Harus teks.")
        value = value.strip()
        if t == "date":
            if not _DATE.match(value):
                return bad("Tanggal harus berformat YYYY-MM-DD.")
            try:
                return date.fromisoformat(value)
            except ValueError:
                return bad("Tanggal tidak ada di kalender.")
        if t == "time":
            m = _CLOCK.match(value)
            if not m:
                return bad("Jam harus berformat HH:MM (00:00–24:00).")
            return 1440 if value == "24:00" else int(m.group(1)) * 60 + int(m.group(2))
    elif t == "array":
        if from_query and isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            return bad("Harus daftar (array).")
        if spec.max_items is not None and len(value) > spec.max_items:
            return bad(f"Paling banyak {spec.max_items} isian.")
        items = []
        for i, item in enumerate(value):
            v = (
                _coerce(spec.items, item, from_query, f"{where}[{i}]", errors)
                if spec.items
                else item
            )
            if v is not _MISSING:
                items.append(v)
        return items
    elif t == "map":
        if not isinstance(value, Mapping):
            return bad("Harus objek JSON.")
        out = {}
        for k, item in value.items():
            if spec.keys and k not in spec.keys:
                errors.append(
                    {
                        "field": f"{where}.{k}",
                        "message": f"Kunci tidak dikenal: pilih {', '.join(spec.keys)}.",
                    }
                )
                continue
            v = (
                _coerce(spec.items, item, from_query, f"{where}.{k}", errors)
                if spec.items
                else item
            )
            if v is not _MISSING:
                out[k] = v
        return out
    elif t == "object":
        if spec.properties is None:
            return value if isinstance(value, Mapping) else bad("Harus objek JSON.")
        before = len(errors)
        out = spec.properties._validate(value, from_query, where, errors)
        return out if len(errors) == before else _MISSING
    if spec.enum is not None and value not in spec.enum:
        return bad("Pilih salah satu: " + ", ".join(str(e) for e in spec.enum) + ".")
    if spec.minimum is not None and value < spec.minimum:
        return bad(f"Minimal {spec.minimum:g}.")
    if spec.maximum is not None and value > spec.maximum:
        return bad(f"Maksimal {spec.maximum:g}.")
    if spec.min_length is not None and len(value) < spec.min_length:
        return bad(
            "Wajib diisi." if spec.min_length == 1 else f"Minimal {spec.min_length} karakter."
        )
    if spec.max_length is not None and len(value) > spec.max_length:
        return bad(f"Maksimal {spec.max_length} karakter.")
    return value


# ------------------------------------------------------------------------------ schemas

SERVICES = tuple(s.value for s in Service)
KINDS = tuple(k.value for k in HotspotKind)
ID = F("integer", minimum=1, maximum=2**31 - 1)
COUNT = F("integer", minimum=0, maximum=MAX_COUNT)


def _window_order(data: dict[str, Any], path: str) -> list[dict[str, str]]:
    if data["start"] >= data["end"]:
        return [{"field": _join(path, "end"), "message": "Jam selesai harus setelah jam mulai."}]
    return []


def _latlon_together(data: dict[str, Any], path: str) -> list[dict[str, str]]:
    if ("lat" in data) != ("lon" in data):
        return [
            {
                "field": _join(path, "lon" if "lat" in data else "lat"),
                "message": "Isi lintang dan bujur bersama-sama.",
            }
        ]
    return []


def _contact(data: dict[str, Any], path: str) -> list[dict[str, str]]:
    """Check the contact phone (same rule as the importer) and tidy both contact fields.

    The clean values replace the raw ones in ``data``: whitespace collapsed, as the web form
    and the importer store them.
    """
    if "contact_name" in data:
        data["contact_name"] = " ".join(data["contact_name"].split())
    raw = data.get("contact_phone") or ""
    if not raw.strip():
        if "contact_phone" in data:
            data["contact_phone"] = ""
        return []
    phone = parse_phone(raw)
    if phone is None:
        return [
            {
                "field": _join(path, "contact_phone"),
                "message": 'Nomor telepon: angka, spasi, "-" dan "+" di depan, 6–20 angka.',
            }
        ]
    data["contact_phone"] = phone
    return []


def _some_demand(data: dict[str, Any], path: str) -> list[dict[str, str]]:
    if not any(v > 0 for v in data.get("demand", {}).values()):
        return [
            {
                "field": _join(path, "demand"),
                "message": "Paling sedikit satu layanan dengan jumlah warga > 0.",
            }
        ]
    return []


def _dates_ordered(data: dict[str, Any], path: str) -> list[dict[str, str]]:
    if data["end_date"] < data["start_date"]:
        return [
            {"field": _join(path, "end_date"), "message": "Tanggal akhir sebelum tanggal mulai."}
        ]
    return []


Opening = Schema(
    "Opening",
    {
        "weekday": F("integer", True, "0 = Senin … 6 = Minggu", minimum=0, maximum=6),
        "start": F("time", True, "Jam buka, HH:MM"),
        "end": F("time", True, "Jam tutup, HH:MM"),
    },
    "Satu jendela jam buka pada satu hari dalam seminggu.",
    checks=(_window_order,),
)

HotspotCreate = Schema(
    "HotspotCreate",
    {
        "name": F("string", True, "Nama titik", min_length=1, max_length=200),
        "kind": F("string", False, "Jenis titik", enum=KINDS, default="other"),
        "external_code": F("string", False, "Kode unik di kantor", max_length=64),
        "address": F("string", False, "Alamat", max_length=500, default=""),
        "lat": F("number", False, "Lintang (WGS84)", minimum=-11.5, maximum=6.5),
        "lon": F("number", False, "Bujur (WGS84)", minimum=94.5, maximum=141.5),
        "kecamatan_code": F("string", False, max_length=20, default=""),
        "kecamatan_name": F("string", False, max_length=120, default=""),
        "kelurahan_code": F("string", False, max_length=20, default=""),
        "kelurahan_name": F("string", False, max_length=120, default=""),
        "priority": F(
            "integer",
            False,
            "1 = paling mendesak … 5",
            minimum=PRIORITY_MIN,
            maximum=PRIORITY_MAX,
            default=3,
        ),
        "notes": F("string", False, max_length=2000, default=""),
        "contact_name": F(
            "string",
            False,
            "Narahubung di lokasi (hanya untuk tim lapangan, tidak pernah publik)",
            max_length=120,
            default="",
        ),
        "contact_phone": F(
            "string",
            False,
            'Telepon narahubung: angka, spasi, "-", "+" di depan; 6–20 angka',
            max_length=32,
            default="",
        ),
        "demand": F("map", True, "Warga per layanan", items=COUNT, keys=SERVICES),
        "openings": F(
            "array",
            False,
            "Jam buka; kosong = buka selama tim bekerja",
            items=F("object", properties=Opening),
            max_items=50,
            default=[],
        ),
    },
    "Titik baru. Tanpa lintang/bujur titik berstatus 'needs_location'.",
    checks=(_latlon_together, _some_demand, _contact),
)

HotspotQuery = Schema(
    "HotspotQuery",
    {
        "kecamatan_code": F("string", max_length=20),
        "kind": F("string", enum=KINDS),
        "priority": F("integer", minimum=PRIORITY_MIN, maximum=PRIORITY_MAX),
        "service": F("string", enum=SERVICES),
        "status": F("string", enum=tuple(s.value for s in HotspotStatus)),
        "limit": F("integer", minimum=1, maximum=500, default=100),
        "offset": F("integer", minimum=0, maximum=10**7, default=0),
    },
)

Break = Schema(
    "Break",
    {
        "start": F("time", True),
        "end": F("time", True),
        "label": F("string", max_length=60, default="Istirahat"),
    },
    checks=(_window_order,),
)

WeeklyShift = Schema(
    "WeeklyShift",
    {
        "weekday": F("integer", True, "0 = Senin … 6 = Minggu", minimum=0, maximum=6),
        "start": F("time", True),
        "end": F("time", True),
        "breaks": F("array", items=F("object", properties=Break), max_items=5, default=[]),
    },
    checks=(_window_order,),
)

TeamCreate = Schema(
    "TeamCreate",
    {
        "name": F("string", True, min_length=1, max_length=120),
        "vehicle": F("string", enum=("car", "motorbike", "boat"), default="car"),
        "kits": F("integer", minimum=1, maximum=10, default=1),
        "services": F(
            "array", items=F("string", enum=SERVICES), max_items=4, default=["ktp_record"]
        ),
        "has_printer": F("boolean", default=False),
        "cards_per_day": F("integer", minimum=0, maximum=MAX_COUNT, default=0),
        "weekly": F(
            "array",
            description="Pola mingguan; kosong = Senin–Jumat 08:00–16:00 dengan istirahat",
            items=F("object", properties=WeeklyShift),
            max_items=7,
        ),
    },
)

PlanCreate = Schema(
    "PlanCreate",
    {
        "name": F("string", True, min_length=1, max_length=200),
        "start_date": F("date", True),
        "end_date": F("date", True),
        "team_ids": F("array", description="Kosong = semua tim aktif", items=ID, max_items=200),
        "hotspot_ids": F(
            "array", description="Kosong = semua titik sesuai filter", items=ID, max_items=5000
        ),
        "kecamatan_codes": F("array", items=F("string", max_length=20), max_items=100),
        "kinds": F("array", items=F("string", enum=KINDS), max_items=len(KINDS)),
        "priorities": F(
            "array", items=F("integer", minimum=PRIORITY_MIN, maximum=PRIORITY_MAX), max_items=5
        ),
        "services": F("array", items=F("string", enum=SERVICES), max_items=4),
        "time_limit_s": F("integer", minimum=1, maximum=3600, default=30),
        "seed": F("integer", minimum=0, maximum=2**31 - 1, default=0),
    },
    "Rencana baru; perhitungan langsung dimulai di latar belakang.",
    checks=(_dates_ordered,),
)

Version = Schema(
    "VersionedAction",
    {"expected_version": F("integer", True, "Plan.version yang terakhir Anda lihat", minimum=1)},
)

Publish = Schema(
    "Publish",
    {
        "expected_version": F("integer", True, "Plan.version yang terakhir Anda lihat", minimum=1),
        "notice": F(
            "string",
            description="Catatan untuk warga pada kunjungan yang berubah atau batal",
            max_length=300,
        ),
    },
)

MoveStop = Schema(
    "MoveStop",
    {
        "team_id": F("integer", True, minimum=1),
        "date": F("date", True),
        "position": F(
            "integer", description="0 = pertama; kosong = terakhir", minimum=0, maximum=10_000
        ),
        "expected_version": F("integer", True, minimum=1),
    },
)

AddHotspot = Schema(
    "AddHotspot",
    {
        "hotspot_id": F("integer", True, minimum=1),
        "team_id": F("integer", True, minimum=1),
        "date": F("date", True),
        "position": F("integer", minimum=0, maximum=10_000),
        "expected_version": F("integer", True, minimum=1),
    },
)

ImportQuery = Schema(
    "ImportQuery",
    {
        "mode": F(
            "string",
            description="preview (default) atau commit",
            enum=("preview", "commit"),
            default="preview",
        )
    },
)

ALL_SCHEMAS = (
    Opening,
    HotspotCreate,
    HotspotQuery,
    Break,
    WeeklyShift,
    TeamCreate,
    PlanCreate,
    Version,
    MoveStop,
    AddHotspot,
    ImportQuery,
)
