"""The independent checker catches hand-made bad plans (mutation tests)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from outreach.planning import (
    FRIDAY_PRAYER,
    Lock,
    Result,
    Service,
    SolveParams,
    TimeWindow,
    check,
    solve,
)

from .builders import FRIDAY, at, problem, shift, site, team

R = dataclasses.replace


@pytest.fixture(scope="module")
def planned():
    """A small valid plan: three sites, a printing team, Friday prayer, a lock."""
    sites = [
        site("A", demand={Service.KTP_RECORD: 10, Service.KTP_PRINT: 5}),
        site("B", location=at(-0.01, 0.01), windows={4: [TimeWindow.hm("08:00", "11:00")]}),
        site("C", location=at(0.02), lock=Lock("T1", FRIDAY, 0)),
    ]
    t = team(
        "T1",
        shifts=[shift(FRIDAY, breaks=[FRIDAY_PRAYER])],
        services=list(Service),
        printer=True,
        cards_per_day=10,
    )
    p = problem(sites, [t], card_stock=10)
    result = solve(p, SolveParams(time_limit_s=1.0))
    assert check(p, result) == []
    assert len(result.routes) == 1 and len(result.routes[0].stops) == 3
    return p, result


def mutate_stop(result: Result, k: int, **changes) -> Result:
    route = result.routes[0]
    stops = list(route.stops)
    stops[k] = R(stops[k], **changes)
    return R(result, routes=(R(route, stops=tuple(stops)),))


def codes(p, result) -> set[str]:
    return {v.code for v in check(p, result)}


def test_valid_plan_passes(planned):
    """The unmodified plan has no violations."""
    p, result = planned
    assert check(p, result) == []


def test_duplicate_visit_is_caught(planned):
    """The same visit twice in a route is reported (SECURITY row 43)."""
    p, result = planned
    route = result.routes[0]
    bad = R(result, routes=(R(route, stops=route.stops + (route.stops[0],)),))
    assert "DUPLICATE_VISIT" in codes(p, bad)


def test_persons_beyond_demand_are_caught(planned):
    """Serving more persons than wait at a site is reported (SECURITY row 43)."""
    p, result = planned
    k = next(i for i, s in enumerate(result.routes[0].stops) if s.site_id == "B")
    stop = result.routes[0].stops[k]
    bad = mutate_stop(result, k, persons={Service.KTP_RECORD: 11})
    assert "OVER_DEMAND" in codes(p, bad) or "DURATION" in codes(p, bad)
    assert stop.persons[Service.KTP_RECORD] == 10
    assert "OVER_DEMAND" in codes(p, bad)


def test_window_violation_is_caught(planned):
    """Moving B's visit after its 11:00 closing time is reported (SECURITY row 43)."""
    p, result = planned
    k = next(i for i, s in enumerate(result.routes[0].stops) if s.site_id == "B")
    stop = result.routes[0].stops[k]
    late = stop.start + 4 * 3600
    bad = mutate_stop(result, k, arrival=late, start=late, end=late + stop.end - stop.start)
    assert "WINDOW" in codes(p, bad)


def test_visit_during_the_break_is_caught(planned):
    """A visit overlapping the Friday prayer is reported."""
    p, result = planned
    route = result.routes[0]
    b = route.breaks[0]
    last = len(route.stops) - 1
    stop = route.stops[last]
    start = b.start + 600
    bad = mutate_stop(result, last, arrival=start, start=start, end=start + stop.end - stop.start)
    assert "BREAK" in codes(p, bad)


def test_too_short_visit_is_caught(planned):
    """A visit shorter than setup + persons × rate is reported."""
    p, result = planned
    stop = result.routes[0].stops[0]
    bad = mutate_stop(result, 0, end=stop.end - 60)
    assert "DURATION" in codes(p, bad)


def test_arriving_faster_than_travel_allows_is_caught(planned):
    """Starting a later stop right when the previous one ends ignores travel."""
    p, result = planned
    route = result.routes[0]
    first, second = route.stops[0], route.stops[1]
    length = second.end - second.start
    bad = mutate_stop(result, 1, arrival=first.end, start=first.end, end=first.end + length)
    assert "TRAVEL" in codes(p, bad)


def test_reported_distance_must_match(planned):
    """A route claiming fewer metres than recomputed is reported (SECURITY row 43)."""
    p, result = planned
    route = result.routes[0]
    bad = R(result, routes=(R(route, distance_m=route.distance_m - 100),))
    assert "DISTANCE" in codes(p, bad)


def test_cards_over_team_capacity_are_caught(planned):
    """Printing more than the team carries per day is reported (SECURITY row 43)."""
    p, result = planned
    tight = R(p, teams=(R(p.teams[0], cards_per_day=4),))
    assert "CARDS" in codes(tight, result)


