"""Database constraints hold on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import HotspotDemand, Role, Team, User
from tests.factories import make_hotspot, make_office, make_team, make_user


def assert_refused(*objects) -> None:
    """Adding ``objects`` fails with IntegrityError and leaves the session usable."""
    db.session.add_all(objects)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_priority_outside_1_to_5_refused(app):
    """A hotspot priority of 6 is refused by the database."""
    office = make_office()
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        make_hotspot(office, priority=6)
    db.session.rollback()


def test_priority_in_range_accepted(app):
    """Priorities 1 and 5 are accepted."""
    office = make_office()
    assert make_hotspot(office, priority=1).id and make_hotspot(office, priority=5).id


def test_remaining_above_requested_refused(app):
    """Remaining demand cannot exceed requested demand."""
    hotspot = make_hotspot(demand={})
    db.session.commit()
    assert_refused(
        HotspotDemand(hotspot_id=hotspot.id, service="ktp_record", requested=10, remaining=11)
    )


def test_remaining_equal_requested_accepted(app):
    """Remaining equal to requested is the normal state of a fresh site."""
    hotspot = make_hotspot(demand={})
    db.session.add(
        HotspotDemand(hotspot_id=hotspot.id, service="ktp_record", requested=10, remaining=10)
    )
    db.session.flush()


def test_unknown_service_refused(app):
    """A demand row for an unknown service is refused."""
    hotspot = make_hotspot(demand={})
    db.session.commit()
    assert_refused(HotspotDemand(hotspot_id=hotspot.id, service="passport", requested=1))


def test_field_user_without_team_refused(app):
    """A field user must belong to a team."""
    user = User(username="tanpa-tim", role=Role.FIELD, pw_hash="x")
    assert_refused(user)


def test_coordinator_without_team_accepted(app):
    """Coordinators need no team."""
    assert make_user(Role.COORDINATOR).team_id is None


def test_duplicate_team_name_in_office_refused(app):
    """Two teams of one office cannot share a name."""
    office = make_office()
    make_team(office, name="Tim Melati")
    db.session.commit()
    assert_refused(Team(office_id=office.id, name="Tim Melati"))


def test_same_team_name_in_other_office_accepted(app):
    """Another office may use the same team name."""
    make_team(make_office(), name="Tim Melati")
    assert make_team(make_office(), name="Tim Melati").id


def test_duplicate_username_refused(app):
    """Usernames are unique."""
    make_user(username="sama")
    db.session.commit()
    assert_refused(User(username="sama", role=Role.ADMIN, pw_hash="x"))


def test_unknown_role_refused(app):
    """A role outside admin/coordinator/field is refused by the CHECK constraint."""
    make_user(username="ada")
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("UPDATE \"user\" SET role = 'superuser'"))
        db.session.flush()
    db.session.rollback()


def test_kits_range(app):
    """A team needs 1–10 kits."""
    office = make_office()
    db.session.commit()
    assert_refused(Team(office_id=office.id, name="Tim Nol", kits=0))
