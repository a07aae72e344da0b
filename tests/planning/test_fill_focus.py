"""The orienteering restarts: the prize-aware fill of a ruined plan (``restart_fill``) and
the descent on a model of the sites that fit (``restart_focus``). OR-Tools is the oracle
of what fits: a single insertion fits when OR-Tools loads the routes with it unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.planning import Lock, SolveParams, check, solve
from outreach.planning.__main__ import ILS, TUNED, benchmark_params
from outreach.planning.readers import read_toptw, toptw_to_problem
from outreach.planning.search import _Focus, _Recreate, _restore, _routes_of, _ruin
from outreach.planning.synthetic import medan_problem

from .builders import MONDAY, at, problem, site, team
from .test_recreate import _all_visits, _assert_loads_unchanged_and_checks, _closed, _visit

BENCHMARKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchmarks"


def _fits(model, routes, index) -> bool:
    """Whether OR-Tools takes ``index`` inserted at some position of some route as is."""
    for vi, route in enumerate(routes):
        if vi not in _visit(model, index).vehicles:
            continue
        for pos in range(len(route) + 1):
            trial = [list(r) for r in routes]
            trial[vi].insert(pos, index)
            restored = _restore(model, trial)
            if restored is not None and _routes_of(model, restored) == trial:
                return True
    return False


def _unplaced(model, routes) -> list[int]:
    placed = {(_visit(model, i).site_index, _visit(model, i).chunk) for r in routes for i in r}
    return [
        i
        for i in _all_visits(model)
        if (_visit(model, i).site_index, _visit(model, i).chunk) not in placed
    ]


def _ruined(model, rng) -> tuple[list[list[int]], list[int]]:
    """A full plan of our insertion with about a third of its visits removed."""
    full = _Recreate(model)([[] for _ in model.vehicles], _all_visits(model), rng)
    kept = [[i for i in r if rng.random() > 0.3] for r in full]
    removed = [i for r in full for i in r if i not in {j for q in kept for j in q}]
    return kept, removed


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_sites=st.integers(3, 14),
    n_teams=st.integers(1, 2),
    seed=st.integers(0, 10_000),
    stock=st.sampled_from([None, 0, 40]),
    rng_seed=st.integers(0, 2**31),
)
def test_fill_loads_checks_and_leaves_nothing_that_fits(n_sites, n_teams, seed, stock, rng_seed):
    """The fill of a ruined plan loads into OR-Tools unchanged and passes the checker,
    keeps the kept visits in order, puts none of the removed ones back, and stops only
    when no other unvisited visit fits anywhere (without blinks)."""
    p = medan_problem(n_sites=n_sites, n_teams=n_teams, working_days=1, seed=seed, card_stock=stock)
    model = _closed(p)
    rng = np.random.default_rng(rng_seed)
    kept, removed = _ruined(model, rng)
    fill = _Recreate(model)
    fill.BLINK = 0.0
    filled = fill.fill(kept, rng, skip=removed)
    _assert_loads_unchanged_and_checks(p, model, filled)
    for before, after in zip(kept, filled, strict=True):
        assert [i for i in after if i in set(before)] == before
    # a removed site chunk stays out, by whichever of its nodes (one per kit level)
    out = {(_visit(model, i).site_index, _visit(model, i).chunk) for i in removed}
    for index in [i for r in filled for i in r]:
        assert (_visit(model, index).site_index, _visit(model, index).chunk) not in out
    for index in _unplaced(model, filled):
        if (_visit(model, index).site_index, _visit(model, index).chunk) not in out:
            assert not _fits(model, filled, index), f"visit {index} fits but was left out"


def test_fill_takes_the_best_value_per_added_tick_first():
    """A one-hour shift with room for one of five sites at different distances and of
    different sizes: the fill takes the one of most residents per added tick, computed
    here from the model's travel, service and windows."""
    sites = [
        site(f"S{i}", location=at(0.003 * i, 0.002 * (5 - i)), demand={"ktp_record": 4 + 7 * i})
        for i in range(1, 6)
    ]
    p = problem(sites, [team("T1", start="08:00", end="09:00")])
    model = _closed(p, SolveParams(time_limit_s=1, balance_coefficient=0))
    fill = _Recreate(model)
    fill.BLINK = 0.0
    route = fill.fill([[]], np.random.default_rng(0))[0]
    assert len(route) == 1, "the shift was meant to hold one visit"
    start, end, shift_lo, shift_hi = fill.veh[0][:4]
    svc, tt = model.service[1], fill.travel["car"]
    ratios = {}
    for i in _all_visits(model):
        node = model.manager.IndexToNode(i)
        s = max(int(fill.lo[node - fill.d0]), shift_lo + int(svc[start] + tt[start, node]))
        back = s + int(svc[node]) + int(tt[node, end])
        if s <= fill.hi[node - fill.d0] and back <= shift_hi:
            direct = shift_lo + int(svc[start] + tt[start, end])
            ratios[i] = fill.value[node - fill.d0] / max(1, back - direct)
    assert len(ratios) > 1, "more than one site was meant to fit alone"
    assert route[0] == max(ratios, key=ratios.get)
    assert ratios[route[0]] > min(ratios.values())


