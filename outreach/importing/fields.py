"""The import vocabulary: canonical fields, header aliases, hotspot kinds and services.

Header matching rule
--------------------
A header is normalised by Unicode NFKC, case-folding, and dropping every character that is not
a letter or a digit (spaces, ``_``, ``-``, ``.``, brackets). ``"Kode Kelurahan"``,
``"kode_kelurahan"`` and ``"KODE-KELURAHAN"`` all become ``"kodekelurahan"``; the normalised
header is then looked up in :data:`HEADER_ALIASES`. Unknown headers are ignored with a
file-level warning.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Canonical hotspot kinds (the values stored in the database).
KINDS: tuple[str, ...] = (
    "school",
    "office",
    "hospital",
    "social_home",
    "prison",
    "market",
    "home",
    "village_hall",
    "other",
)

# Services with a demand column, in template order.
SERVICES: tuple[str, ...] = ("ktp_record", "ktp_print", "birth_cert", "kia")

# Canonical field -> accepted header spellings (before normalisation; the first is the template's).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("kode", "kode_lokasi", "external_id", "id", "code"),
    "name": ("nama", "name", "nama_lokasi", "nama_titik", "nama_hotspot"),
    "kind": ("jenis", "kind", "tipe", "type", "jenis_lokasi", "kategori", "category"),
    "address": ("alamat", "address", "alamat_lengkap"),
    "kecamatan": ("kecamatan", "kec", "district", "nama_kecamatan"),
    "kecamatan_code": ("kode_kecamatan", "kode_kec", "district_code"),
    "kelurahan": ("kelurahan", "desa", "kelurahan_desa", "kel", "village", "nama_kelurahan"),
    "kelurahan_code": (
        "kode_kelurahan",
        "kode_wilayah",
        "kode_desa",
        "kode_kel",
        "village_code",
        "area_code",
    ),
    "lat": ("lintang", "latitude", "lat"),
    "lon": ("bujur", "longitude", "lon", "lng", "long"),
    "ktp_record": (
        "ktp_el",
        "rekam_ktp",
        "perekaman_ktp",
        "perekaman_ktp_el",
        "rekam_ktp_el",
        "ktp_record",
    ),
    "ktp_print": ("cetak_ktp", "cetak_ktp_el", "pencetakan_ktp", "ktp_print"),
    "birth_cert": ("akta_kelahiran", "akta", "akta_lahir", "birth_cert", "birth_certificate"),
    "kia": ("kia", "kartu_identitas_anak"),
    "priority": ("prioritas", "priority"),
    "opening_hours": ("jam_buka", "jam_layanan", "opening_hours", "hours", "jam"),
    "notes": ("catatan", "keterangan", "notes", "note"),
    # The site's contact person (head teacher, ward nurse): for field teams, never public.
    "contact_name": ("nama_kontak", "contact_name", "kontak", "narahubung", "contact"),
    "contact_phone": (
        "telepon_kontak",
        "contact_phone",
        "telepon",
        "no_telepon",
        "nomor_telepon",
        "no_hp",
        "hp",
        "phone",
    ),
}

# The headers the template writes, in order.
TEMPLATE_HEADERS: tuple[str, ...] = (
    "kode",
    "nama",
    "jenis",
    "alamat",
    "kecamatan",
    "kode_kecamatan",
    "kelurahan",
    "kode_kelurahan",
    "lintang",
    "bujur",
    "ktp_el",
    "cetak_ktp",
    "akta_kelahiran",
    "kia",
    "prioritas",
    "jam_buka",
    "catatan",
    "nama_kontak",
    "telepon_kontak",
)

# Longest accepted text per field, in characters (longer cells are a row error, never truncated).
TEXT_LIMITS: dict[str, int] = {
    "external_id": 64,
    "name": 200,
    "kind": 100,
    "address": 500,
    "kecamatan": 100,
    "kecamatan_code": 32,
    "kelurahan": 100,
    "kelurahan_code": 32,
    "opening_hours": 300,
    "notes": 2000,
    "contact_name": 120,
    "contact_phone": 32,
}

# A contact phone: digits, spaces, "-" and one leading "+", with 6 to 20 digits in all.
PHONE_DIGITS = (6, 20)
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]*$")


def parse_phone(value: str) -> str | None:
    """Return a contact phone with its whitespace collapsed, or ``None`` if it is not one.

    Accepted: ASCII digits, spaces, ``-`` and a leading ``+`` (``+62 812-3456-7890``,
    ``061 4512345``), 6 to 20 digits, at most 32 characters. Letters, brackets, dots, ``/``,
    extensions and other scripts' digits are refused rather than guessed at.
    """
    text = " ".join(value.split())
    if not text or len(text) > 32 or not _PHONE.match(text):
        return None
    digits = sum(c.isdigit() for c in text)
    if not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
        return None
    return text


_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def normalise_header(header: str) -> str:
    """Return the matching key of a header: NFKC, case-folded, letters and digits only."""
    return _NON_ALNUM.sub("", unicodedata.normalize("NFKC", header).casefold())


HEADER_ALIASES: dict[str, str] = {
    normalise_header(alias): field for field, aliases in FIELD_ALIASES.items() for alias in aliases
}


def field_for_header(header: str) -> str | None:
    """Return the canonical field a header stands for, or ``None`` if it is unknown."""
    return HEADER_ALIASES.get(normalise_header(header))


def normalise_name(name: str) -> str:
    """Return a name's comparison key: NFKC, case-folded, punctuation dropped, spaces collapsed."""
    return " ".join(_NON_ALNUM.sub(" ", unicodedata.normalize("NFKC", name).casefold()).split())