def test_cards_over_office_stock_are_caught(planned):
    """Printing more than the office holds is reported."""
    p, result = planned
    assert "CARD_STOCK" in codes(R(p, card_stock=3), result)


def test_skill_violation_is_caught(planned):
    """Printing by a team without a printer is reported."""
    p, result = planned
    no_printer = R(p, teams=(R(p.teams[0], printer=False),))
    assert "SKILL" in codes(no_printer, result)


def test_lock_violation_is_caught(planned):
    """A site locked to another team but served by T1 is reported."""
    p, result = planned
    t2 = team("T2", shifts=[shift(FRIDAY)])
    relocked = R(
        p,
        teams=p.teams + (t2,),
        sites=tuple(R(s, lock=Lock("T2", FRIDAY)) if s.id == "C" else s for s in p.sites),
    )
    assert "LOCK" in codes(relocked, result)


def test_lock_order_violation_is_caught(planned):
    """Locked sites served out of their positions are reported."""
    p, result = planned
    order = [s.site_id for s in result.routes[0].stops]
    first, last = order[0], order[-1]
    # lock the last-visited site to position 0 and the first to position 1
    relocked = R(
        p,
        sites=tuple(
            R(s, lock=Lock("T1", FRIDAY, 0 if s.id == last else 1))
            if s.id in (first, last)
            else R(s, lock=None)
            for s in p.sites
        ),
    )
    assert "LOCK" in codes(relocked, result)


def test_route_on_a_day_off_is_caught(planned):
    """A route dated on a day the team does not work is reported."""
    p, result = planned
    route = result.routes[0]
    bad = R(result, routes=(R(route, date=date(2026, 6, 4)),))
    assert "NOT_WORKING" in codes(p, bad)


def test_unserved_accounting_is_checked(planned):
    """Dropping a stop without reporting it as unserved is caught (SECURITY row 43)."""
    p, result = planned
    route = result.routes[0]
    bad = R(result, routes=(R(route, stops=route.stops[1:]),))
    assert "ACCOUNTING" in codes(p, bad)


def test_missing_break_is_caught(planned):
    """A Friday route without the prayer break is reported."""
    p, result = planned
    route = result.routes[0]
    bad = R(result, routes=(R(route, breaks=()),))
    assert "BREAK" in codes(p, bad)


def violations_of(p, result, code: str) -> list:
    found = [v for v in check(p, result) if v.code == code]
    assert found, f"no {code} violation"
    return found


def test_window_violation_names_route_and_stop(planned):
    """A window violation carries the team, date, site and visit of the stop."""
    p, result = planned
    k = next(i for i, s in enumerate(result.routes[0].stops) if s.site_id == "B")
    stop = result.routes[0].stops[k]
    late = stop.start + 4 * 3600
    bad = mutate_stop(result, k, arrival=late, start=late, end=late + stop.end - stop.start)
    (v,) = violations_of(p, bad, "WINDOW")
    assert (v.team_id, v.date, v.site_id, v.visit) == ("T1", FRIDAY, "B", 0)
    assert str(v) == f"WINDOW: {v.message}"


def test_skill_violation_names_route_and_stop(planned):
    """A skill violation names the stop that needs the printer."""
    p, result = planned
    no_printer = R(p, teams=(R(p.teams[0], printer=False),))
    (v,) = violations_of(no_printer, result, "SKILL")
    assert (v.team_id, v.date, v.site_id, v.visit) == ("T1", FRIDAY, "A", 0)


def test_duplicate_visit_names_route_and_stop(planned):
    """The duplicated stop is named by site and visit number."""
    p, result = planned
    route = result.routes[0]
    first = route.stops[0]
    bad = R(result, routes=(R(route, stops=route.stops + (first,)),))
    (v,) = violations_of(p, bad, "DUPLICATE_VISIT")
    assert (v.team_id, v.date, v.site_id, v.visit) == ("T1", FRIDAY, first.site_id, first.visit)


def test_card_violations_name_what_they_concern(planned):
    """Cards over the team's capacity name the route; over the office stock, nothing."""
    p, result = planned
    tight = R(p, teams=(R(p.teams[0], cards_per_day=4),))
    (cards,) = violations_of(tight, result, "CARDS")
    assert (cards.team_id, cards.date, cards.site_id, cards.visit) == ("T1", FRIDAY, None, None)
    (stock,) = violations_of(R(p, card_stock=3), result, "CARD_STOCK")
    assert (stock.team_id, stock.date, stock.site_id, stock.visit) == (None, None, None, None)


def test_demand_violation_names_the_site(planned):
    """A site-level rule names the site but no route."""
    p, result = planned
    k = next(i for i, s in enumerate(result.routes[0].stops) if s.site_id == "B")
    bad = mutate_stop(result, k, persons={Service.KTP_RECORD: 11})
    (v,) = violations_of(p, bad, "OVER_DEMAND")
    assert (v.team_id, v.date, v.site_id, v.visit) == (None, None, "B", None)
