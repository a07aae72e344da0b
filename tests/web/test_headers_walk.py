"""Every GET route, as anonymous, coordinator and field member, plus a 404 and a forced 500, in
the production configuration: every response carries the security headers (SECURITY row 32).

URLs are built from the seeded objects' ids where a rule names them (office, plan, hotspot,
stop, ...), else with the sample values of ``tests/web/test_access.py``; 404s and redirects are
walked too, since their headers matter as much.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime

import pytest
from flask import url_for

from outreach import create_app
from outreach.extensions import db
from outreach.models import JobStatus, PublicVisit, Role, SolveJob, User, VisitRequest
from outreach.public.requests import CONSENT_VERSION, new_status_code, status_code_hash
from tests.factories import login, make_hotspot, make_office, make_solved_plan, make_user
from tests.field.conftest import make_crew
from tests.public.conftest import new_plan, publish_now, today_wib
from tests.web.test_access import sample_url

STRONG = secrets.token_hex(32)
BASE = "https://localhost"
ROLES = ("anonymous", "coordinator", "field")
# Endpoints of the public blueprint that concern one resident's request: never cached.
HOME_VISIT_ENDPOINTS = {"public.home_visit", "public.home_visit_done", "public.request_status"}
TEXT_TYPES = ("text/", "application/javascript", "application/xml", "image/svg+xml")


@pytest.fixture
def world(app):
    """An office with a site, a solved plan with routes, a published plan with a field crew
    working today, a home-visit request and a solve job."""
    office = make_office(slug="kota-jalan")
    hotspot = make_hotspot(office, name="SMA Jalan 1")
    plan = make_solved_plan(3, teams=1, days=1, office=office)
    route = plan.routes[0]
    live = new_plan(office, today_wib(), name="Rencana berjalan")
    crew = make_crew(office, live)
    publish_now(live)
    coordinator = make_user(Role.COORDINATOR, office_id=office.id)
    request_row = VisitRequest(
        office_id=office.id,
        token_hash=status_code_hash(new_status_code()),
        requester_name="Budi",
        requester_relation="family",
        person_name="Siti",
        phone="081200000000",
        address="Jl. Mawar No. 9",
        kelurahan_code="12.71.01.1001",
        consent_at=datetime.now(UTC),
        consent_version=CONSENT_VERSION,
    )
    job = SolveJob(id=str(uuid.uuid4()), plan_id=plan.id, status=JobStatus.DONE)
    db.session.add_all([request_row, job])
    db.session.commit()
    visit = db.session.scalar(db.select(PublicVisit).where(PublicVisit.office_id == office.id))
    assert visit is not None, "the published plan has public visits"
    world = {
        "users": {"coordinator": coordinator.id, "field": crew.user.id},
        "values": {
            "office_key": office.slug,
            "plan_id": plan.id,
            "route_id": route.id,
            "team_id": route.team_id,
            "hotspot_id": hotspot.id,
            "request_id": request_row.id,
            "job_id": job.id,
            "stop_id": crew.stops[0].id,
            "visit_id": visit.id,
            "day": today_wib().isoformat(),
            "code": hotspot.kelurahan_code,
            "filename": "app.css",
        },
    }
    # End the test's read transaction (SQLite: BEGIN IMMEDIATE holds the write lock), so the
    # production app's requests can write (sessions, audit rows) on their own connections.
    db.session.commit()
    return world


@pytest.fixture
def prod_app(app, app_config, monkeypatch):
    """The production configuration on the test database, with two views that crash."""
    monkeypatch.delenv("JEMPUT_ENV", raising=False)
    config = {k: v for k, v in app_config.items() if k != "TESTING"}
    config.update(ENV_NAME="production", SECRET_KEY=STRONG)
    application = create_app(config)

    @application.get("/__boom")
    def boom():
        raise RuntimeError("forced failure")

    @application.get("/api/v1/__boom")
    def api_boom():
        raise RuntimeError("forced failure")

    yield application
    with application.app_context():
        db.engine.dispose()


def sign_in(app, client, user_id: int) -> None:
    """Start a server-side session for the user on ``client`` of ``app``."""
    with app.app_context():
        login(client, db.session.get(User, user_id))


def walk_url(app, rule, values: dict) -> str:
    """A URL for ``rule``: the seeded objects where the rule names them, else sample values."""
    if set(rule.arguments) <= values.keys():
        with app.test_request_context(base_url=BASE):
            return url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
    return sample_url(rule)


def get_rules(app) -> list:
    rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods]
    return sorted(rules, key=lambda r: r.rule)


def header_problems(resp, *, private: bool) -> list[str]:
    """What is missing from ``resp``'s security headers (empty when all is well)."""
    problems = []
    csp = resp.headers.get("Content-Security-Policy", "")
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'"):
        if directive not in csp:
            problems.append(f"CSP lacks {directive}")
    if "frame-ancestors" not in csp or not re.search(r"script-src [^;]*'nonce-[\w-]{16,}'", csp):
        problems.append("CSP lacks frame-ancestors or a script nonce")
    if resp.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no nosniff")
    if resp.headers.get("Referrer-Policy") != "strict-origin-when-cross-origin":
        problems.append(f"Referrer-Policy {resp.headers.get('Referrer-Policy')!r}")
    hsts = resp.headers.get("Strict-Transport-Security", "")
    match = re.search(r"max-age=(\d+)", hsts)
    if not match or int(match.group(1)) < 31536000 or "includeSubDomains" not in hsts:
        problems.append(f"HSTS {hsts!r}")
    content_type = (resp.headers.get("Content-Type") or "").lower()
    if resp.status_code not in (204, 304):
        if not content_type:
            problems.append("no Content-Type")
        elif content_type.startswith(TEXT_TYPES) and "charset=utf-8" not in content_type:
            problems.append(f"no charset in {content_type!r}")
    if private and "no-store" not in (resp.headers.get("Cache-Control") or ""):
        problems.append(f"Cache-Control {resp.headers.get('Cache-Control')!r}")
    return problems


