"""A small published plan with hostile names, built straight through the models."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.extensions import db
from outreach.models import HotspotKind, StopStatus
from tests.factories import make_hotspot, make_office, make_plan, make_route, make_stop, make_team

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+6281200000000",
    "@SUM(1)",
    "\t=1",
    "-2+3",
    "\r=cmd|' /C calc'!A0",
]


@pytest.fixture
def plan_setup(app):
    """Plan with two teams on two days; hostile names on team A's first day and team B."""
    office = make_office(timezone="Asia/Jakarta")
    team_a = make_team(office, name="Tim Anggrek")
    team_b = make_team(office, name="=Tim Bahaya")
    plan = make_plan(office, name="Rencana Desember")
    day1 = plan.start_date
    day2 = day1 + timedelta(days=1)
    route_a1 = make_route(plan, team_a, day1)
    route_a2 = make_route(plan, team_a, day2)
    route_b1 = make_route(plan, team_b, day1)
    hostile = [
        make_hotspot(office, name=name, kecamatan_name="@Kec", kelurahan_name="Pasar Baru")
        for name in HOSTILE
    ]
    for hs in hostile:
        make_stop(route_a1, hs)
    quoted = make_hotspot(
        office, name='SMA "Satu", Medan\nKampus 2', address="Jl. Sisingamangaraja"
    )
    make_stop(route_a2, quoted, persons={"ktp_record": 120, "kia": 4}, cards=30, locked=True)
    home = make_hotspot(
        office,
        name="Rumah Ibu Siti Aminah",
        kind=HotspotKind.HOME,
        address="Jl. Mawar No. 7",
        kelurahan_name="Sei Rengas",
        kecamatan_name="Medan Area",
        notes="lumpuh",
    )
    make_stop(route_a2, home, persons={"ktp_record": 1})
    xss = make_hotspot(office, name="<script>alert(1)</script> & \x07bell", kind=HotspotKind.MARKET)
    make_stop(route_b1, xss)
    make_stop(route_b1, make_hotspot(office, name="Pasar Petisah"), status=StopStatus.CANCELLED)
    db.session.commit()
    return {
        "plan": plan,
        "office": office,
        "team_a": team_a,
        "team_b": team_b,
        "route_a1": route_a1,
        "route_a2": route_a2,
        "route_b1": route_b1,
        "home": home,
    }
