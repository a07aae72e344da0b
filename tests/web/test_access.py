"""Deny by default: enumerate the URL map (SECURITY rows 12 and 16)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from outreach.extensions import db
from outreach.models import Role
from outreach.roles import PUBLIC_ATTR, ROLES_ATTR
from tests.factories import form_login, make_solved_plan, make_user

# Blueprints whose views may be open, each view still marked with roles.public_view.
OPEN_BLUEPRINTS = {"public", "auth"}
# Views outside those blueprints that are open on purpose (keep this list short).
OPEN_ELSEWHERE = {"static", "api.health", "ops.healthz", "ops.readyz"}
SKIP_METHODS = {"HEAD", "OPTIONS"}


def sample_url(rule) -> str:
    """Build a URL for ``rule`` with id 1 for integer parts and "x" for the rest."""
    path = rule.rule
    for name in rule.arguments:
        value = "1" if isinstance(rule._converters[name], IntegerConverter) else "x"
        path = re.sub(rf"<(?:[^<>:]+:)?{name}>", value, path)
    return path


def rules_of(app, prefix: str):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith(prefix)]


def call(client, method: str, url: str):
    return client.open(url, method=method)


def test_every_coordinator_url_redirects_anonymous_to_login(app, client):
    """Every coord.* endpoint, for every method, sends an anonymous user to the login page
    (SECURITY row 12)."""
    rules = rules_of(app, "coord.")
    assert len(rules) >= 1
    wrong = []
    for rule in rules:
        for method in sorted(rule.methods - SKIP_METHODS):
            resp = call(client, method, sample_url(rule))
            location = resp.headers.get("Location", "")
            if resp.status_code != 302 or not location.startswith("/login"):
                wrong.append((rule.endpoint, method, resp.status_code, location))
    assert wrong == []


def test_every_coordinator_url_forbids_field_users(app, client):
    """Every coord.* endpoint, for every method, answers 403 to a field team member
    (SECURITY row 12)."""
    make_user(Role.FIELD, username="petugas")
    db.session.commit()
    form_login(client, "petugas")
    wrong = []
    for rule in rules_of(app, "coord."):
        for method in sorted(rule.methods - SKIP_METHODS):
            resp = call(client, method, sample_url(rule))
            if resp.status_code != 403:
                wrong.append((rule.endpoint, method, resp.status_code))
    assert wrong == []


def test_every_field_url_needs_login(app, client):
    """Every field.* endpoint sends an anonymous user to the login page (SECURITY row 12)."""
    wrong = []
    for rule in rules_of(app, "field."):
        for method in sorted(rule.methods - SKIP_METHODS):
            resp = call(client, method, sample_url(rule))
            if resp.status_code != 302 or not resp.headers["Location"].startswith("/login"):
                wrong.append((rule.endpoint, method, resp.status_code))
    assert wrong == []


def _protection(app, endpoint: str) -> str | None:
    view = app.view_functions[endpoint]
    if getattr(view, PUBLIC_ATTR, False):
        return "public"
    if getattr(view, ROLES_ATTR, None):
        return "roles"
    blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
    if blueprint is not None and getattr(blueprint, "jb_roles", None):
        return "blueprint"
    return None


def test_every_view_is_protected_or_marked_public(app):
    """Each endpoint is behind a role check (blueprint or view) or explicitly public_view
    (SECURITY row 12)."""
    unprotected = [
        endpoint
        for endpoint in app.view_functions
        if endpoint != "static" and _protection(app, endpoint) is None
    ]
    assert unprotected == []


def test_public_views_are_only_where_allowed(app):
    """Views marked public live in the public/auth blueprints or on the short allowlist
    (SECURITY row 12)."""
    stray = [
        endpoint
        for endpoint in app.view_functions
        if endpoint != "static"
        and _protection(app, endpoint) == "public"
        and endpoint.rpartition(".")[0] not in OPEN_BLUEPRINTS
        and endpoint not in OPEN_ELSEWHERE
    ]
    assert stray == []


def test_protected_blueprints_exclude_anonymous_roles(app):
    """The coordinator blueprint admits only coordinators and admins (SECURITY row 12)."""
    assert set(app.blueprints["coord"].jb_roles) == {Role.COORDINATOR, Role.ADMIN}


def _row_counts() -> dict[str, int]:
    # audit_event and user_session legitimately grow on reads (export trail, session touch).
    skip = {"audit_event", "user_session"}
    return {
        t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
        if t.name not in skip
    }


def test_get_requests_change_no_rows(app, client):
    """No GET endpoint adds or deletes rows, even for a logged-in coordinator (SECURITY row 16)."""
    plan = make_solved_plan(4, teams=1, days=1)
    make_user(Role.COORDINATOR, username="koordinator", office_id=plan.office_id)
    db.session.commit()
    form_login(client, "koordinator")
    before = _row_counts()
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            client.get(sample_url(rule))
    db.session.expire_all()
    assert _row_counts() == before
