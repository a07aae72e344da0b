"""A plan cannot start in the past, and today's routes start from now, not from 08:00.

"Now" is fixed in every test: ``create_plan(now=...)`` or the app config's ``PLANNING_NOW``
(read by :func:`outreach.plans.adapter.planning_now`, which the solve job uses), so nothing
here depends on the real date or time of day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from outreach.auth.sessions import start_session
from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import Plan, PlanStatus, Role, StopStatus
from outreach.planning import Break, Shift, check
from outreach.plans import adapter, service
from tests.factories import make_hotspot, make_office, make_team, make_user, monday

WIB = ZoneInfo("Asia/Jakarta")
MON = monday()  # 7 December 2026, a working day for the factory teams (08:00-16:00)
TUE = MON + timedelta(days=1)
MON_10_17 = datetime(2026, 12, 7, 10, 17, tzinfo=WIB)


def local(dt: datetime) -> datetime:
    value = adapter.aware(dt)
    assert value is not None
    return value.astimezone(WIB)


def plan_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Plan.id)))


@pytest.fixture
def busy_office(app):
    """Two teams and more residents than one day holds, so the plan uses both days."""
    office = make_office()
    teams = [make_team(office), make_team(office)]
    hotspots = [make_hotspot(office, demand={"ktp_record": 60}) for _ in range(10)]
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    return {"office": office, "teams": teams, "hotspots": hotspots, "user": user}


def solve(app, data, now: datetime, start: date = MON, end: date = TUE) -> Plan:
    """Create and solve (inline) a plan with "now" fixed at ``now``."""
    app.config["PLANNING_NOW"] = now.isoformat()
    plan = service.create_plan(
        data["office"],
        data["user"],
        name="Mulai hari ini",
        start_date=start,
        end_date=end,
        time_limit_s=1,
    )
    service.start_solve(plan, data["user"])
    db.session.refresh(plan)
    assert plan.status == PlanStatus.SOLVED, plan.violations
    return plan


# ------------------------------------------------------------------ a past start date


def test_service_refuses_a_start_date_before_today(office_data):
    """Yesterday (office time) is refused with a field error naming start_date; nothing is
    stored. Today is accepted."""
    before = plan_count()
    with pytest.raises(service.PlanError) as exc:
        service.create_plan(
            office_data["office"],
            office_data["user"],
            name="Kemarin",
            start_date=MON - timedelta(days=1),
            end_date=TUE,
            now=MON_10_17,
        )
    details = exc.value.details
    assert [d["field"] for d in details] == ["start_date"]
    assert "sudah lewat" in details[0]["message"] and MON.isoformat() in details[0]["message"]
    assert plan_count() == before
    plan = service.create_plan(
        office_data["office"],
        office_data["user"],
        name="Hari ini",
        start_date=MON,
        end_date=TUE,
        now=MON_10_17,
    )
    assert plan.start_date == MON and plan.status == PlanStatus.DRAFT


def test_today_is_the_office_date_not_the_utc_date(office_data):
    """At 01:00 WIB on Monday it is still Sunday in UTC: Sunday is already past, Monday is
    today."""
    early = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)  # Monday 01:00 WIB
    with pytest.raises(service.PlanError) as exc:
        service.create_plan(
            office_data["office"],
            None,
            name="Minggu",
            start_date=MON - timedelta(days=1),
            end_date=MON,
            now=early,
        )
    assert [d["field"] for d in exc.value.details] == ["start_date"]
    assert service.create_plan(
        office_data["office"], None, name="Senin", start_date=MON, end_date=MON, now=early
    ).id


def test_past_start_and_other_errors_are_reported_together(office_data):
    """A past start date is one field error among the others."""
    with pytest.raises(service.PlanError) as exc:
        service.create_plan(
            office_data["office"],
            None,
            name="",
            start_date=MON - timedelta(days=3),
            end_date=MON - timedelta(days=4),
            now=MON_10_17,
        )
    assert {d["field"] for d in exc.value.details} == {"name", "start_date", "end_date"}


def test_web_form_refuses_a_past_start_date(app, client, office_data):
    """The plan form re-shows itself (422) with the start date's message; no plan is made."""
    app.config["PLANNING_NOW"] = MON_10_17.isoformat()
    with client.application.test_request_context():
        token = start_session(office_data["user"])
        db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True
    before = plan_count()
    resp = client.post(
        "/coord/plans/new",
        data={
            "name": "Rencana lewat",
            "start_date": (MON - timedelta(days=1)).isoformat(),
            "end_date": TUE.isoformat(),
            "team_ids": [str(t.id) for t in office_data["teams"]],
            "time_limit_s": "1",
        },
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Tanggal mulai 2026-12-06 sudah lewat" in page
    assert plan_count() == before


def test_api_refuses_a_past_start_date(app, client, office_data):
    """POST /api/v1/plans with a past start date: 400 in the error shape naming start_date."""
    app.config["PLANNING_NOW"] = MON_10_17.isoformat()
    token = create_token(office_data["user"], "test")
    db.session.commit()
    before = plan_count()
    resp = client.post(
        "/api/v1/plans",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": "Rencana lewat",
            "start_date": (MON - timedelta(days=1)).isoformat(),
            "end_date": TUE.isoformat(),
            "time_limit_s": 1,
        },
    )
    assert resp.status_code == 400, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == "plan_invalid"
    assert [d["field"] for d in error["details"]] == ["start_date"]
    assert plan_count() == before


