"""One test per constraint, where it binds and where it does not.

Every plan is also passed through the independent checker.
"""

from __future__ import annotations

from datetime import date

import pytest

from outreach.planning import (
    FRIDAY_PRAYER,
    Lock,
    Problem,
    Result,
    Service,
    SolveParams,
    TimeWindow,
    check,
    hm,
    solve,
)

from .builders import FRIDAY, MONDAY, at, problem, shift, site, team

TUESDAY = date(2026, 6, 2)
FAST = SolveParams(time_limit_s=2.0, metaheuristic="GREEDY_DESCENT")


def run(p: Problem, params: SolveParams = FAST) -> Result:
    result = solve(p, params)
    assert check(p, result) == [], result.summary()
    return result


def stops_of(result: Result, site_id: str) -> list:
    return [(r, s) for r in result.routes for s in r.stops if s.site_id == site_id]


def clock(result: Result, seconds: int) -> int:
    """Seconds of the local day for a solver-clock time."""
    return seconds % 86_400


def reason(result: Result, site_id: str) -> str:
    return next(u.reason for u in result.unserved if u.site_id == site_id)


# -- opening windows ---------------------------------------------------------------


def test_window_binds_visit_inside_it():
    """A site open 10:00-11:00 is visited entirely inside that window."""
    s = site("S1", windows={0: [TimeWindow.hm("10:00", "11:00")]})
    result = run(problem([s], [team()]))
    ((_, stop),) = stops_of(result, "S1")
    assert clock(result, stop.start) >= hm("10:00")
    assert clock(result, stop.end) <= hm("11:00")


def test_without_windows_visit_starts_as_soon_as_the_team_arrives():
    """With no windows the visit starts on arrival, well before 10:00."""
    result = run(problem([site("S1")], [team()]))
    ((_, stop),) = stops_of(result, "S1")
    assert stop.start == stop.arrival
    assert clock(result, stop.start) < hm("09:00")


def test_second_window_of_the_day_is_used_when_the_first_is_too_short():
    """A 10-minute morning window cannot hold the visit; the afternoon one does."""
    s = site(
        "S1",
        windows={0: [TimeWindow.hm("08:00", "08:10"), TimeWindow.hm("14:00", "15:30")]},
    )
    result = run(problem([s], [team()]))
    ((_, stop),) = stops_of(result, "S1")
    assert clock(result, stop.start) >= hm("14:00")


def test_weekday_windows_pick_the_open_day():
    """A site open on Tuesdays only is visited on Tuesday, not Monday."""
    s = site("S1", windows={1: [TimeWindow.hm("08:00", "16:00")]})
    result = run(problem([s], [team(days=[MONDAY, TUESDAY])]))
    ((route, _),) = stops_of(result, "S1")
    assert route.date == TUESDAY


def test_hours_that_never_meet_a_shift_are_explained():
    """A site open only in the evening is left out with HOURS_NEVER_MEET_SHIFT."""
    s = site("S1", windows={0: [TimeWindow.hm("17:00", "20:00")]})
    result = run(problem([s], [team()]))
    assert not result.routes
    assert reason(result, "S1") == "HOURS_NEVER_MEET_SHIFT"


# -- shifts and travel ------------------------------------------------------------


def test_shift_end_binds_far_site_is_unreachable():
    """A site ~2 h away cannot be reached, served and left within a 3-hour shift."""
    far = site("FAR", location=at(0.3, 0.3))
    result = run(problem([far], [team(start="08:00", end="11:00")]))
    assert reason(result, "FAR") == "UNREACHABLE_WITHIN_SHIFT"


def test_same_far_site_fits_a_full_day():
    """The same site is served when the shift is long enough."""
    far = site("FAR", location=at(0.3, 0.3))
    result = run(problem([far], [team(start="07:00", end="18:00")]))
    assert stops_of(result, "FAR")


def test_route_stays_inside_the_shift():
    """Departure and return lie within the team's shift."""
    result = run(problem([site("S1"), site("S2", location=at(-0.01))], [team()]))
    (route,) = result.routes
    assert clock(result, route.depart) >= hm("08:00")
    assert clock(result, route.arrive) <= hm("16:00")


# -- breaks ----------------------------------------------------------------------


