"""The Kota Medan demo catalogue: deterministic data, plausible demand, random passwords."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa

from outreach.demo import (
    DEMO_OFFICE_NAME,
    HOTSPOTS_PER_KIND,
    NATIONAL_COMPLAINT_CHANNELS,
    DemoAlreadySeeded,
    demo_exceptions,
    demo_hotspot_specs,
    demo_kelurahan,
    demo_start_date,
    demo_team_specs,
    demo_weekly_pattern,
    seed_demo,
)
from outreach.extensions import db
from outreach.gazetteer import MEDAN_KECAMATAN
from outreach.models import (
    ExceptionKind,
    Hotspot,
    HotspotDemand,
    HotspotKind,
    Office,
    Role,
    Service,
    Team,
    User,
    VehicleKind,
)

MONDAY = date(2026, 12, 7)


def test_catalogue_is_deterministic():
    """Two runs with the same seed give identical specs; another seed gives different ones."""
    assert demo_hotspot_specs() == demo_hotspot_specs()
    assert demo_kelurahan() == demo_kelurahan()
    assert demo_team_specs() == demo_team_specs()
    assert demo_hotspot_specs(seed=1) != demo_hotspot_specs()


def test_all_21_kecamatan_codes_are_used():
    """The demo spreads sites over exactly the 21 real kecamatan 12.71.01–12.71.21."""
    codes = {h.kecamatan_code for h in demo_hotspot_specs()}
    assert codes == {f"12.71.{i:02d}" for i in range(1, 22)}
    assert codes == {k.code for k in MEDAN_KECAMATAN}


def test_kelurahan_codes_and_the_real_pasar_baru():
    """151 kelurahan with codes under their kecamatan; 12.71.01.1001 is the real Pasar Baru."""
    kel = demo_kelurahan()
    assert len(kel) == 151
    assert len({k.code for k in kel}) == 151
    assert all(k.code.startswith(k.kecamatan_code + ".1") for k in kel)
    first = next(k for k in kel if k.code == "12.71.01.1001")
    assert (first.name, first.kecamatan_name) == ("Pasar Baru", "Medan Kota")


def test_every_kind_in_planned_numbers():
    """About 150 sites, every HotspotKind present in the documented numbers."""
    specs = demo_hotspot_specs()
    assert len(specs) == 150
    counts = Counter(h.kind for h in specs)
    assert set(counts) == set(HotspotKind)
    assert counts == Counter(HOTSPOTS_PER_KIND)
    assert len({h.external_code for h in specs}) == len(specs)


def test_demand_is_plausible_per_kind():
    """Schools 50–400 students, homes 1–2 persons, a prison 100+, priorities 1–5."""
    for h in demo_hotspot_specs():
        demand = dict(h.demand)
        rec = demand[Service.KTP_RECORD.value]
        assert 1 <= h.priority <= 5
        assert all(n > 0 for n in demand.values())
        assert set(demand) <= {s.value for s in Service}
        if h.kind == HotspotKind.SCHOOL:
            assert 50 <= rec <= 400
        if h.kind == HotspotKind.HOME:
            assert 1 <= rec <= 2
            assert h.priority <= 2
    prisons = [h for h in demo_hotspot_specs() if h.kind == HotspotKind.PRISON]
    assert max(dict(p.demand)[Service.KTP_RECORD.value] for p in prisons) >= 100


def test_opening_hours_follow_the_local_week():
    """Schools 07:30–13:00, offices split on Friday for prayer, malls open evenings/weekends."""
    specs = demo_hotspot_specs()
    school = next(h for h in specs if h.kind == HotspotKind.SCHOOL)
    assert (0, 450, 780) in school.openings
    office = next(h for h in specs if h.kind == HotspotKind.OFFICE)
    assert [(a, b) for wd, a, b in office.openings if wd == 4] == [(480, 690), (810, 960)]
    assert {wd for wd, _, _ in office.openings} == {0, 1, 2, 3, 4}
    malls = [h for h in specs if h.kind == HotspotKind.MARKET and (6, 600, 1260) in h.openings]
    assert malls, "at least one mall open on Sunday 10:00–21:00"
    for h in specs:
        assert all(0 <= a < b <= 1440 and 0 <= wd <= 6 for wd, a, b in h.openings)


def test_home_visits_never_name_a_person():
    """Home-visit sites are named after the lane, with the '(demo)' marker."""
    homes = [h for h in demo_hotspot_specs() if h.kind == HotspotKind.HOME]
    assert homes and all(h.name.startswith("Kunjungan rumah ") for h in homes)


def test_teams_mix_vehicles_kits_and_printers():
    """Six teams: cars and motorbikes, 1–3 kits, printers on some, Friday prayer break."""
    teams = demo_team_specs()
    assert len(teams) == 6
    assert {t.vehicle for t in teams} == {VehicleKind.CAR, VehicleKind.MOTORBIKE}
    assert {t.kits for t in teams} == {1, 2, 3}
    assert any(t.has_printer for t in teams) and not all(t.has_printer for t in teams)
    for t in teams:
        if Service.KTP_PRINT.value in t.services:
            assert t.has_printer and t.cards_per_day > 0
    friday = next(s for s in demo_weekly_pattern() if s.weekday == 4)
    assert (690, 810, "Sholat Jumat") in friday.breaks


def test_exceptions_fall_in_the_two_weeks():
    """One leave day and one extra Saturday, both within 14 days of the start Monday."""
    exc = demo_exceptions(MONDAY)
    kinds = Counter(e.kind for e in exc)
    assert kinds == Counter({ExceptionKind.LEAVE: 1, ExceptionKind.EXTRA: 1})
    assert all(0 <= (e.day - MONDAY).days < 14 for e in exc)
    extra = next(e for e in exc if e.kind == ExceptionKind.EXTRA)
    assert extra.day.weekday() == 5
    with pytest.raises(ValueError, match="Monday"):
        demo_exceptions(date(2026, 12, 8))


def test_start_date_is_the_next_monday():
    """The two weeks start on the Monday on or after today."""
    assert demo_start_date(MONDAY) == MONDAY
    assert demo_start_date(date(2026, 12, 8)) == date(2026, 12, 14)
    assert demo_start_date(date(2026, 12, 13)) == date(2026, 12, 14)


def test_seed_demo_fills_the_database(app):
    """seed_demo stores the catalogue: office with stock and channels, sites, teams, users."""
    result = seed_demo(db.session, start=MONDAY)
    assert result["hotspots"] == 150 and result["teams"] == 6
    assert result["kecamatan"] == 21 and result["kelurahan"] == 151
    office = db.session.scalar(sa.select(Office))
    assert office.name == DEMO_OFFICE_NAME
    assert office.card_stock == 4000 and office.timezone == "Asia/Jakarta"
    assert office.complaint_channels == NATIONAL_COMPLAINT_CHANNELS
    assert db.session.scalar(sa.select(sa.func.count(Hotspot.id))) == 150
    mismatched = db.session.scalar(
        sa.select(sa.func.count(HotspotDemand.id)).where(
            HotspotDemand.remaining != HotspotDemand.requested
        )
    )
    assert mismatched == 0
    team = db.session.scalar(sa.select(Team).where(Team.name == "Tim 2 Medan Utara"))
    assert len(team.weekly_shifts) == 5
    assert [e.kind for e in team.exceptions] == [ExceptionKind.LEAVE]
    roles = {u.role for u in db.session.scalars(sa.select(User))}
    assert roles == {Role.ADMIN, Role.COORDINATOR, Role.FIELD}


def test_seed_demo_passwords_are_random_and_work(app):
    """Each demo login gets a fresh random password that verifies; hashes are scrypt."""
    result = seed_demo(db.session, start=MONDAY)
    users = {u["username"]: u for u in result["users"]}
    assert {u["role"] for u in users.values()} == {"admin", "coordinator", "field"}
    passwords = [u["password"] for u in users.values()]
    assert len(set(passwords)) == 3 and all(len(p) >= 12 for p in passwords)
    for row in db.session.scalars(sa.select(User)):
        assert row.pw_hash.startswith("scrypt:")
        assert row.check_password(users[row.username]["password"])
    field = db.session.scalar(sa.select(User).where(User.role == Role.FIELD))
    assert field.team.name == users[field.username]["team"]


def test_seed_demo_twice_is_refused(app):
    """Seeding again raises instead of duplicating the demo."""
    seed_demo(db.session, start=MONDAY)
    with pytest.raises(DemoAlreadySeeded):
        seed_demo(db.session, start=MONDAY)
