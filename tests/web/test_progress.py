"""Today's field progress on the coordinator dashboard, and its JSON refresh."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from outreach.coordinator import progress
from outreach.extensions import db
from outreach.models import (
    HotspotStatus,
    OutcomeResult,
    PlanStatus,
    Role,
    StopStatus,
    VisitOutcome,
)
from tests.factories import (
    login,
    make_checkin,
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
    monday,
)

DAY = monday()
# Monday 7 December 2026, 10:00 WIB (03:00 UTC). Stops start 08:30, 09:45, 11:00, 12:15 WIB.
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def wib(hour: int, minute: int = 0, day=DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def published_plan(office, **kw):
    return make_plan(
        office,
        status=PlanStatus.PUBLISHED,
        published_version=1,
        published_at=kw.pop("published_at", wib(7)),
        start_date=kw.pop("start_date", DAY),
        **kw,
    )


def outcome(stop, result: OutcomeResult, *, day=None, team_id=None, **kw) -> VisitOutcome:
    recorded = kw.pop("recorded", {})
    row = VisitOutcome(
        client_uuid=str(uuid.uuid4()),
        stop_id=stop.id if stop is not None else None,
        hotspot_id=kw.pop("hotspot_id", stop.hotspot_id if stop is not None else None),
        team_id=team_id or stop.route.team_id,
        day=day or stop.route.day,
        result=result,
        recorded=recorded,
        present=kw.pop("present", sum(recorded.values())),
        **kw,
    )
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def field_day(app):
    """Office A on Monday 10:00: team 1 served its first stop and is at its second; team 2
    missed its 08:30 start, could not serve its second stop (kit broken) and has a
    cancelled third. Team 3 has only an unpublished route today."""
    office = make_office(name="Dinas Dukcapil Kota A")
    t1 = make_team(office, name="Tim Satu")
    t2 = make_team(office, name="Tim Dua")
    t3 = make_team(office, name="Tim Tiga")
    plan = published_plan(office)
    r1, r2 = make_route(plan, t1, DAY), make_route(plan, t2, DAY)
    s1 = [make_stop(r1) for _ in range(4)]
    s2 = [make_stop(r2) for _ in range(3)]
    make_checkin(s1[0], wib(8, 25))
    outcome(
        s1[0],
        OutcomeResult.SERVED,
        recorded={"ktp_record": 30, "kia": 4},
        present=36,
        turned_away=2,
        cards_carried=10,
        cards_used=6,
    )
    make_checkin(s1[1], wib(9, 50))
    failed = outcome(s2[1], OutcomeResult.NOT_SERVED, problems=["kit_broken", "no_power"])
    s2[2].status = StopStatus.CANCELLED
    draft = make_plan(office, status=PlanStatus.SOLVED, start_date=DAY)
    make_stop(make_route(draft, t3, DAY))
    # Older "could not serve" outcomes: one too old, one whose site is done, one archived.
    old = make_hotspot(office, name="SMA Lama")
    done = make_hotspot(office, name="SMA Selesai")
    for d in done.demands:
        d.remaining = 0
    gone = make_hotspot(office, name="SMA Diarsipkan", status=HotspotStatus.ARCHIVED)
    recent = make_hotspot(office, name="SLB Tiga Belas Hari Lalu")
    for hotspot, team, days_ago in ((old, t1, 14), (done, t1, 2), (gone, t1, 1), (recent, t2, 13)):
        outcome(
            None,
            OutcomeResult.NOT_SERVED,
            hotspot_id=hotspot.id,
            team_id=team.id,
            day=DAY - timedelta(days=days_ago),
        )
    db.session.commit()
    return {
        "office": office,
        "teams": (t1, t2, t3),
        "failed": failed,
        "s1": s1,
        "s2": s2,
        "recent": recent,
    }


def test_progress_counts_each_teams_stops_at_a_fixed_now(field_day):
    """Done, not served, checked in, pending and late per team with a published route."""
    p = progress.office_progress(field_day["office"], now=NOW)
    assert p.day == DAY and p.grace_minutes == 30
    by_name = {t.team_name: t for t in p.teams}
    assert set(by_name) == {"Tim Satu", "Tim Dua"}
    one, two = by_name["Tim Satu"], by_name["Tim Dua"]
    assert (one.stops_total, one.done, one.not_served, one.checked_in, one.pending, one.late) == (
        4,
        1,
        0,
        1,
        2,
        0,
    )
    assert one.last_checkin_at == wib(9, 50)
    assert one.current_site == field_day["s1"][1].hotspot.name
    assert two.next_site == field_day["s2"][0].hotspot.name
    assert (two.stops_total, two.done, two.not_served, two.checked_in, two.pending, two.late) == (
        2,
        0,
        1,
        0,
        1,
        1,
    )
    assert two.last_checkin_at is None


def test_late_uses_the_grace_minutes(field_day, app):
    """08:30 start + 90 minutes is 10:00: not yet late at 10:00, late a minute later; the
    grace comes from FIELD_LATE_GRACE_MINUTES."""
    office = field_day["office"]
    two = lambda p: next(t for t in p.teams if t.team_name == "Tim Dua")  # noqa: E731
    assert two(progress.office_progress(office, now=NOW, grace=90)).late == 0
    assert two(progress.office_progress(office, now=NOW + timedelta(minutes=1), grace=90)).late == 1
    app.config["FIELD_LATE_GRACE_MINUTES"] = 120
    assert two(progress.office_progress(office, now=NOW)).late == 0


def test_progress_totals_of_the_day(field_day):
    """Persons per service, cards used, turned away and stops done of all stops today."""
    t = progress.office_progress(field_day["office"], now=NOW).totals
    assert t.persons == {"ktp_record": 30, "kia": 4}
    assert (t.cards_used, t.turned_away, t.stops_done, t.stops_total) == (6, 2, 1, 6)
    assert t.stops_not_served == 1 and t.outcomes == 2


def test_not_served_candidates_of_the_last_two_weeks_with_demand_left(field_day):
    """Today's failed visit and one 13 days ago; not 14 days ago, a finished or an
    archived site."""
    rows = progress.office_progress(field_day["office"], now=NOW).not_served
    assert [r.hotspot_id for r in rows] == [
        field_day["failed"].hotspot_id,
        field_day["recent"].id,
    ]
    assert rows[0].problems == ["kit_broken", "no_power"] and rows[0].team_name == "Tim Dua"
    assert rows[0].day == DAY and rows[0].remaining == 40


def test_a_later_publication_wins_for_the_same_team_day(field_day):
    """Two published plans with a route of the same team today: the newest one counts."""
    office = field_day["office"]
    t1 = field_day["teams"][0]
    newer = published_plan(office, published_at=wib(7, 30))
    make_stop(make_route(newer, t1, DAY))
    db.session.commit()
    one = next(
        t for t in progress.office_progress(office, now=NOW).teams if t.team_name == "Tim Satu"
    )
    assert one.plan_id == newer.id and one.stops_total == 1


def test_progress_is_empty_on_a_day_without_routes(field_day):
    """The day after: no route, no totals; yesterday's failed visit stays a candidate, the
    one of 13 days ago is now 14 days old and drops out."""
    p = progress.office_progress(field_day["office"], now=NOW + timedelta(days=1))
    assert p.teams == [] and p.totals.stops_total == 0 and p.totals.persons == {}
    assert [r.outcome_id for r in p.not_served] == [field_day["failed"].id]


# -- the dashboard and the JSON -------------------------------------------------------------


@pytest.fixture
def today_in_a(app):
    """Office A with a published route and a failed visit on the real today; office B empty."""
    a = make_office(name="Dinas A")
    b = make_office(name="Dinas B")
    today = progress.office_today(a)
    team = make_team(a, name="Tim A")
    plan = published_plan(a, start_date=today, published_at=datetime.now(UTC))
    route = make_route(plan, team, today)
    stops = [make_stop(route) for _ in range(2)]
    outcome(stops[0], OutcomeResult.NOT_SERVED, problems=["site_closed"])
    coord_a = make_user(Role.COORDINATOR, office_id=a.id)
    coord_b = make_user(Role.COORDINATOR, office_id=b.id)
    db.session.commit()
    return {"a": a, "b": b, "coord_a": coord_a, "coord_b": coord_b, "stops": stops}


def test_progress_json_shows_the_own_office(client, today_in_a):
    """A coordinator of office A sees A's team, totals and failed visit."""
    login(client, today_in_a["coord_a"])
    resp = client.get("/coord/progress.json")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    data = resp.get_json()
    assert [t["team_name"] for t in data["teams"]] == ["Tim A"]
    assert data["totals"]["stops_total"] == 2
    assert [n["hotspot_id"] for n in data["not_served"]] == [today_in_a["stops"][0].hotspot_id]
    assert data["not_served"][0]["problems"] == ["site_closed"]
    assert data["not_served"][0]["problem_labels"][0]


def test_progress_json_of_another_office_shows_nothing_of_office_a(client, today_in_a):
    """A coordinator of office B sees nothing of office A."""
    login(client, today_in_a["coord_b"])
    data = client.get("/coord/progress.json").get_json()
    assert data["teams"] == [] and data["not_served"] == []
    assert data["totals"]["stops_total"] == 0 and data["totals"]["outcomes"] == 0
    assert b"Tim A" not in client.get("/coord/progress.json").data


def test_progress_json_is_for_coordinators_only(client, today_in_a):
    """A field member is refused; a visitor is sent to the login page."""
    assert client.get("/coord/progress.json").status_code in (302, 401)
    member = make_user(Role.FIELD, team=make_team(today_in_a["a"]))
    db.session.commit()
    login(client, member)
    assert client.get("/coord/progress.json").status_code == 403


def test_dashboard_shows_the_live_block_and_its_script(client, today_in_a):
    """The dashboard renders today's progress and loads the refresh script (no inline JS)."""
    login(client, today_in_a["coord_a"])
    page = client.get("/coord/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="live-progress"' in html and "/coord/progress.json" in html
    assert "js/dashboard-progress.js" in html
    assert "Tim A" in html and today_in_a["stops"][0].hotspot.name in html