def test_friday_prayer_binds_no_visit_overlaps_it():
    """On Friday a 3-hour visit cannot overlap 11:30-13:30; it happens around it."""
    s = site("S1", demand={Service.KTP_RECORD: 40})  # 10 min + 40 × 4.5 min = 190 min
    t = team(shifts=[shift(FRIDAY, breaks=[FRIDAY_PRAYER])])
    result = run(problem([s], [t]))
    ((route, stop),) = stops_of(result, "S1")
    assert route.breaks and route.breaks[0].name == "Friday prayer"
    b = route.breaks[0]
    assert stop.end <= b.start or stop.start >= b.end


def test_friday_prayer_splits_a_visit_too_long_for_either_side():
    """A 235-minute visit fits neither 08:00-11:30 nor 13:30-16:00, so it is split."""
    s = site("S1", demand={Service.KTP_RECORD: 50})
    t = team(shifts=[shift(FRIDAY, breaks=[FRIDAY_PRAYER])])
    result = run(problem([s], [t]))
    visits = stops_of(result, "S1")
    assert len(visits) == 2
    assert sum(stop.total_persons for _, stop in visits) == 50


def test_without_a_break_the_same_visit_spans_midday():
    """On a Monday without breaks the team may serve straight through 11:30-13:30."""
    s = site("S1", demand={Service.KTP_RECORD: 80})  # 370 min: must span midday
    result = run(problem([s], [team()]))
    ((route, stop),) = stops_of(result, "S1")
    assert not route.breaks
    assert clock(result, stop.start) < hm("11:30") and clock(result, stop.end) > hm("13:30")


# -- service time and kits ---------------------------------------------------------


def test_kits_divide_service_time():
    """Two kits halve the per-person time; setup is paid once."""
    s = site("S1", demand={Service.KTP_RECORD: 40}, setup_s=600)
    one = run(problem([s], [team(kits=1)]))
    two = run(problem([s], [team(kits=2)]))
    ((_, a),) = stops_of(one, "S1")
    ((_, b),) = stops_of(two, "S1")
    assert a.end - a.start == 600 + 40 * 270
    assert b.end - b.start == 600 + 40 * 270 // 2


# -- skills --------------------------------------------------------------------------


def test_skill_binds_site_goes_to_the_team_offering_the_service():
    """Birth certificates go to the team that offers them, even if farther away."""
    near = team("NEAR", services=[Service.KTP_RECORD])
    far = team("FAR", services=[Service.BIRTH_CERT, Service.KTP_RECORD], location=at(0.05))
    s = site("S1", demand={Service.BIRTH_CERT: 5})
    result = run(problem([s], [near, far]))
    ((route, _),) = stops_of(result, "S1")
    assert route.team_id == "FAR"


def test_no_team_offering_the_service_is_explained():
    """A KIA request with no KIA team is left out with NO_TEAM_OFFERS_SERVICE."""
    s = site("S1", demand={Service.KIA: 5})
    result = run(problem([s], [team(services=[Service.KTP_RECORD])]))
    assert reason(result, "S1") == "NO_TEAM_OFFERS_SERVICE"


def test_printing_needs_a_printer():
    """KTP printing is not planned for a team without a printer (NO_PRINTER)."""
    s = site("S1", demand={Service.KTP_PRINT: 5})
    t = team(services=list(Service), printer=False, cards_per_day=50)
    result = run(problem([s], [t]))
    assert reason(result, "S1") == "NO_PRINTER"


def test_printing_with_a_printer_is_planned():
    """The same request is served by a team with a printer and cards."""
    s = site("S1", demand={Service.KTP_PRINT: 5})
    t = team(services=list(Service), printer=True, cards_per_day=50)
    result = run(problem([s], [t]))
    ((_, stop),) = stops_of(result, "S1")
    assert stop.cards == 5


# -- blank cards ---------------------------------------------------------------------


def printing_team(cards_per_day: int, days=(MONDAY,)) -> object:
    return team(services=list(Service), printer=True, cards_per_day=cards_per_day, days=days)


