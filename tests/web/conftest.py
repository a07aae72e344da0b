"""Fixtures of the coordinator screens: an office, its coordinator logged in, a tiny real plan.

A module that needs another ``office`` (a slug, a hotspot) defines its own; ``coord`` then
logs in a coordinator of that office.
"""

from __future__ import annotations

import pytest

from outreach.extensions import db
from outreach.models import Role
from tests.factories import login, make_office, make_real_solved_plan, make_team, make_user


@pytest.fixture
def office(app):
    return make_office()


@pytest.fixture
def coord(client, office):
    """A coordinator of ``office``, logged in on ``client`` with English pages (assertions read
    the English msgids; the Indonesian default is checked where the text itself matters)."""
    user = make_user(Role.COORDINATOR, office_id=office.id)
    login(client, user, lang="en")
    return user


@pytest.fixture
def coordinator(app):
    """A coordinator named "koordinator" (password ``PASSWORD``) of an office of their own
    (a coordinator always has an office: tests/web/test_tenancy.py)."""
    user = make_user(Role.COORDINATOR, username="koordinator", office_id=make_office().id)
    db.session.commit()
    return user


@pytest.fixture
def tiny(app):
    """A tiny real instance: 2 teams, 5 schools near the office, Monday–Tuesday, solved."""
    office = make_office()
    teams = [make_team(office, name=f"Tim {c}") for c in "AB"]
    sites = [
        {
            "name": f"SMA Uji {i + 1}",
            "lat": 3.58 + 0.004 * i,
            "lon": 98.67 + 0.003 * i,
            "demand": {"ktp_record": 30 + 5 * i},
        }
        for i in range(5)
    ]
    return make_real_solved_plan(office, teams, sites, days=2, seconds=2, name="Rencana uji")
