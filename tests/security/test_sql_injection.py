"""SQL injection through filters: every filter parameter of the coordinator lists, the hotspots
API and the public schedule takes SQL as a plain value (issue 12)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import Role
from tests.factories import login, make_hotspot, make_team, make_user, today_wib
from tests.public.conftest import make_medan_office, publish_plan

ROOT = Path(__file__).resolve().parents[2]

PAYLOADS = [
    "' OR 1=1--",
    "name; DROP TABLE visit--",
    "x'); DELETE FROM hotspot; --",
    "1 UNION SELECT username, pw_hash FROM user--",
    '" OR ""="',
    "%' OR '%'='",
    "1 OR 1=1",
    "\\'; UPDATE hotspot SET name='pwned' --",
]

NAMES = ("SMA Negeri 7 Medan", "Pasar Petisah", "SLB Karya Murni")


@pytest.fixture
def site(app):
    """An office with a coordinator, a team, three hotspots and a plan published for
    tomorrow."""
    office = make_medan_office()
    team = make_team(office)
    hotspots = [make_hotspot(office, name=name) for name in NAMES]
    day = today_wib() + timedelta(days=1)
    plan = publish_plan(office, day, [(team, day, [(h, "09:00", 45) for h in hotspots])])
    coordinator = make_user(Role.COORDINATOR, office_id=office.id)
    token = create_token(coordinator, "test")
    db.session.commit()
    return {"office": office, "team": team, "plan": plan, "user": coordinator, "token": token}


def row_counts() -> dict[str, int]:
    """Rows per table (any DELETE, INSERT or DROP shows here)."""
    db.session.expire_all()
    out = {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    db.session.rollback()
    return out


def names() -> set[str]:
    db.session.expire_all()
    from outreach.models import Hotspot

    out = set(db.session.scalars(sa.select(Hotspot.name)))
    db.session.rollback()
    return out


def filter_urls(site) -> list[tuple[str, list[str], dict]]:
    """(path, filter parameters, headers) of every list that filters by query parameters."""
    bearer = {"Authorization": f"Bearer {site['token']}"}
    slug = site["office"].slug
    return [
        (
            "/coord/hotspots",
            ["kecamatan", "kind", "priority", "service", "status", "q", "page"],
            {},
        ),
        ("/coord/requests", ["status"], {}),
        ("/coord/", ["color"], {}),
        (f"/coord/teams/{site['team'].id}/calendar", ["month", "day"], {}),
        (f"/coord/plans/{site['plan'].id}", ["published"], {}),
        (
            "/api/v1/hotspots",
            ["kecamatan_code", "kind", "priority", "service", "status", "limit", "offset"],
            bearer,
        ),
        (f"/o/{slug}", ["from", "kecamatan", "kelurahan", "service", "q", "near"], {}),
        (f"/o/{slug}/map", ["kecamatan", "kelurahan", "service", "q", "visit"], {}),
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_in_any_filter_is_a_plain_value(client, site, payload):
    """Each payload in each filter parameter: 200 or 400 (never 500), no table loses or gains
    a row, no name changes, and a text filter finds nothing instead of every row
    (SECURITY row 27)."""
    login(client, site["user"])
    before = row_counts()
    assert before["hotspot"] == len(NAMES)
    for path, params, headers in filter_urls(site):
        for param in params:
            resp = client.get(path, query_string={param: payload}, headers=headers)
            assert resp.status_code in (200, 400), (path, param, resp.status_code)
            if resp.status_code == 400:
                assert resp.is_json or "Traceback" not in resp.get_data(as_text=True)
    assert row_counts() == before
    assert names() == set(NAMES)
    # Text filters treat the payload as text: no hotspot matches it.
    for param in ("q", "kecamatan"):
        html = client.get("/coord/hotspots", query_string={param: payload}).get_data(as_text=True)
        assert not [n for n in NAMES if n in html], (param, payload)
    body = client.get(
        "/api/v1/hotspots",
        query_string={"kecamatan_code": payload[:20]},
        headers={"Authorization": f"Bearer {site['token']}"},
    ).get_json()
    assert body["total"] == 0
    html = client.get(f"/o/{site['office'].slug}", query_string={"q": payload})
    assert not [n for n in NAMES if n in html.get_data(as_text=True)], payload


def test_the_filters_do_filter(client, site):
    """Guard for the test above: the same filters with a real value find the real rows."""
    login(client, site["user"])
    html = client.get("/coord/hotspots", query_string={"q": "Pasar"}).get_data(as_text=True)
    assert "Pasar Petisah" in html and "SLB Karya Murni" not in html
    public = client.get(f"/o/{site['office'].slug}").get_data(as_text=True)
    assert all(n in public for n in NAMES)
    body = client.get(
        "/api/v1/hotspots", headers={"Authorization": f"Bearer {site['token']}"}
    ).get_json()
    assert body["total"] == len(NAMES)


# ------------------------------------------------------------------------------- static

SQL_CALLS = {"text", "execute", "exec_driver_sql", "executescript", "executemany"}
# Calls that build SQL from a string expression, with why each is safe. Identifiers and PRAGMA
# values cannot be bound parameters: the busy timeout is an int() of the configuration, and
# the restore drill's scratch database name is "jb_restore_" + secrets.token_hex(6).
ALLOWED = {
    ("outreach/sqlite.py", 'cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")'),
    ("outreach/backup.py", """sa.text(f'CREATE DATABASE "{name}"')"""),
    ("outreach/backup.py", """sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')"""),
}


def _built_string(node: ast.expr) -> bool:
    """An f-string, a '%' or '+' on strings, or a .format() call."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(
            isinstance(side, ast.JoinedStr)
            or (isinstance(side, ast.Constant) and isinstance(side.value, str))
            for side in (node.left, node.right)
        )
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def test_no_sql_is_built_from_strings_in_the_app():
    """No text()/execute() in outreach/ takes an f-string, '%' or '+' on strings or
    .format(): SQL is built with SQLAlchemy expressions and bound parameters, and sort keys
    come from allowlists (SECURITY row 27)."""
    found = []
    for path in sorted((ROOT / "outreach").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in SQL_CALLS and _built_string(node.args[0]):
                found.append((rel, ast.get_source_segment(source, node).strip()))
    assert [f for f in found if f not in ALLOWED] == []
    assert ALLOWED <= set(found), "an allowed exception is gone: remove it from ALLOWED"
