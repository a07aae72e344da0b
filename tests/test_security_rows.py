"""Every row of the security checklist (``../shared/guide/SECURITY.md``) has a test (issue 12).

A test names the rows it covers in its docstring, in the form the contributor notes fix
(``SECURITY row N``, ``SECURITY rows N, M and K``); a load or restore drill under
``benchmarks/`` names them in its module docstring. This meta-test reads those docstrings
with :mod:`ast` (never by importing the modules) and compares the rows found with the
checklist. A row without a test must be listed in :data:`PENDING` with the reason, and only
such a row: covering a row fails this test until the row leaves :data:`PENDING`.

CI runs on a clean clone with ``../shared`` beside the repository (as
``benchmarks/compare.py`` expects); without it the checklist is taken to have
:data:`DEFAULT_ROWS` rows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKLIST = REPO / ".." / "shared" / "guide" / "SECURITY.md"
DEFAULT_ROWS = 51
TAG = re.compile(r"SECURITY rows? ([0-9, and]+)")
TABLE_ROW = re.compile(r"^\|\s*([0-9]+)\s*\|", re.MULTILINE)

# Rows without a test yet, with the reason. Keep it exact: the test fails when a row listed
# here gains a test, and when a row loses its last test without being listed here.
PENDING: dict[int, str] = {}


def checklist_rows() -> set[int]:
    """The row numbers of the checklist table (1..DEFAULT_ROWS without the file)."""
    if CHECKLIST.is_file():
        numbers = {int(n) for n in TABLE_ROW.findall(CHECKLIST.read_text(encoding="utf-8"))}
        if numbers:
            return numbers
    return set(range(1, DEFAULT_ROWS + 1))


def rows_named(text: str | None) -> set[int]:
    """The row numbers a docstring names (``SECURITY rows 12, 16 and 17`` -> {12, 16, 17})."""
    out: set[int] = set()
    for match in TAG.finditer(text or ""):
        out.update(int(n) for n in re.findall(r"[0-9]+", match.group(1)))
    return out


def tagged_rows() -> dict[int, list[str]]:
    """Row -> where it is tested: test function docstrings under tests/ and the module
    docstrings of the drills in benchmarks/."""
    found: dict[int, list[str]] = {}

    def add(rows: set[int], where: str) -> None:
        for row in rows:
            found.setdefault(row, []).append(where)

    for path in sorted((REPO / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                rel = path.relative_to(REPO)
                add(rows_named(ast.get_docstring(node)), f"{rel}::{node.name}")
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        add(rows_named(ast.get_docstring(tree)), str(path.relative_to(REPO)))
    return found


def test_the_tag_form_is_read_as_documented():
    """One, two and several rows, and a tag inside a sentence, are all read."""
    assert rows_named("Replays count once (SECURITY row 38).") == {38}
    assert rows_named("SECURITY rows 12 and 16") == {12, 16}
    assert rows_named("see SECURITY rows 1, 2, 3 and 10; not row 99") == {1, 2, 3, 10}
    assert rows_named("security row 5 in lower case does not count") == set()


def test_the_checklist_is_found_or_the_default_is_used():
    """With ../shared present the table is read, 1..N without gaps; else 1..51."""
    rows = checklist_rows()
    assert rows == set(range(1, max(rows) + 1))
    if not CHECKLIST.is_file():
        assert max(rows) == DEFAULT_ROWS


def test_every_checklist_row_has_a_test_or_a_pending_reason():
    """The rows without a test are exactly the rows in PENDING, each with a reason."""
    rows = checklist_rows()
    found = tagged_rows()
    unknown = {row: where for row, where in found.items() if row not in rows}
    assert not unknown, f"tests name rows the checklist does not have: {unknown}"
    assert set(PENDING) <= rows, f"PENDING names unknown rows: {sorted(set(PENDING) - rows)}"
    assert all(reason.strip() for reason in PENDING.values())
    uncovered = rows - set(found)
    now_covered = sorted(set(PENDING) - uncovered)
    missing = sorted(uncovered - set(PENDING))
    assert not now_covered, (
        f"rows {now_covered} have tests now ({ {r: found[r] for r in now_covered} }): "
        "remove them from PENDING"
    )
    assert not missing, f"rows {missing} have no test: write one, or add them to PENDING"
