"""Benchmark readers on the shipped Solomon and TOPTW files, and their mapping onto the model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from outreach.planning.domain import Service
from outreach.planning.readers import (
    BENCHMARK_DATE,
    BenchmarkFormatError,
    check_solomon_routes,
    check_toptw_routes,
    read_solomon,
    read_toptw,
    solomon_to_problem,
    toptw_to_problem,
    truncated_distances,
)

BENCHMARKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchmarks"

pytestmark = pytest.mark.skipif(
    not BENCHMARKS.is_dir(),
    reason=f"benchmark files not found at {BENCHMARKS} (expected ../shared beside the repo)",
)

SOLOMON_NAMES = [
    *(f"C1{i:02d}" for i in range(1, 10)),
    *(f"C2{i:02d}" for i in range(1, 9)),
    *(f"R1{i:02d}" for i in range(1, 13)),
    *(f"R2{i:02d}" for i in range(1, 12)),
    *(f"RC1{i:02d}" for i in range(1, 9)),
    *(f"RC2{i:02d}" for i in range(1, 9)),
]


def test_all_56_solomon_files_have_100_customers_and_25_vehicles() -> None:
    """Every shipped Solomon file parses into 100 customers, ids 1..100, and a fleet of 25."""
    assert len(SOLOMON_NAMES) == 56
    for name in SOLOMON_NAMES:
        inst = read_solomon(BENCHMARKS / "solomon" / f"{name}.txt")
        assert inst.name == name
        assert inst.num_vehicles == 25
        assert [c.id for c in inst.customers] == list(range(1, 101))
        assert inst.depot.id == 0 and inst.depot.demand == 0


def test_solomon_c101_first_and_last_customer_and_depot() -> None:
    """C101 reads capacity 200, depot due 1236 and the exact first and last customer rows."""
    inst = read_solomon(BENCHMARKS / "solomon" / "C101.txt")
    assert inst.capacity == 200
    assert (inst.depot.x, inst.depot.y, inst.depot.ready, inst.depot.due) == (40, 50, 0, 1236)
    first, last = inst.customers[0], inst.customers[-1]
    assert (first.id, first.x, first.y, first.demand, first.ready, first.due, first.service) == (
        1, 45, 68, 10, 912, 967, 90,
    )  # fmt: skip
    assert (last.id, last.x, last.y, last.demand, last.ready, last.due, last.service) == (
        100, 55, 85, 20, 647, 726, 90,
    )  # fmt: skip


def test_solomon_r101_and_rc208_depot_due_dates() -> None:
    """The depot's due date (latest return) is read per file: R101 230, RC208 960."""
    r101 = read_solomon(BENCHMARKS / "solomon" / "R101.txt")
    assert r101.depot.due == 230 and r101.capacity == 200
    last = r101.customers[-1]
    assert (last.x, last.y, last.demand, last.ready, last.due, last.service) == (
        18, 18, 17, 185, 195, 10,
    )  # fmt: skip
    assert read_solomon(BENCHMARKS / "solomon" / "RC208.txt").depot.due == 960


def test_solomon_distances_are_truncated_to_tenths() -> None:
    """C101 depot→customer 1 is sqrt(349) = 18.68..., stored as 186 tenths (floor, not round)."""
    inst = read_solomon(BENCHMARKS / "solomon" / "C101.txt")
    matrix = inst.distance_matrix()
    assert matrix[0, 1] == math.floor(10 * math.sqrt(5**2 + 18**2)) == 186
    assert (matrix == matrix.T).all() and (matrix.diagonal() == 0).all()


def test_truncation_is_exact_on_perfect_squares_and_two_decimals() -> None:
    """A 3-4-5 triangle gives exactly 5.0 (500 hundredths) and 0.019 truncates to 0.01."""
    m = truncated_distances([0.0, 3.0, 3.0], [0.0, 4.0, 4.019], decimals=2)
    assert m[0, 1] == 500
    assert m[1, 2] == 1