# Kind rules, checked in order; the first rule whose phrase occurs in the cell (as whole words)
# wins. Order matters: "rumah sakit" and "rumah tahanan" before "rumah", "balai desa" before "desa",
# "kantor" before "pasar" (so "Kantor Kelurahan Pasar Baru" is an office).
_KIND_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("village_hall", ("balai desa", "balai kampung", "balai warga", "aula desa", "village hall")),
    (
        "prison",
        (
            "lapas",
            "rutan",
            "lpka",
            "lembaga pemasyarakatan",
            "rumah tahanan",
            "penjara",
            "prison",
        ),
    ),
    (
        "hospital",
        ("rumah sakit", "rs", "rsu", "rsud", "rsia", "puskesmas", "klinik", "hospital"),
    ),
    ("social_home", ("panti", "social home", "nursing home")),
    (
        "school",
        (
            "sekolah",
            "sma",
            "smk",
            "ma",
            "slb",
            "smp",
            "sd",
            "mts",
            "madrasah",
            "pesantren",
            "school",
        ),
    ),
    ("office", ("kantor", "office")),
    ("market", ("pasar", "mall", "mal", "plaza", "pusat perbelanjaan", "market")),
    ("home", ("rumah", "kunjungan rumah", "home", "home visit")),
    ("office", ("kelurahan", "desa", "kecamatan", "camat", "lurah")),
)


@functools.lru_cache(maxsize=4096)  # a file repeats a handful of kind words thousands of times
def parse_kind(value: str) -> tuple[str, bool]:
    """Map a kind cell to a canonical kind.

    Returns ``(kind, known)``; an empty cell is ``("other", True)`` and an unrecognised one is
    ``("other", False)`` so the caller can warn. Canonical English values are accepted as they are.
    """
    key = normalise_name(value.replace("_", " "))
    if not key:
        return "other", True
    canonical = key.replace(" ", "_")
    if canonical in KINDS:
        return canonical, True
    padded = f" {key} "
    for kind, phrases in _KIND_RULES:
        if any(f" {phrase} " in padded for phrase in phrases):
            return kind, True
    return "other", False


_KELURAHAN_CODE = re.compile(r"^([0-9]{2})\.?([0-9]{2})\.?([0-9]{2})\.?([0-9]{4})$")
_KECAMATAN_CODE = re.compile(r"^([0-9]{2})\.?([0-9]{2})\.?([0-9]{2})$")


def parse_kelurahan_code(value: str) -> str | None:
    """Return the dotted kelurahan/desa code (``12.71.01.1001``) or ``None`` if malformed.

    The dots are optional on input (``1271011001`` is accepted); ASCII digits only.
    """
    match = _KELURAHAN_CODE.match(value)
    return ".".join(match.groups()) if match else None


def parse_kecamatan_code(value: str) -> str | None:
    """Return the dotted kecamatan code (``12.71.01``) or ``None`` if malformed."""
    match = _KECAMATAN_CODE.match(value)
    return ".".join(match.groups()) if match else None