@pytest.mark.parametrize("seed", range(4))
def test_focus_candidates_are_exactly_the_visits_that_fit(seed):
    """Every unvisited visit OR-Tools takes by a single insertion into the ruined plan is
    a candidate of the focused model, and (without cards, which the test leaves out)
    every candidate fits."""
    p = medan_problem(n_sites=14, n_teams=2, working_days=1, seed=seed)
    model = _closed(p, SolveParams(time_limit_s=1, balance_coefficient=0))
    rng = np.random.default_rng(seed)
    kept, _ = _ruined(model, rng)
    focus = _Focus(model)
    assert focus.usable
    candidates = set(focus.candidates(kept))
    for index in _unplaced(model, kept):
        fits = _fits(model, kept, index)
        if fits:
            assert index in candidates, f"visit {index} fits but is not a candidate"
        elif not _visit(model, index).cards:
            assert index not in candidates, f"visit {index} is a candidate but fits nowhere"


@pytest.mark.parametrize("paths", [1, 3])
def test_focused_descent_gives_the_whole_models_objective(paths):
    """The focused descent's routes load into the whole model, and the objective it
    reports (penalties re-priced at the whole model's) is the whole model's objective of
    those routes; the descent improves the ruined plan."""
    bench = toptw_to_problem(
        read_toptw(BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr03.txt"), paths
    )
    params = benchmark_params(1, 1, **TUNED["toptw"])
    model = _closed(bench.problem, params)
    rng = np.random.default_rng(paths)
    fill = _Recreate(model)
    plan = fill.fill([[] for _ in model.vehicles], rng)
    ruined = _ruin(model, plan, rng, params)
    focus = _Focus(model)
    got = focus.descend(ruined, 2.0)
    assert got is not None
    routes, objective = got
    whole = _restore(model, routes)
    assert whole is not None and _routes_of(model, whole) == routes
    assert objective == whole.ObjectiveValue()
    assert objective <= _restore(model, ruined).ObjectiveValue()


def test_focus_keeps_the_whole_model_where_the_smaller_one_would_differ():
    """With a locked visit (left to the search) or the soft balance (whose share of the
    work counts every site) the restarts keep the whole model."""
    sites = [site(f"S{i}", location=at(0.002 * i, 0.001)) for i in range(1, 4)]
    teams = [team("T1"), team("T2")]
    assert _Focus(_closed(problem(sites, teams), SolveParams(balance_coefficient=0))).usable
    assert not _Focus(_closed(problem(sites, teams), SolveParams(balance_coefficient=5))).usable
    locked = site("S0", location=at(0.0, 0.001), lock=Lock("T1", MONDAY, 0))
    params = SolveParams(balance_coefficient=0)
    assert not _Focus(_closed(problem([locked, *sites], teams), params)).usable


@pytest.mark.parametrize(
    "options",
    [
        {"restart_fill": True},
        {"restart_focus": True},
        {"restart_fill": True, "restart_focus": True},
    ],
)
def test_solve_with_fill_and_focus_gives_a_checked_plan(options, monkeypatch):
    """Each option end to end on an office's problem (without the soft balance, which
    keeps the whole model): the restarts run through it and the plan checks."""
    calls = {"fill": 0, "descend": 0}
    for name, cls in (("fill", _Recreate), ("descend", _Focus)):
        original = getattr(cls, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)
    p = medan_problem(n_sites=25, n_teams=2, working_days=2, seed=5)
    params = {**ILS, "workers": 1, "balance_coefficient": 0, **options}
    result = solve(p, SolveParams(time_limit_s=2, **params))
    assert result.is_feasible(), result.status
    assert check(p, result) == []
    assert result.persons_served > 0
    assert (calls["fill"] > 0) == bool(options.get("restart_fill"))
    assert (calls["descend"] > 0) == bool(options.get("restart_focus"))
