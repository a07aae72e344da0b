"""A seeded, deterministic Kota Medan demo: a named catalogue of offices, areas, sites and teams.

Used by ``flask seed-demo``, by the tests and by the benchmarks. The catalogue functions
(``demo_kelurahan``, ``demo_hotspot_specs``, ``demo_team_specs``, ...) are pure: the same seed
gives the same specs, so tests and benchmarks can rely on exact data. Only :func:`seed_demo`
touches the database, and only the demo users' passwords are random (``secrets``): demo data is
predictable, logins are not.

The 21 kecamatan and their codes are real (see :mod:`outreach.gazetteer`); the kelurahan are
synthetic except Pasar Baru (12.71.01.1001), and every site is invented. No person appears in
the demo: home visits are named after the street, never after a resident.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .gazetteer import KOTA_MEDAN, MEDAN_KECAMATAN, MEDAN_KELURAHAN
from .models import (
    ExceptionKind,
    Hotspot,
    HotspotDemand,
    HotspotKind,
    HotspotOpening,
    Office,
    Role,
    Service,
    Team,
    TeamException,
    TeamWeeklyShift,
    User,
    VehicleKind,
)

DEMO_SEED = 20261207
DEMO_OFFICE_NAME = "Dinas Kependudukan dan Pencatatan Sipil Kota Medan"
DEMO_TIMEZONE = "Asia/Jakarta"

# Official complaint channels of Ditjen Dukcapil (PRODUCT.md); stable keys, labelled in templates.
NATIONAL_COMPLAINT_CHANNELS: dict[str, str] = {
    "call_centre": "1500537",
    "whatsapp": "08118005373",
    "sms": "08118005373",
    "email": "callcenter@dukcapil.kemendagri.go.id",
    "facebook": "Ditjen Dukcapil",
    "x": "@ccdukcapil",
    "lapor": "https://www.lapor.go.id",
}

# Kelurahan per kecamatan (151 in total, as in Kota Medan); the names below are synthetic.
KELURAHAN_PER_KECAMATAN: dict[str, int] = {
    "12.71.01": 12,
    "12.71.02": 6,
    "12.71.03": 7,
    "12.71.04": 6,
    "12.71.05": 6,
    "12.71.06": 6,
    "12.71.07": 9,
    "12.71.08": 6,
    "12.71.09": 7,
    "12.71.10": 12,
    "12.71.11": 6,
    "12.71.12": 5,
    "12.71.13": 6,
    "12.71.14": 7,
    "12.71.15": 6,
    "12.71.16": 5,
    "12.71.17": 6,
    "12.71.18": 9,
    "12.71.19": 7,
    "12.71.20": 11,
    "12.71.21": 6,
}

# How many sites of each kind the demo has (150 in total).
HOTSPOTS_PER_KIND: dict[HotspotKind, int] = {
    HotspotKind.SCHOOL: 45,
    HotspotKind.OFFICE: 21,
    HotspotKind.HOSPITAL: 8,
    HotspotKind.SOCIAL_HOME: 8,
    HotspotKind.PRISON: 2,
    HotspotKind.MARKET: 10,
    HotspotKind.HOME: 40,
    HotspotKind.VILLAGE_HALL: 10,
    HotspotKind.OTHER: 6,
}

# Outer, less dense kecamatan (north coast and the southern edge) host the village halls.
OUTER_KECAMATAN = ("12.71.06", "12.71.07", "12.71.08", "12.71.12", "12.71.13", "12.71.21")


def hm(text: str) -> int:
    """Return minutes after midnight for ``"HH:MM"``."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WORKDAYS = (MON, TUE, WED, THU, FRI)
LUNCH = (hm("12:00"), hm("13:00"), "Istirahat")
FRIDAY_PRAYER = (hm("11:30"), hm("13:30"), "Sholat Jumat")