def test_cards_per_day_bind_print_job_spreads_over_days():
    """30 prints with 20 cards a day are split over two days, 30 cards in total."""
    s = site("S1", demand={Service.KTP_PRINT: 30})
    result = run(problem([s], [printing_team(20, days=(MONDAY, TUESDAY))]))
    per_day = {r.date: r.cards for r in result.routes}
    assert sum(per_day.values()) == 30
    assert max(per_day.values()) <= 20
    assert len(per_day) == 2


def test_cards_per_day_not_binding_one_visit():
    """With 50 cards a day, the same job is one visit."""
    s = site("S1", demand={Service.KTP_PRINT: 30})
    result = run(problem([s], [printing_team(50, days=(MONDAY, TUESDAY))]))
    assert len(stops_of(result, "S1")) == 1


def test_office_card_stock_binds():
    """With 10 cards in stock only the site needing at most 10 is printed."""
    small = site("SMALL", demand={Service.KTP_PRINT: 8})
    big = site("BIG", location=at(-0.01), demand={Service.KTP_PRINT: 12})
    result = run(problem([small, big], [printing_team(50)], card_stock=10))
    assert sum(r.cards for r in result.routes) <= 10
    assert stops_of(result, "SMALL") and not stops_of(result, "BIG")
    assert reason(result, "BIG") == "CARDS_EXHAUSTED"


def test_office_card_stock_not_binding():
    """With enough stock both sites are printed."""
    small = site("SMALL", demand={Service.KTP_PRINT: 8})
    big = site("BIG", location=at(-0.01), demand={Service.KTP_PRINT: 12})
    result = run(problem([small, big], [printing_team(50)], card_stock=100))
    assert not result.unserved


# -- objective: residents first, priority, then travel -------------------------------


def test_priority_wins_when_only_one_site_fits():
    """Of two equal sites that cannot both fit, the priority-1 site is served."""
    a = site("LOW", demand={Service.KTP_RECORD: 60}, priority=5)
    b = site("HIGH", location=at(-0.01), demand={Service.KTP_RECORD: 60}, priority=1)
    result = run(problem([a, b], [team()]))
    assert stops_of(result, "HIGH") and not stops_of(result, "LOW")
    assert reason(result, "LOW") == "OUTRANKED"


def test_lower_priority_kept_is_not_called_outranked():
    """A priority-1 home visit that loses its day to a big priority-5 school (90 residents
    outweigh one at 16x) is NOT_PLACED, never OUTRANKED: the day serves lower priority."""
    school = site("SCHOOL", demand={Service.KTP_RECORD: 90}, priority=5)
    home = site(
        "HOME", location=at(-0.01), demand={Service.KTP_RECORD: 1}, priority=1, setup_s=3 * 3600
    )
    result = run(problem([school, home], [team()]))
    assert stops_of(result, "SCHOOL") and not stops_of(result, "HOME")
    assert reason(result, "HOME") == "NOT_PLACED"
    unserved = next(u for u in result.unserved if u.site_id == "HOME")
    assert "lower priority" in unserved.message


def test_outranked_when_lower_priority_is_served_only_outside_the_sites_hours():
    """Two priority-1 sites compete for one morning; the priority-5 site is served in the
    afternoon, when they are closed: the loser is OUTRANKED, not NOT_PLACED."""
    morning = {0: (TimeWindow.hm("09:00", "12:00"),)}
    afternoon = {0: (TimeWindow.hm("13:00", "16:00"),)}
    a = site("A", demand={Service.KTP_RECORD: 30}, priority=1, windows=morning)
    b = site("B", location=at(-0.01), demand={Service.KTP_RECORD: 25}, priority=1, windows=morning)
    c = site(
        "C", location=at(0.0, 0.01), demand={Service.KTP_RECORD: 20}, priority=5, windows=afternoon
    )
    result = run(problem([a, b, c], [team()]))
    assert stops_of(result, "A") and stops_of(result, "C") and not stops_of(result, "B")
    assert reason(result, "B") == "OUTRANKED"


def test_more_residents_win_at_equal_priority():
    """At equal priority the site with more residents takes the scarce day."""
    a = site("FEW", demand={Service.KTP_RECORD: 55})
    b = site("MANY", location=at(-0.01), demand={Service.KTP_RECORD: 70})
    result = run(problem([a, b], [team()]))
    assert stops_of(result, "MANY") and not stops_of(result, "FEW")


