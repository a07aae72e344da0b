"""benchmarks/ls_profile.py: OR-Tools' local-search profile of one benchmark run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ls_profile.py"


def _load():
    spec = importlib.util.spec_from_file_location("ls_profile_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prof = _load()
pytestmark = pytest.mark.skipif(
    not (prof.DATA / "solomon").is_dir(), reason="../shared/benchmarks is not present"
)
RESTARTS = ["--time-limit", "2", "--param", "iterated_local_search=false"]


def test_the_profile_counts_each_operator_the_run_used(capsys):
    """Our restarts on C101 with TUNED: the profile lists the descent's operators with
    their neighbours, and not the expensive-chain relocation TUNED switches off; with
    OR-Tools' operators all on, that one appears. The plan is checked against the file."""
    assert prof.main(["C101", *RESTARTS]) == 0
    tuned = capsys.readouterr().out
    assert re.search(r"^C101 seed 1: distance [\d.]+, \d+ routes, feasible True", tuned, re.M)
    assert int(re.search(r"restarts (\d+)", tuned).group(1)) >= 1
    relocate = re.search(r"Relocate<1> \|\s+(\d+) \|", tuned)
    assert relocate and int(relocate.group(1)) > 0
    assert "RelocateExpensiveChain" not in tuned
    assert prof.main(["C101", *RESTARTS, "--param", "disabled_operators=[]"]) == 0
    assert "RelocateExpensiveChain" in capsys.readouterr().out


def test_count_searches_reads_the_log_of_the_forked_ils(capsys):
    """On RC101 (short routes) TUNED runs OR-Tools' ILS in a forked process: its
    searches are counted from the log that process writes to the same stderr."""
    assert prof.main(["RC101", "--time-limit", "2", "--count-searches"]) == 0
    out = capsys.readouterr().out
    assert int(re.search(r"searches started: (\d+)", out).group(1)) > 3


def test_a_name_that_means_several_runs_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        prof.main(["pr10"])
    assert exc.value.code == 2
    assert "names 4 runs; name one" in capsys.readouterr().err