@dataclass(frozen=True)
class KelurahanSpec:
    """A (mostly synthetic) kelurahan with an approximate centre."""

    code: str
    name: str
    kecamatan_code: str
    kecamatan_name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class OfficeSpec:
    """A Dinas Dukcapil office."""

    name: str
    address: str
    lat: float
    lon: float
    timezone: str
    region_code: str
    card_stock: int
    complaint_channels: dict[str, str]


@dataclass(frozen=True)
class HotspotSpec:
    """One demo site. ``demand`` and ``openings`` are tuples so the spec is hashable."""

    external_code: str
    name: str
    kind: HotspotKind
    address: str
    lat: float
    lon: float
    kecamatan_code: str
    kecamatan_name: str
    kelurahan_code: str
    kelurahan_name: str
    priority: int
    demand: tuple[tuple[str, int], ...]  # (service, persons)
    openings: tuple[tuple[int, int, int], ...]  # (weekday, start_min, end_min)
    notes: str = ""

    @property
    def total_demand(self) -> int:
        return sum(n for _, n in self.demand)


@dataclass(frozen=True)
class ShiftSpec:
    """A weekday's working hours with breaks ``(start_min, end_min, label)``."""

    weekday: int
    start_min: int
    end_min: int
    breaks: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class TeamSpec:
    """A demo team and its weekly pattern."""

    name: str
    vehicle: VehicleKind
    kits: int
    services: tuple[str, ...]
    has_printer: bool
    cards_per_day: int
    weekly: tuple[ShiftSpec, ...]


@dataclass(frozen=True)
class ExceptionSpec:
    """A dated deviation from a team's weekly pattern."""

    team_name: str
    day: date
    kind: ExceptionKind
    start_min: int | None
    end_min: int | None
    breaks: tuple[tuple[int, int, str], ...]
    note: str


@dataclass(frozen=True)
class UserSpec:
    """A demo account (the password is made at seeding time, never here)."""

    username: str
    role: Role
    team_name: str | None


def demo_office() -> OfficeSpec:
    """Return the demo office: Dinas Dukcapil Kota Medan with a first tranche of blank cards."""
    return OfficeSpec(
        name=DEMO_OFFICE_NAME,
        address="Jl. Iskandar Muda, Medan Baru, Kota Medan",
        lat=3.5833,
        lon=98.6667,
        timezone=DEMO_TIMEZONE,
        region_code=KOTA_MEDAN.code,
        card_stock=4000,
        complaint_channels=dict(NATIONAL_COMPLAINT_CHANNELS),
    )


def _round(x: float) -> float:
    # Six decimals (~0.1 m): stable across platforms and databases.
    return round(x, 6)


def demo_kelurahan(seed: int = DEMO_SEED) -> tuple[KelurahanSpec, ...]:
    """Return the demo kelurahan of all 21 kecamatan, codes ``12.71.KK.1001`` upwards."""
    rng = random.Random(f"kelurahan:{seed}")
    real = {a.code: a for a in MEDAN_KELURAHAN}
    out: list[KelurahanSpec] = []
    for kec in MEDAN_KECAMATAN:
        base = kec.name.removeprefix("Medan ")
        for i in range(1, KELURAHAN_PER_KECAMATAN[kec.code] + 1):
            code = f"{kec.code}.{1000 + i}"
            if code in real:
                area = real[code]
                out.append(KelurahanSpec(code, area.name, kec.code, kec.name, area.lat, area.lon))
                continue
            lat = _round(kec.lat + rng.uniform(-0.012, 0.012))
            lon = _round(kec.lon + rng.uniform(-0.012, 0.012))
            out.append(KelurahanSpec(code, f"{base} {i:02d}", kec.code, kec.name, lat, lon))
    return tuple(out)


def _windows(days: tuple[int, ...], *spans: tuple[str, str]) -> list[tuple[int, int, int]]:
    return [(wd, hm(a), hm(b)) for wd in days for a, b in spans]