# ------------------------------------------------------------- today starts from now


def test_today_starts_from_now_and_later_days_from_the_shift_start(app, busy_office):
    """Solved at 10:17 WIB on Monday: no Monday stop (or route) before 10:20; Tuesday's
    routes start at the shift start (08:00); the checker accepts the plan, against the
    whole shifts (as stored plans are checked) and against the shifts from now."""
    plan = solve(app, busy_office, MON_10_17)
    monday_routes = [r for r in plan.routes if r.day == MON]
    tuesday_routes = [r for r in plan.routes if r.day == TUE]
    assert monday_routes and tuesday_routes
    for r in monday_routes:
        assert local(r.start_at).time() >= time(10, 20)
        assert r.stops and all(local(s.start_at).time() >= time(10, 20) for s in r.stops)
        assert all(local(s.arrival_at).time() >= time(10, 20) for s in r.stops)
    # Tuesday is not clipped: its routes leave at the shift start (the solver may leave a few
    # seconds later to arrive as a site opens).
    assert time(8, 0) <= min(local(r.start_at).time() for r in tuesday_routes) < time(8, 5)
    assert min(local(s.start_at).time() for r in tuesday_routes for s in r.stops) < time(10, 20)
    assert plan.violations == []
    stored = adapter.problem_for_plan(plan)
    assert check(stored.problem, adapter.result_from_plan(plan, stored)) == []
    from_now = adapter.problem_for_plan(plan, live_demand=True, now=MON_10_17)
    assert check(from_now.problem, adapter.result_from_plan(plan, from_now)) == []


def test_after_the_shift_end_there_is_no_route_today(app, busy_office):
    """Solved at 16:05 WIB on Monday (the shifts end at 16:00): no Monday route; Tuesday is
    planned as usual."""
    plan = solve(app, busy_office, datetime(2026, 12, 7, 16, 5, tzinfo=WIB))
    assert plan.routes and {r.day for r in plan.routes} == {TUE}
    assert plan.violations == []


def test_a_plan_starting_tomorrow_is_not_clipped(app, busy_office):
    """Solved on Sunday evening, a plan from Monday starts its routes at the shift start."""
    plan = solve(app, busy_office, datetime(2026, 12, 6, 21, 0, tzinfo=WIB))
    first = min(local(r.start_at).time() for r in plan.routes if r.day == MON)
    assert time(8, 0) <= first < time(8, 5)


# ----------------------------------------------------------------- the adapter parts