def must_not_be_stored(role: str, endpoint: str | None, status: int) -> bool:
    """Whether a response must carry Cache-Control: no-store."""
    if endpoint == "static":
        return False
    if role != "anonymous" or status >= 400:
        return True
    return not (endpoint or "").startswith("public.") or endpoint in HOME_VISIT_ENDPOINTS


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_carries_the_security_headers(prod_app, world, role):
    """Walk every GET rule of the URL map (plus a 404 and two forced 500s) as ``role`` in
    production: CSP with a nonce, nosniff, strict-origin-when-cross-origin, HSTS, a charset on
    text, and no-store on every private page and the home-visit pages; no route crashes
    (SECURITY row 32)."""
    client = prod_app.test_client()
    if role != "anonymous":
        sign_in(prod_app, client, world["users"][role])
    targets = [(r.endpoint, walk_url(prod_app, r, world["values"])) for r in get_rules(prod_app)]
    targets += [
        (None, "/no-such-page"),
        ("public.office_map", "/o/no-such-office/map"),  # a 404 of a cacheable public page
        ("boom", "/__boom"),
        ("api_boom", "/api/v1/__boom"),
    ]
    wrong, crashed, seen = [], [], set()
    for endpoint, url in targets:
        resp = client.get(url, base_url=BASE)
        seen.add(resp.status_code)
        if resp.status_code == 500 and endpoint not in ("boom", "api_boom"):
            crashed.append((endpoint, url))
        private = must_not_be_stored(role, endpoint, resp.status_code)
        problems = header_problems(resp, private=private)
        if problems:
            wrong.append((endpoint, url, resp.status_code, problems))
        resp.close()
    assert crashed == []
    assert wrong == []
    assert {200, 404, 500} <= seen, "the walk reached real pages, a 404 and the forced 500"


def test_the_walk_reaches_the_pages_behind_each_role(prod_app, world):
    """The seeded ids open real pages: the coordinator's plan and the field member's stop load
    with 200, so the walk above checks pages with personal data, not only error pages."""
    values = world["values"]
    for role, path in (
        ("coordinator", f"/coord/plans/{values['plan_id']}"),
        ("coordinator", f"/coord/requests/{values['request_id']}"),
        ("field", f"/field/stop/{values['stop_id']}"),
    ):
        client = prod_app.test_client()
        sign_in(prod_app, client, world["users"][role])
        resp = client.get(path, base_url=BASE)
        assert resp.status_code == 200, (role, path)
        assert resp.headers["Cache-Control"] == "no-store"
    public = prod_app.test_client().get(f"/stop/{values['visit_id']}", base_url=BASE)
    assert public.status_code == 200
    assert "no-store" not in public.headers["Cache-Control"]  # a public page may be cached
