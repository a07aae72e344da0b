"""The province-size core (issue 11, items 2-3): the visit pass grouped by window and
shift patterns, node matrices as views of the place matrices, callback transits, and
exact kit windows by default."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings

from outreach.planning import SolveParams, check, solve
from outreach.planning.domain import CARD_SERVICES
from outreach.planning.explain import fits_alone, place_matrices
from outreach.planning.model import NodeMatrix, _build
from outreach.planning.synthetic import medan_problem
from outreach.planning.visits import _merge, plan_visits, split_persons
from tests.planning.test_properties import problems

QUICK = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _segments(site, shift):
    out = []
    for w in site.windows_on(shift.date):
        pieces = [(max(w.start, shift.start), min(w.end, shift.end))]
        for b in shift.breaks:
            if b.is_fixed:
                pieces = [
                    part
                    for lo, hi in pieces
                    for part in ((lo, min(hi, b.start)), (max(lo, b.end), hi))
                    if part[0] < part[1]
                ]
        out.extend(p for p in pieces if p[0] < p[1])
    return sorted(out)


def _longest(site, v):
    return max((hi - lo for lo, hi in _segments(site, v.shift)), default=0)


def reference_visits(problem, params):
    """The visit pass as it was written before grouping: every site against every
    team-day, nothing cached (the oracle for :func:`plan_visits`)."""
    matrices = place_matrices(problem)
    row = {p.key: i for i, p in enumerate(problem.places())}
    exact = params.exact_kit_windows is not False
    tick = params.time_tick_s
    out = []
    for si, site in enumerate(problem.sites):
        vehicles = [
            v
            for v in problem.vehicles
            if v.team.can_serve(site)
            and (site.lock is None or (v.team.id == site.lock.team_id and v.date == site.lock.date))
            and _longest(site, v) > 0
            and not (site.cards and v.team.cards_per_day <= 0)
        ]
        if not vehicles:
            continue
        kit_levels = sorted({v.team.kits for v in vehicles})
        parts = 1
        max_cards = max(v.team.cards_per_day for v in vehicles)
        whole = any(fits_alone(problem, site, site.demand, v, matrices, row) for v in vehicles)
        if site.lock is None and (not whole or site.cards > max_cards):
            slow = [v for v in vehicles if v.team.kits == kit_levels[0]]
            room = int(max(_longest(site, v) for v in slow) * params.split_fraction)
            room -= site.setup_s
            work = problem.service_seconds(site.demand, kit_levels[0])
            parts = min(site.persons, max(2, -(-work // max(1, room))))
            while parts < site.persons:
                big = max(split_persons(site.demand, parts), key=lambda c: sum(c.values()))
                if any(fits_alone(problem, site, big, v, matrices, row) for v in slow):
                    break
                parts = min(site.persons, parts + max(1, parts // 4))
            if site.cards and max_cards > 0:
                parts = max(parts, -(-site.cards // max_cards))
        for ci, persons in enumerate(split_persons(site.demand, parts)):
            cards = sum(n for s, n in persons.items() if s in CARD_SERVICES)
            svc = {k: problem.visit_seconds(site, persons, k) for k in kit_levels}
            usable = [
                v
                for v in vehicles
                if (not cards or v.team.cards_per_day >= cards)
                and svc[v.team.kits] <= _longest(site, v)
            ]
            slowest = {}
            for v in usable:
                slowest[v.date] = max(slowest.get(v.date, 0), -(-svc[v.team.kits] // tick))
            patterns = {}
            for v in usable:
                starts = []
                for lo_s, hi_s in _segments(site, v.shift):
                    lo = -(-lo_s // tick)
                    if hi_s >= v.shift.end:
                        hi = v.shift.end // tick
                    else:
                        own = -(-svc[v.team.kits] // tick)
                        hi = hi_s // tick - (own if exact else slowest[v.date])
                    if lo <= hi:
                        starts.append((lo, hi))
                for interval in _merge(starts):
                    patterns.setdefault(interval, []).append(v.index)
            for interval, allowed in sorted(patterns.items()):
                out.append((si, ci, persons, cards, svc, tuple(allowed), interval))
    return out


def _as_tuples(visits):
    return [
        (v.site_index, v.chunk, dict(v.persons), v.cards, dict(v.service_s), v.vehicles, v.starts)
        for v in visits
    ]


@QUICK
@given(problems())
def test_grouped_visit_pass_equals_the_per_team_day_reference(p):
    """Grouping team-days by window and shift patterns changes no visit node: same
    chunks, durations, allowed team-days and start intervals, exact and conservative."""
    for exact in (True, False):
        params = SolveParams(exact_kit_windows=exact, time_tick_s=60 if exact else 1)
        assert _as_tuples(plan_visits(p, params)) == reference_visits(p, params)


def test_grouped_visit_pass_equals_the_reference_on_a_medan_instance():
    """The same on a synthetic Medan instance (splits, printers, kit levels, Fridays)."""
    p = medan_problem(120, 6, 6, seed=5)
    params = SolveParams(exact_kit_windows=True)
    visits = plan_visits(p, params)
    assert len({(v.site_index, v.chunk) for v in visits}) > len(p.sites)  # some split
    assert _as_tuples(visits) == reference_visits(p, params)


def test_node_matrix_reads_the_place_matrix_through_the_node_rows():
    place = np.arange(16, dtype=np.int64).reshape(4, 4) * 7
    rows = np.array([0, 2, 2, 3, 1])
    m = NodeMatrix(place, rows)
    dense = place[np.ix_(rows, rows)]
    assert np.array_equal(m.dense(), dense)
    assert m[1, 3] == dense[1, 3]
    assert np.array_equal(m[4, np.array([0, 1, 2])], dense[4, [0, 1, 2]])
    assert np.array_equal((-(-m // 5)).dense(), -(-dense // 5))
    assert m.max() == dense.max()
    assert m.shape == (5, 5)


def _params(**kw):
    return SolveParams(time_limit_s=1.0, metaheuristic="GREEDY_DESCENT", seed=3, **kw)


def test_callback_transits_give_the_plan_the_matrices_give():
    """Both ways of handing travel to OR-Tools describe the same model: on an instance
    small enough for the descent to finish, the routes are identical."""
    p = medan_problem(40, 3, 3, seed=2)
    a = solve(p, _params(transits="matrix"))
    b = solve(p, _params(transits="callback"))
    assert check(p, a) == [] and check(p, b) == []
    assert a.persons_served > 0
    key = [(r.team_id, r.date, [(s.site_id, s.start) for s in r.stops]) for r in a.routes]
    assert key == [(r.team_id, r.date, [(s.site_id, s.start) for s in r.stops]) for r in b.routes]


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(problems())
def test_plans_with_callback_transits_pass_the_checker(p):
    result = solve(
        p, SolveParams(time_limit_s=0.5, metaheuristic="GREEDY_DESCENT", transits="callback")
    )
    assert check(p, result) == []
    assert result.persons_served + sum(u.total_persons for u in result.unserved) == (
        result.persons_requested
    )


def test_default_params_keep_exact_kit_windows_at_city_size():
    """The 500-site Medan instance used to fall back to conservative windows (above 2,500
    nodes), which shut closing windows to fast teams; the default now builds the exact
    nodes, with callback transits (no node x node copies)."""
    p = medan_problem(500, 8, 10, seed=1)
    model = _build(p, SolveParams())
    exact = plan_visits(p, dataclasses.replace(SolveParams(), exact_kit_windows=True))
    conservative = plan_visits(p, dataclasses.replace(SolveParams(), exact_kit_windows=False))
    assert len(exact) > 2500 > len(conservative)
    assert _as_tuples(model.visits) == _as_tuples(exact)
    assert model.transits == "callback"
    small = _build(medan_problem(30, 2, 2, seed=1), SolveParams())
    assert small.transits == "matrix"
