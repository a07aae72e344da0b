"""The restarts' own recreate step (``restart_recreate``): cheapest feasible insertion of
the visits a ruin removed, checked by loading the routes into OR-Tools unchanged and by
the independent checker."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.planning import Lock, SolveParams, check, solve
from outreach.planning.__main__ import ILS
from outreach.planning.domain import Break, Shift, TimeWindow
from outreach.planning.extract import _to_result
from outreach.planning.model import _build, _search_parameters
from outreach.planning.search import _Recreate, _restore, _routes_of
from outreach.planning.synthetic import medan_problem

from .builders import MONDAY, at, problem, site, team

ALL_SERVICES = ("ktp_record", "ktp_print", "birth_cert", "kia")


def _closed(p, params=None):
    params = params or SolveParams(time_limit_s=1)
    model = _build(p, params)
    model.routing.CloseModelWithParameters(_search_parameters(len(model.visits), params, 1.0))
    return model


def _all_visits(model) -> list[int]:
    return [model.manager.NodeToIndex(model.depot_nodes + k) for k in range(len(model.visits))]


def _visit(model, index):
    return model.visits[model.manager.IndexToNode(index) - model.depot_nodes]


def _assert_loads_unchanged_and_checks(p, model, routes) -> None:
    """OR-Tools takes the routes as they are and the checker finds nothing wrong."""
    keys = [(_visit(model, i).site_index, _visit(model, i).chunk) for r in routes for i in r]
    assert len(keys) == len(set(keys)), "a site chunk placed twice"
    restored = _restore(model, routes)
    assert restored is not None, "OR-Tools rejected the recreated routes"
    assert _routes_of(model, restored) == routes
    result = _to_result(p, model, restored, "TEST", time.monotonic(), (), fill=False)
    assert check(p, result) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_sites=st.integers(3, 30),
    n_teams=st.integers(1, 3),
    days=st.integers(1, 2),
    seed=st.integers(0, 10_000),
    stock=st.sampled_from([None, 0, 40, 400]),
    rng_seed=st.integers(0, 2**31),
)
def test_recreate_from_nothing_gives_routes_that_load_and_check(
    n_sites, n_teams, days, seed, stock, rng_seed
):
    """Inserting every visit into empty routes: each site chunk at most once, cards per
    team-day and the office's stock kept, windows and shifts kept (the checker's verdict),
    and OR-Tools loads exactly these routes."""
    p = medan_problem(
        n_sites=n_sites, n_teams=n_teams, working_days=days, seed=seed, card_stock=stock
    )
    model = _closed(p)
    rng = np.random.default_rng(rng_seed)
    everything = _all_visits(model)
    rng.shuffle(everything)
    routes = _Recreate(model)([[] for _ in model.vehicles], everything, rng)
    assert any(routes), "nothing inserted although the routes were empty"
    _assert_loads_unchanged_and_checks(p, model, routes)
    if stock is not None:
        cards = sum(_visit(model, i).cards for r in routes for i in r)
        assert cards <= stock


@pytest.mark.parametrize("seed", range(5))
def test_recreate_after_a_ruin_keeps_the_kept_visits_in_order(seed):
    """Visits that stayed keep their routes and relative order; removed ones come back
    where they fit; the result loads and checks."""
    p = medan_problem(n_sites=20, n_teams=2, working_days=2, seed=seed)
    model = _closed(p)
    rng = np.random.default_rng(seed)
    recreate = _Recreate(model)
    full = recreate([[] for _ in model.vehicles], _all_visits(model), rng)
    kept = [[i for i in r if rng.random() > 0.3] for r in full]
    removed = [i for r in full for i in r if i not in {j for q in kept for j in q}]
    again = recreate(kept, removed, rng)
    for before, after in zip(kept, again, strict=True):
        assert [i for i in after if i in set(before)] == before
    assert sum(map(len, again)) >= sum(map(len, kept))
    _assert_loads_unchanged_and_checks(p, model, again)


def test_recreate_leaves_flexible_breaks_and_locked_routes_to_the_search():
    """A team-day with a flexible break or a locked visit gets no insertion of ours."""
    lunch = Shift(
        date=MONDAY,
        start=8 * 3600,
        end=16 * 3600,
        breaks=(Break(start=12 * 3600, end=13 * 3600, name="lunch", duration=1800),),
    )
    sites = [site(f"S{i}", location=at(0.002 * i, 0.001)) for i in range(6)]
    sites[0] = site("S0", location=at(0.0, 0.001), lock=Lock("T2", MONDAY, 0))
    p = problem(sites, [team("T1", shifts=[lunch]), team("T2"), team("T3")])
    model = _closed(p)
    by_team = {v.team.id: v.index for v in model.vehicles}
    recreate = _Recreate(model)
    assert not recreate.usable[by_team["T1"]]
    assert not recreate.usable[by_team["T2"]]
    assert recreate.usable[by_team["T3"]]
    free = [i for i in _all_visits(model) if i not in model.locked]
    routes = recreate([[] for _ in model.vehicles], free, np.random.default_rng(0))
    assert routes[by_team["T1"]] == [] and routes[by_team["T2"]] == []
    assert routes[by_team["T3"]]


def test_a_visit_that_fits_nowhere_stays_out():
    """A site open only before the shift starts is never inserted."""
    early = {MONDAY.weekday(): [TimeWindow(5 * 3600, 6 * 3600)]}
    sites = [
        site("S1", location=at(0.001, 0.001)),
        site("S2", location=at(0.002, 0.0), windows=early),
    ]
    p = problem(sites, [team("T1")])
    model = _closed(p)
    routes = _Recreate(model)([[]], _all_visits(model), np.random.default_rng(1))
    placed = {p.sites[_visit(model, i).site_index].id for r in routes for i in r}
    assert placed == {"S1"}


def test_solve_with_recreate_restarts_gives_a_checked_plan():
    """The option end to end: restarts run and the plan passes the checker."""
    p = medan_problem(n_sites=25, n_teams=2, working_days=2, seed=5)
    params = SolveParams(time_limit_s=2, **{**ILS, "workers": 1, "restart_recreate": True})
    result = solve(p, params)
    assert result.is_feasible(), result.status
    assert check(p, result) == []
    assert result.persons_served > 0


def test_recreate_keeps_cards_per_team_day():
    """A printer team with 5 cards a day takes one 4-card site; a team without a printer
    takes none; the sites without cards go anywhere."""
    sites = [
        site(f"K{i}", location=at(0.001 * i, 0.001), demand={"ktp_print": 4}) for i in range(3)
    ] + [site(f"B{i}", location=at(0.001, 0.001 * i), demand={"birth_cert": 3}) for i in range(2)]
    p = problem(
        sites, [team("T1", printer=True, cards_per_day=5, services=ALL_SERVICES), team("T2")]
    )
    model = _closed(p)
    assert all(_visit(model, i).cards in (0, 4) for i in _all_visits(model))
    routes = _Recreate(model)(
        [[] for _ in model.vehicles], _all_visits(model), np.random.default_rng(2)
    )
    by_team = {v.team.id: v.index for v in model.vehicles}
    cards = {t: sum(_visit(model, i).cards for i in routes[vi]) for t, vi in by_team.items()}
    assert cards == {"T1": 4, "T2": 0}
    placed = {p.sites[_visit(model, i).site_index].id for r in routes for i in r}
    assert {"B0", "B1"} <= placed
    _assert_loads_unchanged_and_checks(p, model, routes)