@pytest.mark.parametrize(
    ("now", "day", "hm"),
    [
        (datetime(2026, 12, 7, 10, 17, tzinfo=WIB), MON, (10, 20)),
        (datetime(2026, 12, 7, 10, 20, tzinfo=WIB), MON, (10, 20)),
        (datetime(2026, 12, 7, 10, 20, 1, tzinfo=WIB), MON, (10, 25)),
        (datetime(2026, 12, 7, 3, 17, tzinfo=UTC), MON, (10, 20)),
        (datetime(2026, 12, 6, 17, 1), MON, (0, 5)),  # naive = UTC: Monday 00:01 WIB
    ],
)
def test_local_now_rounds_up_to_five_minutes_in_the_office_zone(office_data, now, day, hm):
    assert adapter.local_now(office_data["office"], now) == (day, hm[0] * 3600 + hm[1] * 60)


def test_shift_from_keeps_what_is_left():
    """Clipping a shift: ended breaks go, a break under way keeps its rest, later ones stay."""
    h = 3600
    lunch = Break(12 * h, 13 * h, "Istirahat")
    flexible = Break(12 * h, 14 * h, "Makan", 3600)
    shift = Shift(MON, 8 * h, 16 * h, (lunch,))
    assert adapter.shift_from(shift, 7 * h) is shift
    assert adapter.shift_from(shift, 16 * h) is None
    assert adapter.shift_from(shift, 10 * h).breaks == (lunch,)
    assert adapter.shift_from(shift, 10 * h).start == 10 * h
    assert adapter.shift_from(shift, 13 * h).breaks == ()
    rest = adapter.shift_from(shift, 12 * h + 1200)
    assert rest.start == 12 * h + 1200 and rest.breaks == (
        Break(12 * h + 1200, 13 * h, "Istirahat"),
    )
    flex = adapter.shift_from(Shift(MON, 8 * h, 16 * h, (flexible,)), 12 * h + 1800).breaks[0]
    assert (flex.start, flex.end, flex.duration) == (12 * h + 1800, 14 * h, 3600)
    late = adapter.shift_from(Shift(MON, 8 * h, 16 * h, (flexible,)), 13 * h + 1800).breaks[0]
    assert (late.start, late.end, late.duration) == (13 * h + 1800, 14 * h, 1800)


def test_build_problem_from_now_drops_earlier_days(office_data):
    """A solve on Tuesday 10:17 of Monday-Wednesday: no Monday shift, Tuesday from 10:20
    (the Tuesday lunch break kept), Wednesday whole; without ``now`` every shift is whole."""
    office, teams = office_data["office"], office_data["teams"]
    wed = MON + timedelta(days=2)
    now = datetime(2026, 12, 8, 10, 17, tzinfo=WIB)
    team = adapter.build_problem(office, MON, wed, teams, [], now=now).problem.teams[0]
    assert team.shift_on(MON) is None
    assert team.shift_on(TUE).start == 10 * 3600 + 20 * 60
    assert [b.name for b in team.shift_on(TUE).breaks] == ["Istirahat"]
    assert team.shift_on(wed).start == 8 * 3600
    whole = adapter.build_problem(office, MON, wed, teams, []).problem.teams[0]
    assert [whole.shift_on(d).start for d in (MON, TUE, wed)] == [8 * 3600] * 3


def test_checks_of_a_stored_plan_use_the_whole_shifts(app, busy_office):
    """Checking a stored plan never clips: later in the day it is as valid as when solved."""
    plan = solve(app, busy_office, MON_10_17)
    app.config["PLANNING_NOW"] = datetime(2026, 12, 7, 15, 0, tzinfo=WIB).isoformat()
    built = adapter.problem_for_plan(plan)
    assert all(t.shift_on(MON).start == 8 * 3600 for t in built.problem.teams)
    assert service.validate(plan) == []
    live = adapter.problem_for_plan(plan, live_demand=True)
    assert all(t.shift_on(MON).start == 15 * 3600 for t in live.problem.teams)


def test_planning_now_reads_the_config(app):
    app.config["PLANNING_NOW"] = "2026-12-07T10:17:00+07:00"
    assert adapter.planning_now() == datetime(2026, 12, 7, 3, 17, tzinfo=UTC)
    app.config["PLANNING_NOW"] = datetime(2026, 12, 7, 3, 17)  # naive: UTC
    assert adapter.planning_now() == datetime(2026, 12, 7, 3, 17, tzinfo=UTC)
    app.config["PLANNING_NOW"] = None
    assert abs(adapter.planning_now() - datetime.now(UTC)) < timedelta(minutes=1)


