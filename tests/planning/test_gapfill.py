"""The gap-filling step after the search, and reasons that match the timeline (issue 10).

A hand-made plan stands for what a time-limited search may return: a team drives to a site
that opens at 13:00 and waits there all morning while a site open in the morning is left
out. The step must serve the left-out site in that gap without moving the planned stop, the
independent checker must accept the plan, and the explanation must never say the team's time
went to sites of equal or higher priority while the team stands idle.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.planning import (
    Result,
    Route,
    Service,
    SolveParams,
    Stop,
    TimeWindow,
    check,
    gapfill,
    solve,
)
from outreach.planning.explain import (
    IDLE_TIME_UNUSED,
    OUTRANKED,
    REASONS,
    explain_unserved,
    place_matrices,
)

from .builders import MONDAY, at, problem, site, team

AFTERNOON = {0: (TimeWindow.hm("13:00", "16:00"),)}
MORNING = {0: (TimeWindow.hm("08:00", "12:00"),)}


def waiting_case(morning_persons: int = 20):
    """A team whose route waits at an afternoon site from 08:05 to 13:00; a morning site
    with ``morning_persons`` residents is left out."""
    late = site("LATE", location=at(0.01), demand={Service.KTP_RECORD: 10}, windows=AFTERNOON)
    early = site(
        "EARLY",
        location=at(0.0, 0.01),
        demand={Service.KTP_RECORD: morning_persons},
        windows=MORNING,
        priority=3,
    )
    p = problem([late, early], [team()])
    m = place_matrices(p)
    row = {pl.key: i for i, pl in enumerate(p.places())}
    dist, dur = m["car"]
    a, b, c = row[("start", "T1")], row[("site", "LATE")], row[("end", "T1")]
    depart = 8 * 3600
    start = 13 * 3600
    svc = p.visit_seconds(late, late.demand, 1)
    stop = Stop(
        site_id="LATE",
        visit=0,
        arrival=depart + int(dur[a, b]),
        start=start,
        end=start + svc,
        persons=dict(late.demand),
        cards=0,
        distance_m=int(dist[a, b]),
        travel_s=int(dur[a, b]),
    )
    route = Route(
        team_id="T1",
        date=MONDAY,
        depart=depart,
        arrive=start + svc + int(dur[b, c]),
        stops=(stop,),
        breaks=(),
        distance_m=int(dist[a, b]) + int(dist[b, c]),
        travel_s=int(dur[a, b]) + int(dur[b, c]),
    )
    return p, route, early, m


def result_of(p, routes, unserved) -> Result:
    return Result(
        status="ROUTING_SUCCESS",
        routes=tuple(routes),
        unserved=tuple(unserved),
        horizon_start=p.horizon[0],
        utc_offset_minutes=p.utc_offset_minutes,
        objective=0,
        runtime_s=0.0,
        requested={s.id: dict(s.demand) for s in p.sites},
        priorities={s.id: s.priority for s in p.sites},
    )


def waiting_s(route: Route) -> int:
    return sum(s.start - s.arrival for s in route.stops)


def test_the_hand_made_plan_is_valid_and_waits_all_morning():
    p, route, early, m = waiting_case()
    unserved = explain_unserved(p, [route], [(early, dict(early.demand), [])], m)
    assert check(p, result_of(p, [route], unserved)) == []
    assert waiting_s(route) > 4 * 3600


def test_a_gap_that_fits_a_left_out_site_is_filled():
    """The morning site is served in the waiting gap; the afternoon stop does not move and
    every window, the shift and travel hold (independent checker)."""
    p, route, early, m = waiting_case()
    routes, left = gapfill.fill(p, [route], [gapfill.Candidate(1, 0, early.demand)], m)
    assert left == []
    (filled,) = routes
    assert [s.site_id for s in filled.stops] == ["EARLY", "LATE"]
    late = filled.stops[1]
    assert (late.start, late.end) == (route.stops[0].start, route.stops[0].end)
    first = filled.stops[0]
    assert 8 * 3600 <= first.start and first.end <= 12 * 3600
    assert check(p, result_of(p, routes, [])) == []
    assert filled.persons == route.persons + early.persons


def test_explain_never_says_outranked_while_a_team_waits():
    """The same plan without the step: the reason names the idle team-day, not priority."""
    p, route, early, m = waiting_case()
    (u,) = explain_unserved(p, [route], [(early, dict(early.demand), [])], m)
    assert u.reason == IDLE_TIME_UNUSED != OUTRANKED
    assert u.params == {"team": "T1", "date": MONDAY.isoformat()}
    assert u.message == REASONS[IDLE_TIME_UNUSED].format(team="T1", date=MONDAY.isoformat())


def test_outranked_when_the_day_has_no_idle_time_in_the_sites_hours():
    """A team busy all morning with a site of the same priority: the morning site left out
    is outranked (the idle afternoon is outside its hours)."""
    busy = site("BUSY", location=at(0.01), demand={Service.KTP_RECORD: 46}, windows=MORNING)
    early = site("EARLY", location=at(0.0, 0.01), demand={Service.KTP_RECORD: 20}, windows=MORNING)
    p = problem([busy, early], [team()])
    m = place_matrices(p)
    row = {pl.key: i for i, pl in enumerate(p.places())}
    dist, dur = m["car"]
    a, b = row[("start", "T1")], row[("site", "BUSY")]
    depart = 8 * 3600
    start = depart + int(dur[a, b])
    end = start + p.visit_seconds(busy, busy.demand, 1)
    back = int(dur[b, a])
    route = Route(
        team_id="T1",
        date=MONDAY,
        depart=depart,
        arrive=end + back,
        stops=(
            Stop(
                "BUSY", 0, start, start, end, dict(busy.demand), 0, int(dist[a, b]), int(dur[a, b])
            ),
        ),
        breaks=(),
        distance_m=2 * int(dist[a, b]),
        travel_s=int(dur[a, b]) + back,
    )
    (u,) = explain_unserved(p, [route], [(early, dict(early.demand), [])], m)
    assert check(p, result_of(p, [route], [u])) == []
    assert u.reason == OUTRANKED


def test_solve_serves_what_fits_and_no_priority_loses():
    """End to end on the waiting case: both sites are served and the checker accepts the
    plan."""
    p, _route, _early, _m = waiting_case()
    result = solve(p, SolveParams(time_limit_s=1.0, metaheuristic="GREEDY_DESCENT"))
    assert check(p, result) == []
    assert result.persons_served == 30
    assert not result.unserved


def test_a_part_of_a_split_site_fills_a_gap_and_the_rest_stays_unserved():
    """A site the planner split (too big for any day) gets a part sized to the gap; served
    plus what is left equals its demand and the checker accepts the plan."""
    p, route, early, m = waiting_case(morning_persons=200)
    cand = gapfill.Candidate(1, 0, early.demand, split=True)
    routes, left = gapfill.fill(p, [route], [cand], m)
    (filled,) = routes
    part = next(s for s in filled.stops if s.site_id == "EARLY")
    assert 0 < part.total_persons < 200
    assert part.end - part.start >= gapfill.MIN_PART_SERVICE_S
    (rest,) = left
    assert part.total_persons + sum(rest.persons.values()) == 200
    unserved = explain_unserved(p, routes, [(early, dict(rest.persons), [rest.persons])], m)
    assert check(p, result_of(p, routes, unserved)) == []
    # the same site not split: only whole visits are inserted, and 200 persons do not fit
    routes, left = gapfill.fill(p, [route], [gapfill.Candidate(1, 0, early.demand)], m)
    assert [s.site_id for s in routes[0].stops] == ["LATE"] and len(left) == 1


def served_by_priority(p, routes) -> Counter:
    prio = {s.id: s.priority for s in p.sites}
    out: Counter = Counter()
    for r in routes:
        for s in r.stops:
            out[prio[s.site_id]] += s.total_persons
    return out


@st.composite
def small_instances(draw):
    n = draw(st.integers(2, 7))
    sites = []
    for i in range(n):
        opens = draw(st.sampled_from(["08:00", "09:00", "10:00", "13:00", "14:00"]))
        hours = draw(st.integers(2, 6))
        end = f"{min(16, int(opens[:2]) + hours):02d}:00"
        sites.append(
            site(
                f"S{i}",
                location=at(draw(st.floats(-0.04, 0.04)), draw(st.floats(-0.04, 0.04))),
                demand={Service.KTP_RECORD: draw(st.integers(1, 90))},
                priority=draw(st.integers(1, 5)),
                windows=None if draw(st.booleans()) else {0: (TimeWindow.hm(opens, end),)},
                setup_s=draw(st.sampled_from([300, 600, 900])),
            )
        )
    teams = [team(f"T{k}", kits=draw(st.integers(1, 2))) for k in range(draw(st.integers(1, 2)))]
    return problem(sites, teams)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(small_instances())
def test_residents_served_per_priority_never_decrease(p):
    """On random small instances the gap-filling step only adds: per priority the filled
    plan serves at least what the search left, and the checker accepts it."""
    params = SolveParams(time_limit_s=0.5, solution_limit=20, priority_repair=False)
    result = solve(p, params)
    assert check(p, result) == []
    if result.search_routes is not None:
        before = served_by_priority(p, result.search_routes)
        after = served_by_priority(p, result.routes)
        assert all(after[k] >= before[k] for k in range(1, 6))
    for u in result.unserved:
        if u.reason == OUTRANKED:
            # no fitting team-day stands idle inside the site's hours for the visit
            s = p.site(u.site_id)
            by_day = {(r.team_id, r.date): r for r in result.routes}
            for v in p.vehicles:
                need = p.visit_seconds(s, u.persons, v.team.kits)
                assert not gapfill.room_on(p, v, by_day.get((v.team.id, v.date)), s, need)
