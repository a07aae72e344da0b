"""Plan screens: role checks, the review page, adjust forms, publish and exports."""

from __future__ import annotations

import re

import pytest

from outreach.auth.sessions import start_session
from outreach.extensions import db
from outreach.models import Role
from tests.factories import (
    make_hotspot,
    make_solved_plan,
    make_unserved,
    make_user,
)


def login(client, user) -> None:
    """Log ``user`` in by creating a server-side session and putting its id in the cookie."""
    with client.application.test_request_context():
        token = start_session(user)
        db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True


@pytest.fixture
def plan(app):
    p = make_solved_plan(6, teams=2, days=2)
    make_unserved(p, reason_text="Tidak ada tim dengan layanan KIA pada hari itu.")
    db.session.commit()
    return p


@pytest.fixture
def coord(app, plan):
    user = make_user(Role.COORDINATOR, office_id=plan.office_id)
    db.session.commit()
    return user


@pytest.fixture
def coord_client(client, coord):
    login(client, coord)
    return client


def test_review_shows_routes_kpis_and_unserved_reason(coord_client, plan):
    """The review page lists every team-day, the KPIs and each unserved reason sentence."""
    resp = coord_client.get(f"/coord/plans/{plan.id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for route in plan.routes:
        assert f'id="r{route.id}"' in html
    assert "Tidak ada tim dengan layanan KIA pada hari itu." in html
    assert 'id="kpi-served">240<' in html
    assert html.count('class="tl-bar tl-stop"') == 6
