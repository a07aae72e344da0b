"""Dependencies between the background jobs, the plan services and the planning core point
one way: ``outreach.jobs`` → ``outreach.plans`` → ``outreach.planning``, with no cycles.

The import graph is built statically: every ``.py`` of the ``outreach`` package is parsed with
``ast``, relative imports are resolved, and imports inside functions count as much as those at
module level (a deferred import hides a cycle from Python, not from the design).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "outreach"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
# The modules whose imports must form no cycle among themselves.
GUARDED = ("outreach.jobs", "outreach.plans", "outreach.planning")


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` below ``root``."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([package, *parts])] = path
    return out


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is a module of the package (``None``: outside)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, modules)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base.pop()  # a module's own package
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                if node.module:
                    base += node.module.split(".")
                base_name = ".".join(base)
            else:
                base_name = node.module or ""
            for alias in node.names:
                # ``from pkg import sub`` imports the submodule; ``from pkg import name``, pkg.
                target = _known(f"{base_name}.{alias.name}", modules) or _known(base_name, modules)
                if target:
                    found.add(target)
    found.discard(module)
    return found


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def guarded(name: str) -> bool:
    return any(name == g or name.startswith(g + ".") for g in GUARDED)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The shortest cycle (``[a, b, ..., a]``) through each module that is on one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)

    cycles: set[tuple[str, ...]] = set()
    for component in components:
        for start in component:
            cycle = _shortest_cycle(graph, component, start)
            # The same cycle seen from another of its modules: rotate to its smallest one.
            ring = cycle[:-1]
            k = ring.index(min(ring))
            rotated = ring[k:] + ring[:k]
            cycles.add((*rotated, rotated[0]))
    return sorted(list(c) for c in cycles)


def _shortest_cycle(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """The shortest path ``start → ... → start`` inside ``component`` (breadth first)."""
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if w not in previous:
                previous[w] = v
                queue.append(w)
    raise AssertionError(f"{start} is on no cycle of its component")


def test_cycle_finder_reports_the_path():
    graph = {"a": {"b"}, "b": {"c", "x"}, "c": {"a", "d"}, "d": set(), "x": {"b"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["b", "x", "b"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_relative_and_deferred_imports():
    graph = import_graph()
    # module level, relative: ``from ..plans import adapter``
    assert "outreach.plans.adapter" in graph["outreach.jobs.runner"]
    # inside a function: ``from .runner import run_solve_job``
    assert "outreach.jobs.runner" in graph["outreach.jobs.thread_backend"]
    # absolute: ``from outreach.planning.domain import ...``
    assert "outreach.planning.domain" in graph["outreach.planning.solver"]


def test_no_import_cycle_among_jobs_plans_and_planning():
    graph = {
        name: {t for t in targets if guarded(t)}
        for name, targets in import_graph().items()
        if guarded(name)
    }
    cycles = find_cycles(graph)
    assert cycles == [], "import cycles (jobs → plans → planning must point one way):\n" + (
        "\n".join(" → ".join(cycle) for cycle in cycles)
    )