def test_toptw_pr01_budget_profits_and_windows() -> None:
    """pr01 has 48 vertices, Tmax 1000, two-decimal distances and the file's first/last rows."""
    inst = read_toptw(BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr01.txt")
    assert inst.name == "pr01" and inst.decimals == 2 and inst.scale == 100
    assert len(inst.vertices) == 48 and inst.tmax == 1000
    first, last = inst.vertices[0], inst.vertices[-1]
    assert (first.id, first.x, first.y, first.duration, first.profit) == (1, -29.73, 64.136, 2, 12)
    assert (first.open, first.close) == (354, 509)
    assert (last.id, last.duration, last.profit, last.open, last.close) == (48, 17, 10, 98, 233)
    assert sum(v.profit for v in inst.vertices) == 657


def test_toptw_pr10_has_288_vertices_with_six_entry_visit_lists() -> None:
    """pr10's last vertex carries a six-entry visit list, and its window is still read last."""
    inst = read_toptw(BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr10.txt")
    assert len(inst.vertices) == 288 and inst.tmax == 1000
    last = inst.vertices[-1]
    assert (last.id, last.duration, last.profit, last.open, last.close) == (288, 15, 25, 387, 493)


def test_toptw_solomon_based_files_use_one_decimal_and_depot_close_as_budget() -> None:
    """r101 (type 1) has Tmax 230 and one-decimal distances; c204's split header still parses."""
    r101 = read_toptw(BENCHMARKS / "toptw" / "solomon_type1" / "r101.txt")
    assert r101.decimals == 1 and r101.tmax == 230 and len(r101.vertices) == 100
    last = r101.vertices[-1]
    assert (last.id, last.duration, last.profit, last.open, last.close) == (100, 10, 17, 185, 195)
    c204 = read_toptw(BENCHMARKS / "toptw" / "solomon_type2" / "c204.txt")
    assert c204.tmax == 3390 and len(c204.vertices) == 100
    assert c204.vertices[0].close == 3272


def test_all_66_toptw_files_parse() -> None:
    """Every shipped TOPTW file parses, with N vertices as its header says."""
    files = sorted((BENCHMARKS / "toptw").glob("*/*.txt"))
    assert len(files) == 66
    for path in files:
        inst = read_toptw(path)
        assert len(inst.vertices) == inst.header[2]
        assert inst.decimals == (2 if path.stem.startswith("pr") else 1)


def test_reader_errors_name_file_and_line(tmp_path: Path) -> None:
    """A malformed customer line is rejected with the file and line number in the message."""
    bad = tmp_path / "bad.txt"
    bad.write_text(
        "X1\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\n\nCUSTOMER\nCUST NO. ...\n"
        " 0 0 0 0 0 100 0\n 1 1 abc 1 0 50 5\n"
    )
    with pytest.raises(BenchmarkFormatError, match=r"bad\.txt:10: 'abc' is not a number"):
        read_solomon(bad)
    with pytest.raises(BenchmarkFormatError, match="file not found"):
        read_toptw(tmp_path / "missing.txt")
    with pytest.raises(BenchmarkFormatError, match="VEHICLE and CUSTOMER"):
        read_solomon(BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr01.txt")


def test_solomon_maps_onto_problem_with_cards_as_capacity() -> None:
    """C101 becomes 100 required sites and 25 one-shift teams whose card limit is the capacity."""
    bench = solomon_to_problem(read_solomon(BENCHMARKS / "solomon" / "C101.txt"))
    problem = bench.problem
    assert len(problem.sites) == 100 and len(problem.vehicles) == 25
    site = problem.sites[0]
    assert site.required and dict(site.demand) == {Service.KTP_PRINT: 10}
    assert site.setup_s == 900
    (window,) = site.windows_on(BENCHMARK_DATE)
    assert (window.start, window.end) == (9120, 9670 + 900)
    team = problem.teams[0]
    assert team.cards_per_day == 200 and team.offers(Service.KTP_PRINT)
    assert (team.shifts[0].start, team.shifts[0].end) == (0, 12360)
    dist, dur = problem.travel.matrices(problem.places(), team.profile)
    assert dist[0, 1] == dur[0, 1] == 20  # customers 1 and 2: sqrt(0 + 4) = 2.0 = 20 tenths
    assert problem.visit_seconds(site, site.demand, team.kits) == 900


def test_toptw_pr_maps_onto_problem_within_one_day() -> None:
    """pr01 with m=3: 3 teams, optional sites with profit as persons, shift clamped to a day."""
    bench = toptw_to_problem(read_toptw(BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr01.txt"), 3)
    problem = bench.problem
    assert len(problem.teams) == 3 and bench.scale == 100
    assert not any(s.required for s in problem.sites)
    assert problem.sites[0].persons == 12 and problem.sites[0].setup_s == 200
    assert problem.teams[0].shifts[0].end == 86_400  # Tmax 1000 × 100 cannot bind (see docs)
    with pytest.raises(ValueError, match="paths must be a positive integer"):
        toptw_to_problem(read_toptw(BENCHMARKS / "toptw" / "solomon_type1" / "c101.txt"), 0)


def test_raw_route_check_finds_late_service_and_missing_customers() -> None:
    """The file-only checker flags a late start, an unserved customer and a capacity excess."""
    inst = read_solomon(BENCHMARKS / "solomon" / "C101.txt")
    one_each = [[c.id] for c in inst.customers]  # 100 routes > 25 vehicles
    report = check_solomon_routes(inst, one_each)
    assert not report.feasible and any("exceed the fleet" in v for v in report.violations)
    report = check_solomon_routes(inst, [[1, 2]])  # 1 is due at 967, then 2 (due 870) is late
    assert any("starts at" in v and "after its due time 870" in v for v in report.violations)
    assert any("98 customers not served" in v for v in report.violations)
    pr = read_toptw(BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr01.txt")
    ok = check_toptw_routes(pr, [[48]], paths=1)
    assert ok.feasible and ok.score == 10
    assert check_toptw_routes(pr, [[48], [48]], paths=1).violations