def _opening_hours(kind: HotspotKind, rng: random.Random) -> list[tuple[int, int, int]]:
    """Plausible opening windows per weekday for a kind of site."""
    if kind == HotspotKind.SCHOOL:
        hours = _windows((MON, TUE, WED, THU), ("07:30", "13:00"))
        hours += _windows((FRI,), ("07:30", "11:00"))
        if rng.random() < 0.5:  # six-day schools
            hours += _windows((SAT,), ("07:30", "12:00"))
        return hours
    if kind == HotspotKind.OFFICE:
        return _windows((MON, TUE, WED, THU), ("08:00", "16:00")) + _windows(
            (FRI,), ("08:00", "11:30"), ("13:30", "16:00")
        )
    if kind == HotspotKind.HOSPITAL:
        # Outside ward rounds and the patients' rest hour.
        return _windows(tuple(range(7)), ("09:00", "12:00"), ("14:00", "17:00"))
    if kind == HotspotKind.SOCIAL_HOME:
        return _windows((MON, TUE, WED, THU, FRI, SAT), ("09:00", "12:00"), ("13:00", "15:00"))
    if kind == HotspotKind.PRISON:
        return _windows((MON, TUE, WED, THU), ("09:00", "12:00"), ("13:00", "15:00")) + _windows(
            (FRI,), ("09:00", "11:00")
        )
    if kind == HotspotKind.MARKET:
        if rng.random() < 0.5:  # a mall: evenings on weekdays, all day at weekends
            return _windows(WORKDAYS, ("16:00", "21:00")) + _windows((SAT, SUN), ("10:00", "21:00"))
        return _windows(tuple(range(7)), ("06:00", "12:00"))  # a traditional market
    if kind == HotspotKind.HOME:
        return _windows((MON, TUE, WED, THU, FRI, SAT), ("09:00", "15:00"))
    if kind == HotspotKind.VILLAGE_HALL:
        # Residents work during the day: late afternoons and Saturdays.
        return _windows(WORKDAYS, ("15:00", "18:00")) + _windows((SAT,), ("08:00", "14:00"))
    return _windows(WORKDAYS, ("12:00", "13:00"), ("16:00", "17:30"))  # factory breaks/shift end


_SCHOOL_TYPES = (("SMA Negeri", 16), ("SMA Swasta", 10), ("SMK Negeri", 8), ("SMK Swasta", 5))
_STREETS = (
    "Jl. Merdeka",
    "Jl. Sisingamangaraja",
    "Jl. Gatot Subroto",
    "Jl. Sutomo",
    "Jl. Brigjend Katamso",
    "Jl. Asia",
    "Jl. Thamrin",
    "Jl. Ahmad Yani",
    "Jl. Letda Sujono",
    "Jl. Kapten Muslim",
    "Jl. Setia Budi",
    "Jl. Jamin Ginting",
    "Jl. Marelan Raya",
    "Jl. Yos Sudarso",
    "Jl. Pancing",
    "Jl. Denai",
)


def _demand(kind: HotspotKind, rng: random.Random) -> list[tuple[str, int]]:
    """Plausible persons per service for a kind of site."""
    rec, prn, birth, kia = (s.value for s in Service)
    if kind == HotspotKind.SCHOOL:
        students = rng.randint(50, 400)
        out = [(rec, students)]
        if rng.random() < 0.4:  # the school asks for cards printed on site
            out.append((prn, students))
        return out
    if kind == HotspotKind.OFFICE:
        return [(rec, rng.randint(20, 80)), (birth, rng.randint(5, 30)), (kia, rng.randint(10, 40))]
    if kind == HotspotKind.HOSPITAL:
        return [(rec, rng.randint(5, 30)), (birth, rng.randint(5, 25))]
    if kind == HotspotKind.SOCIAL_HOME:
        return [(rec, rng.randint(10, 60)), (kia, rng.randint(0, 20))]
    if kind == HotspotKind.MARKET:
        return [(rec, rng.randint(20, 80)), (kia, rng.randint(5, 20)), (birth, rng.randint(0, 10))]
    if kind == HotspotKind.HOME:
        persons = rng.randint(1, 2)
        return [(rec, persons), (prn, persons)]
    if kind == HotspotKind.VILLAGE_HALL:
        return [
            (rec, rng.randint(30, 120)),
            (birth, rng.randint(5, 30)),
            (kia, rng.randint(10, 40)),
        ]
    return [(rec, rng.randint(20, 100))]