# ------------------------------------------------------- editing today's route during the day


@pytest.fixture
def light_office(app):
    """One team and four small sites: one morning holds them all, with room to spare."""
    office = make_office()
    teams = [make_team(office)]
    hotspots = [make_hotspot(office, demand={"ktp_record": 8}) for _ in range(4)]
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    return {"office": office, "teams": teams, "hotspots": hotspots, "user": user}


def _route_on(plan: Plan, day: date):
    """The plan's one route on ``day`` (it has every stop), its stops in order."""
    (route,) = [r for r in plan.routes if r.day == day]
    assert len(route.stops) == 4
    return route, sorted(route.stops, key=lambda s: s.position)


def test_editing_todays_route_reschedules_the_rest_from_now(app, light_office):
    """Solved at 07:00 on Monday; at 11:02 the team has made its first stop (done) and the
    coordinator drops the last one. The stop made keeps its times and stays first; the next
    stop is reached from that stop's site, leaving no earlier than 11:05 (now rounded up);
    nothing else of the day is before 11:05; the checker accepts the edited plan."""
    plan = solve(app, light_office, datetime(2026, 12, 7, 7, 0, tzinfo=WIB), end=MON)
    route, stops = _route_on(plan, MON)
    made, nxt, last = stops[0], stops[1], stops[-1]
    made.status = StopStatus.DONE
    kept = (made.arrival_at, made.start_at, made.end_at)
    departed = route.start_at
    db.session.commit()
    app.config["PLANNING_NOW"] = datetime(2026, 12, 7, 11, 2, tzinfo=WIB).isoformat()
    service.drop_stop(plan, last.id)
    db.session.refresh(plan)
    assert (made.arrival_at, made.start_at, made.end_at) == kept
    assert made.position == 0 and route.start_at == departed
    built = adapter.problem_for_plan(plan)
    team = built.problem.team(str(route.team_id))
    table = adapter.TravelTable(built.problem)
    leg = table.leg(team.profile, ("site", str(made.hotspot_id)), ("site", str(nxt.hotspot_id)))
    leave = max(local(made.end_at), datetime(2026, 12, 7, 11, 5, tzinfo=WIB))
    assert local(nxt.arrival_at) >= leave + timedelta(seconds=leg[1])
    assert local(nxt.arrival_at) < leave + timedelta(seconds=leg[1] + 3600)  # no idle hour
    for s in route.stops:
        if s is not made:
            assert local(s.start_at).time() >= time(11, 5)
    assert plan.violations == []


def test_editing_todays_route_with_nothing_made_leaves_from_now(app, light_office):
    """At 10:17 nothing on the Monday route is reported: after a reorder the team leaves the
    office at 10:20, not at 08:00, and every stop is after that."""
    plan = solve(app, light_office, datetime(2026, 12, 7, 7, 0, tzinfo=WIB), end=MON)
    route, stops = _route_on(plan, MON)
    assert local(route.start_at).time() < time(10, 20)
    app.config["PLANNING_NOW"] = MON_10_17.isoformat()
    service.move_stop(plan, stops[-1].id, route.team_id, MON, position=0)
    db.session.refresh(plan)
    assert local(route.start_at).time() == time(10, 20)
    assert all(local(s.arrival_at).time() >= time(10, 20) for s in route.stops)


def test_editing_a_later_day_keeps_the_shift_start(app, light_office):
    """On Monday at 10:17, reordering Tuesday's route still leaves the office at 08:00."""
    plan = solve(app, light_office, datetime(2026, 12, 6, 21, 0, tzinfo=WIB), start=TUE)
    route, stops = _route_on(plan, TUE)
    app.config["PLANNING_NOW"] = MON_10_17.isoformat()
    service.move_stop(plan, stops[-1].id, route.team_id, TUE, position=0)
    db.session.refresh(plan)
    assert local(route.start_at).time() == time(8, 0)