def test_all_sites_served_when_capacity_allows():
    """When everything fits, nothing is dropped whatever the priorities."""
    a = site("A", priority=5)
    b = site("B", location=at(-0.01), priority=1)
    result = run(problem([a, b], [team()]))
    assert not result.unserved
    assert result.persons_served == result.persons_requested


def test_travel_is_minimised_after_residents():
    """Three sites on a line are visited in line order (no zig-zag)."""
    sites = [site(f"S{k}", location=at(0.0, 0.01 * k)) for k in (1, 3, 2)]
    result = run(problem(sites, [team()]))
    (route,) = result.routes
    order = [s.site_id for s in route.stops]
    assert order in (["S1", "S2", "S3"], ["S3", "S2", "S1"])


# -- splitting -------------------------------------------------------------------------


def test_large_site_is_split_over_days_never_beyond_demand():
    """A 300-person school (≈ 3 team-days) is split over days; totals equal the demand."""
    s = site("SCHOOL", demand={Service.KTP_RECORD: 300})
    t = team(days=[MONDAY, TUESDAY, date(2026, 6, 3), date(2026, 6, 4)])
    result = run(problem([s], [t]))
    visits = stops_of(result, "SCHOOL")
    assert len({r.date for r, _ in visits}) >= 3
    assert sum(stop.persons[Service.KTP_RECORD] for _, stop in visits) == 300


def test_split_serves_what_fits_and_reports_the_rest():
    """With one day for a 300-person school, part is served and the rest is unserved."""
    s = site("SCHOOL", demand={Service.KTP_RECORD: 300})
    result = run(problem([s], [team()]))
    served = sum(stop.persons[Service.KTP_RECORD] for _, stop in stops_of(result, "SCHOOL"))
    (left,) = [u for u in result.unserved if u.site_id == "SCHOOL"]
    assert 0 < served < 300
    assert left.partial and served + left.persons[Service.KTP_RECORD] == 300


def test_small_site_is_not_split():
    """A site that fits one team-day is one visit."""
    s = site("S1", demand={Service.KTP_RECORD: 40})
    result = run(problem([s], [team(days=[MONDAY, TUESDAY])]))
    assert len(stops_of(result, "S1")) == 1


def test_split_may_use_several_teams_on_one_day():
    """Two teams on one day share a site too big for either alone."""
    s = site("SCHOOL", demand={Service.KTP_RECORD: 150})
    result = run(problem([s], [team("T1"), team("T2")]))
    teams_used = {r.team_id for r, _ in stops_of(result, "SCHOOL")}
    assert teams_used == {"T1", "T2"}


# -- locks -----------------------------------------------------------------------------


def test_lock_binds_team_and_date():
    """A site locked to T2 on Tuesday is served there, though T1 works Monday nearby."""
    s = site("S1", lock=Lock("T2", TUESDAY))
    t1 = team("T1", days=[MONDAY, TUESDAY])
    t2 = team("T2", days=[TUESDAY], location=at(0.05, 0.05))
    result = run(problem([s], [t1, t2]))
    ((route, _),) = stops_of(result, "S1")
    assert (route.team_id, route.date) == ("T2", TUESDAY)


def test_lock_order_is_kept_against_geography():
    """Locked positions 0, 1 keep their order even when the reverse is shorter."""
    far = site("FAR", location=at(0.04), lock=Lock("T1", MONDAY, 0))
    near = site("NEAR", location=at(0.01), lock=Lock("T1", MONDAY, 1))
    result = run(problem([far, near], [team()]))
    (route,) = result.routes
    assert [s.site_id for s in route.stops] == ["FAR", "NEAR"]


def test_unlocked_sites_go_in_travel_order():
    """Without locks the same two sites are visited nearest first."""
    far = site("FAR", location=at(0.04))
    near = site("NEAR", location=at(0.01))
    result = run(problem([far, near], [team()]))
    (route,) = result.routes
    assert [s.site_id for s in route.stops] in (["NEAR", "FAR"], ["FAR", "NEAR"])
    assert route.stops[0].site_id == "NEAR" or route.distance_m == min(
        r.distance_m for r in result.routes
    )


