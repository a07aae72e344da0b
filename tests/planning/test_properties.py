"""Property tests: random small instances always give plans the checker accepts."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.planning import (
    FRIDAY_PRAYER,
    Location,
    Problem,
    Service,
    Shift,
    Site,
    SolveParams,
    Team,
    TimeWindow,
    check,
    solve,
)

THURSDAY = date(2026, 6, 4)  # so a 2-3 day horizon includes the Friday prayer
OFFICE = Location(3.5952, 98.6722)


@st.composite
def windows(draw):
    if draw(st.booleans()):
        return None
    out = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1, max_size=7)):
        start = draw(st.integers(6 * 60, 15 * 60)) * 60
        length = draw(st.integers(20, 8 * 60)) * 60
        first = TimeWindow(start, min(86_400, start + length))
        out[weekday] = [first]
        if first.end + 3600 < 20 * 3600 and draw(st.booleans()):
            out[weekday].append(TimeWindow(first.end + 3600, 20 * 3600))
    return out


@st.composite
def sites(draw, index: int):
    services = draw(st.sets(st.sampled_from(list(Service)), min_size=1, max_size=3))
    demand = {s: draw(st.integers(1, 120)) for s in services}
    return Site(
        id=f"S{index}",
        name=f"Site {index}",
        location=Location(
            OFFICE.lat + draw(st.floats(-0.08, 0.08)), OFFICE.lon + draw(st.floats(-0.08, 0.08))
        ),
        demand=demand,
        priority=draw(st.integers(1, 5)),
        windows=draw(windows()),
        setup_s=draw(st.integers(0, 1800)),
    )


@st.composite
def problems(draw):
    days = [THURSDAY + timedelta(days=k) for k in range(draw(st.integers(1, 3)))]
    teams = []
    for t in range(draw(st.integers(1, 3))):
        worked = draw(st.lists(st.sampled_from(days), min_size=1, unique=True))
        start = draw(st.integers(7, 9)) * 3600
        end = start + draw(st.integers(4, 9)) * 3600
        shifts = tuple(
            Shift(
                d,
                start,
                end,
                (FRIDAY_PRAYER,)
                if d.weekday() == 4 and start <= FRIDAY_PRAYER.start and FRIDAY_PRAYER.end <= end
                else (),
            )
            for d in worked
        )
        printer = draw(st.booleans())
        teams.append(
            Team(
                id=f"T{t}",
                name=f"Team {t}",
                start=OFFICE,
                profile=draw(st.sampled_from(["car", "motorbike"])),
                kits=draw(st.integers(1, 3)),
                services=frozenset(
                    draw(st.sets(st.sampled_from(list(Service)), min_size=1, max_size=4))
                ),
                printer=printer,
                cards_per_day=draw(st.integers(0, 80)) if printer else 0,
                shifts=shifts,
            )
        )
    n = draw(st.integers(1, 12))
    return Problem(
        sites=tuple(draw(sites(i)) for i in range(n)),
        teams=tuple(teams),
        horizon=tuple(days),
        card_stock=draw(st.one_of(st.none(), st.integers(0, 200))),
    )


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(problems())
def test_every_plan_passes_the_checker(p):
    """For random small problems, the plan is feasible and independently valid (SECURITY row 43)."""
    result = solve(p, SolveParams(time_limit_s=0.5, metaheuristic="GREEDY_DESCENT"))
    assert result.status != "ROUTING_INVALID"
    assert check(p, result) == []
    served = result.persons_served + sum(u.total_persons for u in result.unserved)
    assert served == result.persons_requested
    assert all(u.reason for u in result.unserved)
