"""The adapter: rows → problem (shifts, holidays, demand, locks) and result → rows."""

from __future__ import annotations

from datetime import date, timedelta

from outreach.extensions import db
from outreach.models import ExceptionKind, PlanStatus, TeamException
from outreach.planning import Service, check
from outreach.plans import adapter
from tests.factories import make_hotspot, make_office, make_team, monday


def test_build_problem_uses_remaining_demand_and_excludes_unlocated(app):
    """Only what is left is planned; a hotspot without coordinates is excluded with a reason."""
    office = make_office()
    team = make_team(office)
    h = make_hotspot(office, demand={"ktp_record": 50, "kia": 10})
    for d in h.demands:
        d.remaining = 0 if d.service == "kia" else 12
    nowhere = make_hotspot(office, lat=None, lon=None)
    built = adapter.build_problem(office, monday(), monday(), [team], [h, nowhere])
    site = built.problem.site(str(h.id))
    assert dict(site.demand) == {Service.KTP_RECORD: 12}
    assert [e.hotspot_id for e in built.excluded] == [nowhere.id]
    assert built.excluded[0].reason_code == "needs_location"
    assert "pin" in built.excluded[0].reason_text


def test_shifts_follow_holidays_leave_and_friday_prayer(app):
    """Christmas (a Friday) and a leave day are off; an ordinary Friday gets the prayer break."""
    office = make_office()
    team = make_team(office)
    team.exceptions.append(TeamException(day=date(2026, 12, 22), kind=ExceptionKind.LEAVE))
    team.weekly_shifts[4].breaks = []  # the prayer break is added even if the pattern lacks it
    db.session.flush()
    built = adapter.build_problem(
        office, date(2026, 12, 18), date(2026, 12, 25), [team], [make_hotspot(office)]
    )
    days = {s.date: s for s in built.problem.teams[0].shifts}
    assert date(2026, 12, 25) not in days  # Christmas Day
    assert date(2026, 12, 22) not in days  # leave
    assert date(2026, 12, 19) not in days  # Saturday
    friday = days[date(2026, 12, 18)]
    assert [(b.start, b.end) for b in friday.breaks] == [(11 * 3600 + 1800, 13 * 3600 + 1800)]


def test_openings_become_windows_per_weekday(app):
    """Opening rows map to windows per weekday; overlapping rows are merged."""
    office = make_office()
    h = make_hotspot(office, openings={0: [(480, 600), (590, 720)], 2: [(780, 900)]})
    site = adapter.to_site(h)
    assert site.windows is not None
    assert [(w.start, w.end) for w in site.windows[0]] == [(480 * 60, 720 * 60)]
    assert 1 not in site.windows  # closed on Tuesday


def test_round_trip_rows_pass_the_checker(solved_plan):
    """A solved plan written to rows and read back passes the independent checker."""
    assert solved_plan.status == PlanStatus.SOLVED
    assert solved_plan.routes, "the small instance must produce routes"
    built = adapter.problem_for_plan(solved_plan)
    result = adapter.result_from_plan(solved_plan, built)
    assert check(built.problem, result) == []
    assert solved_plan.violations == []
    served = sum(sum(s.persons.values()) for r in solved_plan.routes for s in r.stops)
    assert served == solved_plan.kpis["persons_served"] > 0
    reasons = {u.reason_code for u in solved_plan.unserved}
    assert "needs_location" in reasons


def test_times_are_stored_in_utc_and_shown_with_the_office_offset(solved_plan):
    """Stops start within the shift (08:00-16:00 WIB) and ISO output carries +07:00."""
    from outreach.plans.service import plan_to_dict

    data = plan_to_dict(solved_plan)
    stop = data["routes"][0]["stops"][0]
    assert stop["start"].endswith("+07:00")
    hour = int(stop["start"][11:13])
    assert 8 <= hour < 16
    assert data["routes"][0]["date"] == monday().isoformat()
    assert set(stop["persons"]) <= {s.value for s in Service}


def test_lock_pins_site_to_team_day_and_position(solved_plan):
    """A locked stop becomes a Lock on its team, date and position."""
    stop = solved_plan.routes[0].stops[0]
    stop.locked = True
    db.session.flush()
    built = adapter.problem_for_plan(solved_plan)
    lock = built.problem.site(str(stop.hotspot_id)).lock
    assert lock is not None
    assert (lock.team_id, lock.date, lock.position) == (
        str(solved_plan.routes[0].team_id),
        solved_plan.routes[0].day,
        stop.position,
    )


def test_lock_on_a_day_off_is_ignored_with_a_note(solved_plan):
    """A lock the team cannot honour (day off) is dropped and noted, not a crash."""
    route = solved_plan.routes[0]
    route.team.exceptions.append(TeamException(day=route.day, kind=ExceptionKind.LEAVE))
    route.stops[0].locked = True
    db.session.flush()
    built = adapter.problem_for_plan(solved_plan)
    assert built.problem.site(str(route.stops[0].hotspot_id)).lock is None
    assert any("diabaikan" in n for n in built.notes)


def test_demand_snapshot_keeps_a_plan_valid_after_field_outcomes(solved_plan):
    """Outcomes lowering remaining demand later do not invalidate the solved plan."""
    stop = solved_plan.routes[0].stops[0]
    for d in stop.hotspot.demands:
        d.remaining = 0
    db.session.flush()
    from outreach.plans.service import validate

    assert validate(solved_plan) == []
    live = adapter.problem_for_plan(solved_plan, live_demand=True)
    assert str(stop.hotspot_id) not in {s.id for s in live.problem.sites}


def test_engine_reason_values_are_stored_for_translation(office_data):
    """An unserved site keeps the engine's reason code and the values of its sentence."""
    from outreach.plans import service

    printing = make_hotspot(office_data["office"], demand={"ktp_print": 5})
    db.session.commit()
    plan = service.create_plan(
        office_data["office"],
        office_data["user"],
        name="Rencana cetak",
        start_date=monday(),
        end_date=monday() + timedelta(days=1),
        time_limit_s=1,
    )
    service.start_solve(plan, office_data["user"])
    db.session.refresh(plan)
    row = next(u for u in plan.unserved if u.hotspot_id == printing.id)
    assert row.reason_code == "NO_TEAM_OFFERS_SERVICE"
    assert row.reason_params == {"services": "ktp_print"}
    assert row.reason_text == "No team offers ktp_print."  # the engine's own English message
    located = next(u for u in plan.unserved if u.reason_code == "needs_location")
    assert located.reason_params is None
