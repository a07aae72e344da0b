"""The benchmark CLI: ``python -m outreach.planning solve FILE ...`` on small instances."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.planning.__main__ import main
from outreach.planning.readers import (
    check_solomon_routes,
    check_toptw_routes,
    read_solomon,
    read_toptw,
)

pytest.importorskip("outreach.planning.solver", reason="the solver module is not available")

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / ".." / "shared" / "benchmarks"
KEYS = {"routes", "distance", "score", "vehicles", "runtime_s"}

pytestmark = pytest.mark.skipif(
    not BENCHMARKS.is_dir(),
    reason=f"benchmark files not found at {BENCHMARKS} (expected ../shared beside the repo)",
)


def _small_solomon(tmp_path: Path, customers: int = 25) -> Path:
    """C101 cut to its first ``customers`` customers (the classic C101.25 instance)."""
    lines = (BENCHMARKS / "solomon" / "C101.txt").read_text().splitlines()
    header_end = next(i for i, line in enumerate(lines) if line.split()[:1] == ["0"])
    path = tmp_path / "C101_25.txt"
    path.write_text("\n".join(lines[: header_end + 1 + customers]) + "\n")
    return path


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse reports usage errors by exiting
        return int(exc.code or 0)


def test_solomon_cli_writes_schema_and_serves_every_customer(tmp_path: Path) -> None:
    """Run as a module, the CLI writes exactly the documented keys and serves all 25 customers."""
    source = _small_solomon(tmp_path)
    out = tmp_path / "result.json"
    cmd = [sys.executable, "-m", "outreach.planning", "solve", str(source), "--format", "solomon"]
    cmd += ["--time-limit", "2", "--seed", "3", "--out", str(out)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert set(doc) == KEYS
    assert isinstance(doc["distance"], float) and isinstance(doc["score"], float)
    assert isinstance(doc["vehicles"], int) and isinstance(doc["runtime_s"], float)
    visited = sorted(i for route in doc["routes"] for i in route)
    assert visited == list(range(1, 26))
    report = check_solomon_routes(read_solomon(source), doc["routes"])
    assert report.feasible, report.violations
    assert doc["distance"] == pytest.approx(report.distance)
    assert doc["vehicles"] == len(doc["routes"]) == report.vehicles
    assert doc["score"] == sum(c.demand for c in read_solomon(source).customers)


def test_toptw_cli_respects_paths_and_reports_collected_profit(tmp_path: Path) -> None:
    """pr01 with m=2 gives at most 2 feasible paths whose profits sum to the reported score."""
    source = BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr01.txt"
    out = tmp_path / "pr01.json"
    argv = ["solve", str(source), "--format", "toptw", "--vehicles", "2"]
    assert main([*argv, "--time-limit", "1", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc) == KEYS
    assert 1 <= len(doc["routes"]) <= 2
    report = check_toptw_routes(read_toptw(source), doc["routes"], paths=2)
    assert report.feasible, report.violations
    assert doc["score"] == report.score > 0
    assert doc["distance"] == pytest.approx(report.distance)


def test_cli_rejects_bad_input_with_exit_code_2(tmp_path: Path, capsys) -> None:
    """Missing file, missing --vehicles for TOPTW, a bad limit or a malformed file exit with 2."""
    out = str(tmp_path / "r.json")
    pr01 = str(BENCHMARKS / "toptw" / "cordeau_pr01-10" / "pr01.txt")
    base = ["--time-limit", "1", "--out", out]
    assert _exit_code(["solve", str(tmp_path / "nope.txt"), "--format", "solomon", *base]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _exit_code(["solve", pr01, "--format", "toptw", *base]) == 2
    assert "--vehicles" in capsys.readouterr().err
    assert _exit_code(["solve", pr01, "--format", "toptw", "--vehicles", "0", *base]) == 2
    bad_limit = ["solve", pr01, "--format", "toptw", "--vehicles", "1", "--time-limit", "-1"]
    assert _exit_code([*bad_limit, "--out", out]) == 2
    assert _exit_code(["solve", pr01, "--format", "vrp", *base]) == 2
    assert _exit_code(["solve", pr01, "--format", "solomon", *base]) == 2
    assert "not a Solomon file" in capsys.readouterr().err
    assert not Path(out).exists()
