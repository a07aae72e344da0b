"""CSRF protection on every form POST (SECURITY row 16)."""

from __future__ import annotations

from outreach.extensions import db
from tests.factories import PASSWORD, csrf_login, make_solved_plan


def test_login_without_token_is_400(csrf_app, coordinator):
    """A login POST without a CSRF token is refused with 400 and logs nobody in
    (SECURITY row 16)."""
    client = csrf_app.test_client()
    resp = client.post("/login", data={"username": "koordinator", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/coord/").status_code == 302


def test_login_with_forged_token_is_400(csrf_app, coordinator):
    """A made-up CSRF token is refused (SECURITY row 16)."""
    client = csrf_app.test_client()
    client.get("/login")
    resp = client.post(
        "/login",
        data={"username": "koordinator", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert resp.status_code == 400


def test_login_with_token_works(csrf_app, coordinator):
    """The login form's own token lets the user in (SECURITY row 16)."""
    client = csrf_app.test_client()
    csrf_login(client, "koordinator")
    assert client.get("/coord/").status_code == 200


def test_logout_without_token_is_400(csrf_app, coordinator):
    """A cross-site logout POST without a token is refused and the session survives
    (SECURITY row 16)."""
    client = csrf_app.test_client()
    csrf_login(client, "koordinator")
    assert client.post("/logout").status_code == 400
    assert client.get("/coord/").status_code == 200


def test_publish_without_token_is_400(csrf_app, coordinator):
    """Publishing a plan without a CSRF token is refused before the view runs (SECURITY row 16)."""
    from outreach.models import Plan, PlanStatus

    plan_id = make_solved_plan(2, teams=1, days=1).id
    # Commit and read nothing more here: with BEGIN IMMEDIATE even a read in this session
    # would hold SQLite's write lock while the other app serves the request.
    db.session.commit()
    client = csrf_app.test_client()
    csrf_login(client, "koordinator")
    resp = client.post(f"/coord/plans/{plan_id}/publish")
    assert resp.status_code == 400
    assert db.session.get(Plan, plan_id).status == PlanStatus.SOLVED


def test_every_coordinator_post_needs_a_token(csrf_app, coordinator):
    """Every POST endpoint of the coordinator blueprint answers 400 without a token
    (SECURITY row 16)."""
    from tests.web.test_access import sample_url

    client = csrf_app.test_client()
    csrf_login(client, "koordinator")
    wrong = []
    for rule in csrf_app.url_map.iter_rules():
        if rule.endpoint.startswith("coord.") and "POST" in rule.methods:
            status = client.post(sample_url(rule)).status_code
            if status != 400:
                wrong.append((rule.endpoint, status))
    assert wrong == []