def test_impossible_lock_is_explained():
    """A site locked to a day it is closed is left out with LOCK_CONFLICT."""
    s = site("S1", windows={1: [TimeWindow.hm("08:00", "16:00")]}, lock=Lock("T1", MONDAY))
    result = run(problem([s], [team(days=[MONDAY, TUESDAY])]))
    assert reason(result, "S1") == "LOCK_CONFLICT"


# -- balance ---------------------------------------------------------------------------


def two_half_days() -> Problem:
    a = site("A", demand={Service.KTP_RECORD: 35})
    b = site("B", location=at(0.012, 0.01), demand={Service.KTP_RECORD: 35})
    return problem([a, b], [team("T1"), team("T2")])


def test_balance_binds_work_is_spread_across_teams():
    """With balancing on, two half-day sites go to two teams."""
    result = run(two_half_days())
    assert {r.team_id for r in result.routes} == {"T1", "T2"}


def test_without_balance_one_team_does_both():
    """With balancing off, one team serves both (less driving)."""
    p = two_half_days()
    result = run(
        p, SolveParams(time_limit_s=2.0, metaheuristic="GREEDY_DESCENT", balance_coefficient=0)
    )
    assert len(result.routes) == 1


# -- required sites (benchmarks) -------------------------------------------------------


def test_required_site_missing_makes_the_plan_infeasible():
    """A required site that cannot be served makes is_feasible() false."""
    s = site("S1", windows={0: [TimeWindow.hm("17:00", "20:00")]}, required=True)
    result = run(problem([s], [team()]))
    assert result.required_missing == ("S1",)
    assert not result.is_feasible()


def test_required_site_served_is_feasible():
    """A servable required site is served and the plan is feasible."""
    result = run(problem([site("S1", required=True)], [team()]))
    assert result.is_feasible()


@pytest.mark.parametrize("tick", [1, 60, 300])
def test_any_tick_gives_a_checked_plan(tick):
    """Plans are valid to the second whatever the solver's clock resolution."""
    s = site("S1", windows={0: [TimeWindow(hm("09:00") + 7, hm("10:00") - 3)]}, setup_s=61)
    result = run(
        problem([s], [team()]),
        SolveParams(time_limit_s=1.0, metaheuristic="GREEDY_DESCENT", time_tick_s=tick),
    )
    assert stops_of(result, "S1")


# -- kits and closing windows ----------------------------------------------------------


def late_window_case() -> Problem:
    """A 3-kit team busy with A until ~09:15 can still serve W (open until 10:00)."""
    a = site(
        "A",
        location=at(0.001),
        demand={Service.KTP_RECORD: 40},  # 3 kits: 70 min, must end by 09:15
        windows={0: [TimeWindow.hm("08:00", "09:15")]},
        lock=Lock("FAST", MONDAY),
    )
    w = site(
        "W",
        location=at(0.002),
        demand={Service.KTP_RECORD: 20},  # 3 kits: 40 min; 1 kit: 100 min
        windows={0: [TimeWindow.hm("08:00", "10:00")]},
    )
    fast = team("FAST", kits=3)
    slow = team("SLOW", kits=1, location=at(0.25, 0.25))  # too far to use W's window
    return problem([a, w], [fast, slow])


def test_exact_kit_windows_let_a_fast_team_start_late():
    """With exact kit windows the 3-kit team serves W after its locked visit."""
    params = SolveParams(time_limit_s=2.0, metaheuristic="GREEDY_DESCENT", exact_kit_windows=True)
    result = run(late_window_case(), params)
    ((route, stop),) = stops_of(result, "W")
    assert route.team_id == "FAST"
    assert clock(result, stop.start) > hm("09:00")


def test_conservative_kit_windows_leave_room_for_the_slowest_team():
    """Conservatively, W's latest start leaves room for the 1-kit team, so W is dropped."""
    # The search alone: the gap-filling step after it would now serve W (tests/planning/
    # test_gapfill.py); this test is about the conservative windows themselves.
    params = SolveParams(
        time_limit_s=2.0, metaheuristic="GREEDY_DESCENT", exact_kit_windows=False, gap_fill=False
    )
    result = run(late_window_case(), params)
    assert not stops_of(result, "W")