_PRIORITY = {
    HotspotKind.SCHOOL: (2, 4),
    HotspotKind.OFFICE: (3, 4),
    HotspotKind.HOSPITAL: (1, 2),
    HotspotKind.SOCIAL_HOME: (1, 3),
    HotspotKind.PRISON: (2, 3),
    HotspotKind.MARKET: (4, 5),
    HotspotKind.HOME: (1, 2),
    HotspotKind.VILLAGE_HALL: (2, 3),
    HotspotKind.OTHER: (3, 5),
}


def _named_sites(kind: HotspotKind, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Return ``(name, notes)`` for ``count`` sites of ``kind``; all names are invented."""
    if kind == HotspotKind.SCHOOL:
        names: list[tuple[str, str]] = []
        for prefix, n in _SCHOOL_TYPES:
            names += [(f"{prefix} {i} Medan (demo)", "") for i in rng.sample(range(1, 41), n)]
        names += [(f"MA Negeri {i} Medan (demo)", "") for i in (1, 2, 3)]
        names += [
            ("SLB Negeri Autis Medan (demo)", "Siswa berkebutuhan khusus: sediakan waktu lebih."),
            ("SLB Karya Murni (demo)", "Siswa berkebutuhan khusus: sediakan waktu lebih."),
            ("SLB-B Kemala Bhayangkari (demo)", "Siswa tunarungu: bawa pendamping juru bahasa."),
        ]
        return names[:count]
    if kind == HotspotKind.OFFICE:
        return [("", "")] * count  # named after the kelurahan below
    if kind == HotspotKind.HOSPITAL:
        base = (
            "RSUD Dr. Pirngadi (demo)",
            "RSU Haji Medan (demo)",
            "RS Bhayangkara Medan (demo)",
            "RSUP Adam Malik (demo)",
            "RS Jiwa Prof. Ildrem (demo)",
            "RS Ibu dan Anak Stella Maris (demo)",
            "RS Martha Friska (demo)",
            "RS Murni Teguh (demo)",
        )
        return [(n, "Pasien rawat inap; koordinasi dengan bagian rekam medis.") for n in base][
            :count
        ]
    if kind == HotspotKind.SOCIAL_HOME:
        base = (
            "UPT Pelayanan Sosial Lanjut Usia Binjai-Medan (demo)",
            "Panti Jompo Karya Kasih (demo)",
            "Panti Asuhan Elim (demo)",
            "Panti Asuhan Al-Jamiyatul Washliyah (demo)",
            "Panti Sosial Bina Netra Tuna Netra (demo)",
            "Panti Werdha Guna Budi Bakti (demo)",
            "Panti Asuhan Putri Aisyiyah (demo)",
            "Rumah Singgah Disabilitas Medan (demo)",
        )
        return [(n, "") for n in base][:count]
    if kind == HotspotKind.PRISON:
        return [
            (
                "Lapas Kelas I Tanjung Gusta (demo)",
                "Izin Kanwil Kemenkumham; daftar WBP dari lapas.",
            ),
            ("Rutan Kelas I Medan (demo)", "Izin Kanwil Kemenkumham; daftar tahanan dari rutan."),
        ][:count]
    if kind == HotspotKind.MARKET:
        base = (
            "Pasar Petisah (demo)",
            "Pasar Sukaramai (demo)",
            "Pusat Pasar Medan (demo)",
            "Pasar Simpang Limun (demo)",
            "Pasar Marelan (demo)",
            "Mall Plaza Medan Fair (demo)",
            "Mall Sun Plaza (demo)",
            "Centre Point Mall (demo)",
            "Thamrin Plaza (demo)",
            "Manhattan Times Square (demo)",
        )
        return [(n, "Stan layanan; koordinasi dengan pengelola.") for n in base][:count]
    if kind == HotspotKind.HOME:
        return [("", "Warga lansia/terbaring sakit (permintaan kunjungan rumah).")] * count
    if kind == HotspotKind.VILLAGE_HALL:
        return [("", "Wilayah pinggiran; warga bekerja siang hari.")] * count
    base = (
        "Kawasan Industri Medan (demo)",
        "Pondok Pesantren Ar-Raudhatul Hasanah (demo)",
        "Terminal Amplas (demo)",
        "Pelabuhan Belawan (demo)",
        "Kampus Universitas (demo)",
        "Asrama Haji Medan (demo)",
    )
    return [(n, "") for n in base][:count]


def demo_hotspot_specs(seed: int = DEMO_SEED) -> tuple[HotspotSpec, ...]:
    """Return the demo sites: ~150 of every kind, spread over the 21 kecamatan.

    Parameters
    ----------
    seed
        Seed of the data generator; the same seed always gives the same tuple.
    """
    rng = random.Random(f"hotspots:{seed}")
    kelurahan = demo_kelurahan(seed)
    by_kec: dict[str, list[KelurahanSpec]] = {}
    for kel in kelurahan:
        by_kec.setdefault(kel.kecamatan_code, []).append(kel)
    kec_codes = [k.code for k in MEDAN_KECAMATAN]
    specs: list[HotspotSpec] = []
    seq = 0
    for kind, count in HOTSPOTS_PER_KIND.items():
        named = _named_sites(kind, count, rng)
        for i, (name, notes) in enumerate(named):
            # Kelurahan offices: one per kecamatan, so every kecamatan has at least one site.
            if kind == HotspotKind.OFFICE:
                kec_code = kec_codes[i % len(kec_codes)]
            elif kind == HotspotKind.VILLAGE_HALL:
                kec_code = OUTER_KECAMATAN[i % len(OUTER_KECAMATAN)]
            elif kind == HotspotKind.PRISON:
                kec_code = ("12.71.03", "12.71.09")[i % 2]  # Helvetia (Tanjung Gusta), Amplas
            else:
                kec_code = rng.choice(kec_codes)
            kel = rng.choice(by_kec[kec_code])
            street = rng.choice(_STREETS)
            number = rng.randint(1, 250)
            if kind == HotspotKind.OFFICE:
                name = f"Kantor Lurah {kel.name} (demo)"
            elif kind == HotspotKind.VILLAGE_HALL:
                name = f"Balai Pertemuan {kel.name} (demo)"
            elif kind == HotspotKind.HOME:
                # Named after the lane, never after a person.
                name = f"Kunjungan rumah {kel.name}, Gg. {rng.randint(1, 30)} (demo)"
            demand = _demand(kind, rng)
            if kind == HotspotKind.PRISON:
                # A Lapas holds a few thousand inmates; those without KTP-el are 100+.
                low, high = (150, 350) if i == 0 else (100, 200)
                demand = [(Service.KTP_RECORD.value, rng.randint(low, high))]
            lo, hi = _PRIORITY[kind]
            priority = rng.randint(lo, hi)
            if name.startswith("SLB"):
                priority = 1
            seq += 1
            specs.append(
                HotspotSpec(
                    external_code=f"DEMO-{seq:03d}",
                    name=name,
                    kind=kind,
                    address=f"{street} No. {number}, Kel. {kel.name}, Kec. {kel.kecamatan_name}",
                    lat=_round(kel.lat + rng.uniform(-0.004, 0.004)),
                    lon=_round(kel.lon + rng.uniform(-0.004, 0.004)),
                    kecamatan_code=kel.kecamatan_code,
                    kecamatan_name=kel.kecamatan_name,
                    kelurahan_code=kel.code,
                    kelurahan_name=kel.name,
                    priority=priority,
                    demand=tuple((s, n) for s, n in demand if n > 0),
                    openings=tuple(_opening_hours(kind, rng)),
                    notes=notes,
                )
            )
    return tuple(specs)


def demo_weekly_pattern() -> tuple[ShiftSpec, ...]:
    """Mon–Fri 08:00–16:00 with a lunch break; on Friday the long break for Friday prayer."""
    return tuple(
        ShiftSpec(wd, hm("08:00"), hm("16:00"), (FRIDAY_PRAYER,) if wd == FRI else (LUNCH,))
        for wd in WORKDAYS
    )


def demo_team_specs(seed: int = DEMO_SEED) -> tuple[TeamSpec, ...]:
    """Return the six demo teams: cars and motorbikes, one to three kits, some with printers."""
    rec, prn, birth, kia = (s.value for s in Service)
    weekly = demo_weekly_pattern()
    rows = (
        ("Tim 1 Medan Kota", VehicleKind.CAR, 2, (rec, prn, birth, kia), True, 150),
        ("Tim 2 Medan Utara", VehicleKind.CAR, 3, (rec, birth, kia), False, 0),
        ("Tim 3 Motor Gang", VehicleKind.MOTORBIKE, 1, (rec, kia), False, 0),
        ("Tim 4 Motor Rumah", VehicleKind.MOTORBIKE, 1, (rec, prn), True, 20),
        ("Tim 5 Sekolah", VehicleKind.CAR, 3, (rec, prn), True, 300),
        ("Tim 6 Rumah Sakit dan Panti", VehicleKind.CAR, 1, (rec, prn, birth), True, 50),
    )
    _ = seed  # fixed roster; the parameter keeps the catalogue's signature uniform
    return tuple(TeamSpec(n, v, k, s, p, c, weekly) for n, v, k, s, p, c in rows)


def demo_start_date(today: date) -> date:
    """Return the Monday on or after ``today``: the first day of the demo's two weeks."""
    return today + timedelta(days=(7 - today.weekday()) % 7)


def demo_exceptions(start: date) -> tuple[ExceptionSpec, ...]:
    """Return the demo's dated exceptions within the two weeks from ``start`` (a Monday)."""
    if start.weekday() != MON:
        raise ValueError(f"start must be a Monday, got {start.isoformat()}")
    return (
        ExceptionSpec(
            "Tim 2 Medan Utara", start + timedelta(days=2), ExceptionKind.LEAVE, None, None, (),
            "Cuti bersama tim (demo)",
        ),
        ExceptionSpec(
            "Tim 5 Sekolah", start + timedelta(days=5), ExceptionKind.EXTRA, hm("08:00"),
            hm("12:00"), (), "Sabtu tambahan untuk sekolah enam hari (demo)",
        ),
    )  # fmt: skip


def demo_user_specs() -> tuple[UserSpec, ...]:
    """One account per role; the field member belongs to the first team."""
    return (
        UserSpec("admin", Role.ADMIN, None),
        UserSpec("koordinator", Role.COORDINATOR, None),
        UserSpec("lapangan1", Role.FIELD, "Tim 1 Medan Kota"),
    )


def demo_password() -> str:
    """Return a fresh random password (never derived from the seed)."""
    return secrets.token_urlsafe(12)


def _today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


class DemoAlreadySeeded(RuntimeError):
    """The database already holds the demo office."""


def seed_demo(
    session: Session,
    *,
    seed: int = DEMO_SEED,
    start: date | None = None,
    commit: bool = True,
) -> dict[str, Any]:
    """Insert the Kota Medan demo and return what was made, including the demo logins.

    Parameters
    ----------
    session
        The SQLAlchemy session (``db.session`` in the app).
    seed
        Seed of the catalogue; the default gives the documented demo.
    start
        First day of the two weeks of availability (a Monday); default: the Monday on or
        after today in the office's time zone.
    commit
        Commit at the end (the default); otherwise only flush, and the caller commits.

    Returns
    -------
    dict
        ``{"office_id", "office", "start", "kecamatan", "kelurahan", "hotspots", "teams",
        "users": [{"username", "role", "team", "password"}]}``. The passwords exist nowhere
        else in clear text: print them once.

    Raises
    ------
    DemoAlreadySeeded
        If the demo office is already in the database.
    """
    spec = demo_office()
    if session.scalar(sa.select(Office.id).where(Office.name == spec.name)) is not None:
        raise DemoAlreadySeeded("the demo office already exists")
    start = start or demo_start_date(_today_in(spec.timezone))

    office = Office(
        name=spec.name,
        address=spec.address,
        lat=spec.lat,
        lon=spec.lon,
        timezone=spec.timezone,
        region_code=spec.region_code,
        card_stock=spec.card_stock,
        complaint_channels=dict(spec.complaint_channels),
        slug="kota-medan",
        phone="(061) 555-0100",
        whatsapp="0811-555-0100",
        email="dukcapil@example.go.id",
        opening_hours="Senin–Jumat 08.00–15.00 WIB",
    )
    session.add(office)

    hotspots = demo_hotspot_specs(seed)
    for hs in hotspots:
        row = Hotspot(
            office=office,
            external_code=hs.external_code,
            name=hs.name,
            kind=hs.kind,
            address=hs.address,
            lat=hs.lat,
            lon=hs.lon,
            location_source="demo",
            kecamatan_code=hs.kecamatan_code,
            kecamatan_name=hs.kecamatan_name,
            kelurahan_code=hs.kelurahan_code,
            kelurahan_name=hs.kelurahan_name,
            priority=hs.priority,
            notes=hs.notes,
        )
        row.demands = [HotspotDemand(service=s, requested=n, remaining=n) for s, n in hs.demand]
        row.openings = [
            HotspotOpening(weekday=w, start_min=a, end_min=b) for w, a, b in hs.openings
        ]
        session.add(row)

    teams: dict[str, Team] = {}
    for ts in demo_team_specs(seed):
        team = Team(
            office=office,
            name=ts.name,
            vehicle=ts.vehicle,
            kits=ts.kits,
            services=list(ts.services),
            has_printer=ts.has_printer,
            cards_per_day=ts.cards_per_day,
        )
        team.weekly_shifts = [
            TeamWeeklyShift(
                weekday=s.weekday,
                start_min=s.start_min,
                end_min=s.end_min,
                breaks=[list(b) for b in s.breaks],
            )
            for s in ts.weekly
        ]
        session.add(team)
        teams[ts.name] = team
    for ex in demo_exceptions(start):
        teams[ex.team_name].exceptions.append(
            TeamException(
                day=ex.day,
                kind=ex.kind,
                start_min=ex.start_min,
                end_min=ex.end_min,
                breaks=[list(b) for b in ex.breaks],
                note=ex.note,
            )
        )

    session.flush()  # ids for the users' office
    users: list[dict[str, Any]] = []
    for us in demo_user_specs():
        password = demo_password()
        user = User(
            username=us.username,
            role=us.role,
            team=teams[us.team_name] if us.team_name else None,
            office_id=office.id,
        )
        user.set_password(password)
        session.add(user)
        users.append(
            {
                "username": us.username,
                "role": us.role.value,
                "team": us.team_name,
                "password": password,
            }
        )

    session.flush()
    result = {
        "office_id": office.id,
        "office": office.name,
        "start": start,
        "kecamatan": len({h.kecamatan_code for h in hotspots}),
        "kelurahan": len(demo_kelurahan(seed)),
        "hotspots": len(hotspots),
        "teams": len(teams),
        "users": users,
    }
    if commit:
        session.commit()
    return result
