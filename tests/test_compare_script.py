"""benchmarks/compare.py: instance sets, halves, classes and the summary maths (no solving)."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"


def _load():
    spec = importlib.util.spec_from_file_location("compare_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


cmp = _load()
needs_data = pytest.mark.skipif(
    not (cmp.DATA / "solomon").is_dir(), reason="../shared/benchmarks is not present"
)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("C101", "C1"),
        ("C208", "C2"),
        ("R112", "R1"),
        ("R211", "R2"),
        ("RC101", "RC1"),
        ("RC208", "RC2"),
        ("rc205", "RC2"),
        ("pr01", None),
        ("R3107", None),
    ],
)
def test_solomon_class_from_the_prefix_rc_before_r(name, cls):
    assert cmp.solomon_class(name) == cls


def test_the_56_names_and_their_halves_without_files():
    """The fixed split: the sorted 56 names alternate tune, holdout; 28 + 28."""
    assert len(cmp.SOLOMON_56) == 56 == len(set(cmp.SOLOMON_56))
    halves = Counter(cmp.half_of(n, "solomon") for n in cmp.SOLOMON_56)
    assert halves == {"tune": 28, "holdout": 28}
    assert [cmp.half_of(n, "solomon") for n in ("C101", "C102", "C201", "C202")] == [
        "tune",
        "holdout",
        "holdout",
        "tune",
    ]
    assert cmp.half_of("pr01", "toptw") == "tune"
    assert cmp.half_of("pr10", "toptw") == "holdout"


@needs_data
def test_solomon56_is_every_file_in_the_folder():
    files = sorted(p.stem for p in (cmp.DATA / "solomon").glob("*.txt"))
    assert files == list(cmp.SOLOMON_56)
    specs = cmp.parse_specs("solomon56", cmp.DATA)
    assert [s.name for s in specs] == list(cmp.SOLOMON_56)
    assert all(s.fmt == "solomon" and s.path.exists() for s in specs)


@needs_data
def test_solomon56_halves_split_every_class():
    specs = cmp.parse_specs("solomon56", cmp.DATA)
    tune = cmp.select_half(specs, "tune")
    holdout = cmp.select_half(specs, "holdout")
    assert len(tune) == len(holdout) == 28
    assert {s.name for s in tune}.isdisjoint(s.name for s in holdout)
    assert len(cmp.select_half(specs, "all")) == 56
    per_class = Counter((s.cls, s.half) for s in specs)
    sizes = Counter(s.cls for s in specs)
    assert set(sizes) == set(cmp.SOLOMON_CLASSES)
    for cls in cmp.SOLOMON_CLASSES:
        t, h = per_class[(cls, "tune")], per_class[(cls, "holdout")]
        assert t + h == sizes[cls]
        assert t >= 4 and h >= 4 and abs(t - h) <= 1, cls


@needs_data
def test_toptw_40_split_by_instance():
    specs = cmp.parse_specs("toptw", cmp.DATA)
    assert len(specs) == 40
    tune = cmp.select_half(specs, "tune")
    holdout = cmp.select_half(specs, "holdout")
    assert len(tune) == len(holdout) == 20
    assert {s.name for s in tune} == {"pr01", "pr03", "pr05", "pr07", "pr09"}
    assert {s.name for s in holdout} == {"pr02", "pr04", "pr06", "pr08", "pr10"}
    assert Counter(s.paths for s in tune) == {1: 5, 2: 5, 3: 5, 4: 5}
    assert all(s.cls == "toptw" for s in specs)


@needs_data
def test_sets_keep_old_meanings_and_drop_duplicates():
    assert [s.name for s in cmp.parse_specs("solomon", cmp.DATA)] == cmp.SOLOMON_12
    assert len(cmp.parse_specs("all", cmp.DATA)) == 12 + 40
    families = cmp.parse_specs("families", cmp.DATA)
    assert len(families) == 56 + 40
    assert len(cmp.parse_specs("solomon,solomon56,C101,pr01:2,toptw", cmp.DATA)) == 96
    named = cmp.parse_specs("C101,C102,pr01:2,c101:3", cmp.DATA)
    assert [s.label for s in named] == ["C101", "C102", "pr01:2", "c101:3"]
    assert [s.cls for s in named] == ["C1", "C1", "toptw", "toptw"]
    # The split applies to named instances too: a tuning run never sees C102.
    assert [s.label for s in cmp.select_half(named, "tune")] == ["C101", "pr01:2", "c101:3"]


def test_parse_seeds():
    assert cmp.parse_seeds("1,2,3") == [1, 2, 3]
    assert cmp.parse_seeds(" 3, 1,3,") == [3, 1]
    with pytest.raises(ValueError):
        cmp.parse_seeds("1,x")
    with pytest.raises(ValueError):
        cmp.parse_seeds(",")


# ------------------------------------------------------------------- summary maths


def _run(instance, gap, *, solver="ours", seed=1, half="tune", feasible=True, m=None):
    fmt = "solomon" if m is None else "toptw"
    return {
        "instance": instance if m is None else f"{instance}:{m}",
        "format": fmt,
        "class": cmp.solomon_class(instance) if fmt == "solomon" else "toptw",
        "half": half,
        "m": m,
        "seed": seed,
        "solver": solver,
        "value": None,
        "bks": 100.0,
        "feasible": feasible,
        "gap": gap if feasible else None,
        "error": "",
    }


def test_solomon_summary_mean_worst_and_met():
    runs = [
        _run("C101", 0.0),
        _run("C101", 0.5, seed=2),
        _run("R201", 2.5),
        _run("R201", 1.0, seed=2, half="holdout"),
    ]
    summary = cmp.summarise(runs, ["ours"])
    assert set(summary) == {"all", "tune", "holdout"}
    sol = summary["all"]["solomon"]["ours"]
    overall = sol["groups"]["overall"]
    assert overall["runs"] == overall["feasible"] == 4
    assert overall["mean_gap"] == pytest.approx(1.0)
    assert overall["worst"] == {"instance": "R201", "seed": 1, "gap": 2.5}
    assert list(sol["groups"]) == ["C1", "R2", "overall"]
    assert sol["groups"]["C1"]["mean_gap"] == pytest.approx(0.25)
    assert sol["groups"]["R2"]["worst"]["seed"] == 1
    assert sol["target"]["met"]  # a mean of exactly 1.0 % meets "≤ 1.0 %"
    tune = summary["tune"]["solomon"]["ours"]
    assert tune["groups"]["overall"]["runs"] == 3
    assert tune["groups"]["overall"]["mean_gap"] == pytest.approx(1.0)
    assert summary["holdout"]["solomon"]["ours"]["groups"]["overall"]["runs"] == 1


@pytest.mark.parametrize(
    ("gaps", "feasible", "met", "why"),
    [
        ([0.0, 0.0, 3.0], True, True, None),  # both limits exactly: met
        ([0.2, 0.4, 3.1], True, False, "R201 seed 1 at 3.10 % > 3 %"),
        ([1.2, 1.0, 1.1], True, False, "mean gap 1.10 % > 1 %"),
        ([0.1, 0.1, 0.1], False, False, "1 infeasible or failed run(s)"),
    ],
)
def test_solomon_target(gaps, feasible, met, why):
    runs = [_run("C101", gaps[0]), _run("C201", gaps[1]), _run("R201", gaps[2])]
    runs[1]["feasible"] = feasible
    runs[1]["gap"] = gaps[1] if feasible else None
    target = cmp.summarise(runs)["all"]["solomon"]["ours"]["target"]
    assert target["met"] is met
    assert target["target"] == "mean gap ≤ 1.0 %, none above 3 %, all feasible"
    if why:
        assert why in target["why"]
    if not feasible:
        failed = cmp.summarise(runs)["all"]["solomon"]["ours"]["groups"]["overall"]["failed"]
        assert failed == [{"instance": "C201", "seed": 1, "error": ""}]


@pytest.mark.parametrize(
    ("gaps", "met", "why"),
    [
        ([2.0, 6.0, 4.0], True, None),  # 98, 94, 96 % of the best known: mean 96 %
        ([0.0, 0.0, 10.5], False, "pr01:3 seed 1 at 89.50 % < 90 %"),
        ([5.0, 5.0, 2.03], False, "mean 95.99 % < 96 %"),
    ],
)
def test_toptw_target(gaps, met, why):
    runs = [_run("pr01", g, m=m) for g, m in zip(gaps, (1, 2, 3), strict=True)]
    data = cmp.summarise(runs)["all"]["toptw"]["ours"]
    assert list(data["groups"]) == ["m=1", "m=2", "m=3", "overall"]
    assert data["target"]["met"] is met
    assert data["target"]["target"] == "mean ≥ 96 %, none below 90 %, all feasible"
    assert data["target"]["why"] == ([why] if why else [])


def test_two_solvers_and_printed_summary():
    runs = [
        _run("C101", 0.5, half="tune"),
        _run("C101", 0.0, solver="pyvrp", half="tune"),
        _run("C102", 4.0, half="holdout"),
        _run("C102", 0.1, solver="pyvrp", half="holdout"),
        _run("pr02", 1.0, m=2, half="holdout"),
        _run("pr02", 0.0, m=2, solver="pyvrp", half="holdout"),
    ]
    summary = cmp.summarise(runs, ["ours", "pyvrp"])
    assert not summary["all"]["solomon"]["ours"]["target"]["met"]
    assert summary["all"]["solomon"]["pyvrp"]["target"]["met"]
    assert summary["tune"]["solomon"]["ours"]["target"]["met"]
    assert "toptw" not in summary["tune"]
    text = "\n".join(cmp.format_summary(summary))
    titles = [line for line in text.splitlines() if line.startswith("== summary")]
    assert titles == [
        "== summary: tune half ==",
        "== summary: holdout half ==",
        "== summary: tune + holdout together ==",
    ]
    assert "C102 seed 1: 4.00 %" in text
    assert "NOT MET" in text
    assert "pyvrp  MET" in text
    assert "pr02:2 seed 1: 99.00 %" in text


def test_one_half_only_gives_one_scope():
    summary = cmp.summarise([_run("C101", 0.0, half="holdout")])
    assert list(summary) == ["all"]
    assert summary["all"]["halves"] == ["holdout"]
    assert cmp.format_summary(summary)[0] == "== summary: all runs (holdout half only) =="


def test_run_records_flatten_rows_and_count_errors_as_failed():
    ok = cmp.Outcome("ours", value=830.0, feasible=True)
    failed = cmp.Outcome("pyvrp", feasible=True, error="RuntimeError: boom")
    row = {
        "instance": "C101",
        "format": "solomon",
        "m": None,
        "seed": 3,
        "class": "C1",
        "half": "tune",
        "bks": 827.3,
        "outcomes": {"ours": ok, "pyvrp": failed},
        "gaps": {"ours": 0.33, "pyvrp": None},
    }
    runs = cmp.run_records([row])
    assert [(r["solver"], r["seed"], r["feasible"], r["gap"]) for r in runs] == [
        ("ours", 3, True, 0.33),
        ("pyvrp", 3, False, None),
    ]
    summary = cmp.summarise(runs)
    assert summary["all"]["solomon"]["ours"]["target"]["met"]
    assert not summary["all"]["solomon"]["pyvrp"]["target"]["met"]


def test_params_are_json_values_and_a_bad_one_is_named():
    """``--param KEY=JSON`` (shared with ls_profile.py): JSON values, a bare key is None."""
    assert cmp.parse_params(["restarts=5", ' metaheuristic="TABU_SEARCH"', "seed"]) == {
        "restarts": 5,
        "metaheuristic": "TABU_SEARCH",
        "seed": None,
    }
    with pytest.raises(ValueError, match=r"--param 'metaheuristic=TABU': the value must be JSON"):
        cmp.parse_params(["metaheuristic=TABU"])
