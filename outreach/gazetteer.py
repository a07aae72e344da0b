"""Offline gazetteer of administrative areas.

Approximate centres of the 21 kecamatan of Kota Medan (BPS/Kemendagri codes 12.71.01–12.71.21).
The coordinates are rough centroids good enough for demo data, for placing a hotspot that has no
coordinates ("needs a pin") and for warning about rows far outside the office's area. They are not
boundaries: the coordinator can always move a pin.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    """An administrative area with an approximate centre."""

    code: str
    name: str
    lat: float
    lon: float


KOTA_MEDAN = Area("12.71", "Kota Medan", 3.5952, 98.6722)

MEDAN_KECAMATAN: tuple[Area, ...] = (
    Area("12.71.01", "Medan Kota", 3.5790, 98.6880),
    Area("12.71.02", "Medan Sunggal", 3.5870, 98.6280),
    Area("12.71.03", "Medan Helvetia", 3.6120, 98.6320),
    Area("12.71.04", "Medan Denai", 3.5630, 98.7130),
    Area("12.71.05", "Medan Barat", 3.6050, 98.6700),
    Area("12.71.06", "Medan Deli", 3.6600, 98.6850),
    Area("12.71.07", "Medan Tuntungan", 3.5080, 98.6170),
    Area("12.71.08", "Medan Belawan", 3.7760, 98.6900),
    Area("12.71.09", "Medan Amplas", 3.5390, 98.7090),
    Area("12.71.10", "Medan Area", 3.5790, 98.7000),
    Area("12.71.11", "Medan Johor", 3.5260, 98.6720),
    Area("12.71.12", "Medan Marelan", 3.7000, 98.6550),
    Area("12.71.13", "Medan Labuhan", 3.7200, 98.6800),
    Area("12.71.14", "Medan Tembung", 3.5950, 98.7230),
    Area("12.71.15", "Medan Maimun", 3.5780, 98.6800),
    Area("12.71.16", "Medan Polonia", 3.5700, 98.6650),
    Area("12.71.17", "Medan Baru", 3.5780, 98.6600),
    Area("12.71.18", "Medan Perjuangan", 3.6040, 98.6980),
    Area("12.71.19", "Medan Petisah", 3.5900, 98.6650),
    Area("12.71.20", "Medan Timur", 3.6050, 98.6900),
    Area("12.71.21", "Medan Selayang", 3.5470, 98.6420),
)

# A few real kelurahan, enough to prove that joins happen on code, not name.
MEDAN_KELURAHAN: tuple[Area, ...] = (Area("12.71.01.1001", "Pasar Baru", 3.5742, 98.6893),)

_BY_CODE = {a.code: a for a in (KOTA_MEDAN, *MEDAN_KECAMATAN, *MEDAN_KELURAHAN)}
_BY_NAME = {a.name.casefold(): a for a in MEDAN_KECAMATAN}


def area_by_code(code: str) -> Area | None:
    """Return the area with this code, or the nearest enclosing area that is known."""
    code = code.strip()
    while code:
        if code in _BY_CODE:
            return _BY_CODE[code]
        code = code.rpartition(".")[0]
    return None


def kecamatan_by_name(name: str) -> Area | None:
    """Return a Medan kecamatan by its name, with or without the "Kec." prefix."""
    key = name.strip().casefold()
    for prefix in ("kecamatan ", "kec. ", "kec "):
        if key.startswith(prefix):
            key = key[len(prefix) :].strip()
    return _BY_NAME.get(key)
