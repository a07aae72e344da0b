"""Where a descent's time goes: OR-Tools' local-search profile of one benchmark run.

Solves one Solomon or TOPTW instance with the CLI's tuned settings (``TUNED``) on one
core and prints OR-Tools' profile of its local search: per operator the neighbours it
generated, those the filters passed and those accepted; per filter its calls and
rejects. A descent costs about a microsecond per neighbour, so an operator with many
neighbours and few accepted moves slows every restart (benchmarks/RESULTS.md §26).

Usage (from the repository root)::

    .venv/bin/python benchmarks/ls_profile.py pr10:4 --seed 10
    .venv/bin/python benchmarks/ls_profile.py RC103 --param 'iterated_local_search=false'
    .venv/bin/python benchmarks/ls_profile.py RC103 --count-searches

One core (``workers=1``): a forked second core's profile does not come back. OR-Tools
profiles only a model created with ``profile_local_search``; the script sets it on the
one the model builder creates. OR-Tools' own ILS (``SolveWithIteratedLocalSearch``, on
Solomon files with short routes) runs in a forked process even on one core (see
``solver.solve``), so its operator profile does not come back either; ``--count-searches``
counts the searches it starts (one per ruin and recreate, and a few around them) in
OR-Tools' search log, which the forked process writes to the same stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ortools.constraint_solver import pywrapcp  # noqa: E402

from benchmarks.compare import DATA, parse_params, parse_specs  # noqa: E402
from outreach.planning import model as planning_model  # noqa: E402
from outreach.planning.__main__ import run_benchmark  # noqa: E402

_models: list = []


def _profiled_routing_model(manager):  # noqa: ANN001, ANN202 - OR-Tools' SWIG types
    """The routing model the builder asks for, created with local-search profiling."""
    parameters = pywrapcp.DefaultRoutingModelParameters()
    parameters.solver_parameters.profile_local_search = True
    routing = pywrapcp.RoutingModel(manager, parameters)
    _models.append(routing)
    return routing


class _ProfilingPywrapcp:
    """``pywrapcp`` as the model builder sees it, with :func:`_profiled_routing_model`."""

    RoutingModel = staticmethod(_profiled_routing_model)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(pywrapcp, name)


def _count_lines(path: str, text: str) -> int:
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(text in line for line in f)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", help="a Solomon name (RC103) or TOPTW name:m (pr10:4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds (10)")
    parser.add_argument("--data", type=Path, default=DATA, help="shared/benchmarks folder")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=JSON", help="SolveParams field"
    )
    parser.add_argument(
        "--count-searches",
        action="store_true",
        help="count the searches OR-Tools starts (its ILS's iterations) from its search log",
    )
    args = parser.parse_args(argv)
    try:
        params: dict = {"workers": 1, **parse_params(args.param)}
        specs = parse_specs(args.instance, args.data)
    except ValueError as exc:
        parser.error(str(exc))
    if len(specs) != 1:
        parser.error(f"{args.instance!r} names {len(specs)} runs; name one (pr10:4, not pr10)")
    spec = specs[0]
    log = saved = None
    if args.count_searches:
        params["log_search"] = True
        log = tempfile.NamedTemporaryFile(prefix="ls_profile_", suffix=".log", delete=False)
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)  # OR-Tools logs from C++ to the process's stderr
    planning_model.pywrapcp = _ProfilingPywrapcp()
    try:
        run = run_benchmark(spec.path, spec.fmt, spec.paths, args.time_limit, args.seed, **params)
    finally:
        planning_model.pywrapcp = pywrapcp
        if log is not None:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.close()
    what, value = (
        ("score", run.check.score) if spec.fmt == "toptw" else ("distance", run.check.distance)
    )
    print(
        f"{spec.label} seed {args.seed}: {what} {value:g}, {run.check.vehicles} routes, "
        f"feasible {run.check.feasible}, restarts {int(run.timings.get('restarts', 0))}"
    )
    if log is not None:
        print(f"searches started: {_count_lines(log.name, 'Start search')}")
        os.unlink(log.name)
    print(_models[-1].solver().LocalSearchProfile())
    return 0 if run.check.feasible else 1


if __name__ == "__main__":
    raise SystemExit(main())
