"""CLI commands: create-user, create-token, deactivate-user, seed-demo, init-db."""

from __future__ import annotations

import sys
import types

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import ApiToken, Role, User, UserSession, hash_token
from tests.factories import make_office, make_team, make_user

GOOD = "kopi susu di pagi hari"


def test_create_user_from_stdin(app, runner):
    """create-user reads the password from standard input and stores a scrypt hash."""
    office = make_office()
    db.session.commit()
    args = ["create-user", "ani", "--role", "coordinator", "--office", str(office.id)]
    result = runner.invoke(args=args, input=GOOD + "\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).filter_by(username="ani"))
    assert user.role == Role.COORDINATOR and user.office_id == office.id
    assert user.pw_hash.startswith("scrypt:")
    assert user.check_password(GOOD)
    assert GOOD not in result.output


def test_create_user_keeps_spaces(app, runner):
    """Only the line ending is removed from a piped password; spaces are kept."""
    result = runner.invoke(
        args=["create-user", "budi", "--role", "admin"], input="  spaced password  \n"
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).filter_by(username="budi"))
    assert user.check_password("  spaced password  ")
    assert not user.check_password("spaced password")


def test_create_user_rejects_weak_password(app, runner):
    """A common password makes create-user fail and creates nothing."""
    result = runner.invoke(args=["create-user", "cici", "--role", "admin"], input="password123\n")
    assert result.exit_code != 0
    assert "password rejected" in result.output
    assert db.session.scalar(sa.select(User).filter_by(username="cici")) is None


def test_create_field_user_needs_team(app, runner):
    """A field user without --team is refused."""
    result = runner.invoke(args=["create-user", "dedi", "--role", "field"], input=GOOD + "\n")
    assert result.exit_code != 0
    assert db.session.scalar(sa.select(User).filter_by(username="dedi")) is None


def test_create_field_user_with_team(app, runner):
    """--team attaches a field user to the named team and its office."""
    team = make_team(name="Tim Roda Dua")
    db.session.commit()
    result = runner.invoke(
        args=["create-user", "eka", "--role", "field", "--team", "Tim Roda Dua"],
        input=GOOD + "\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).filter_by(username="eka"))
    assert user.team_id == team.id and user.office_id == team.office_id


def test_create_user_ambiguous_team_needs_office(app, runner):
    """A team name used by two offices needs --office to pick one."""
    make_team(make_office(), name="Tim A")
    other = make_office()
    team_b = make_team(other, name="Tim A")
    db.session.commit()
    args = ["create-user", "fajar", "--role", "field", "--team", "Tim A"]
    assert runner.invoke(args=args, input=GOOD + "\n").exit_code != 0
    result = runner.invoke(args=[*args, "--office", str(other.id)], input=GOOD + "\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(User.team_id).filter_by(username="fajar")) == team_b.id


def test_create_user_duplicate_name(app, runner):
    """A second user with the same name is refused."""
    make_user(username="gita")
    db.session.commit()
    result = runner.invoke(args=["create-user", "gita", "--role", "admin"], input=GOOD + "\n")
    assert result.exit_code != 0
    assert "already taken" in result.output


def test_create_token_prints_a_working_token(app, runner):
    """create-token prints a token once; only its hash is stored and it authenticates."""
    make_user(Role.COORDINATOR, username="hadi")
    db.session.commit()
    result = runner.invoke(args=["create-token", "hadi", "--name", "laptop"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    row = db.session.scalar(sa.select(ApiToken))
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    assert row.name == "laptop" and token.startswith(row.prefix)

    from outreach.auth.tokens import authenticate_bearer

    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        assert authenticate_bearer().username == "hadi"


def test_create_token_unknown_user(app, runner):
    """create-token for an unknown user fails."""
    assert runner.invoke(args=["create-token", "nobody"]).exit_code != 0


def test_deactivate_user_revokes_sessions_and_tokens(app, runner):
    """deactivate-user turns the account off and revokes its sessions and tokens."""
    user = make_user(Role.COORDINATOR, username="indra")
    db.session.add(UserSession(token_hash="a" * 64, user=user))
    db.session.add(ApiToken(user=user, token_hash="b" * 64, prefix="jb_x"))
    db.session.commit()
    result = runner.invoke(args=["deactivate-user", "indra"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    user = db.session.scalar(sa.select(User).filter_by(username="indra"))
    assert user.active is False
    assert all(s.revoked_at is not None for s in user.sessions)
    assert db.session.scalar(sa.select(ApiToken.revoked_at)) is not None


@pytest.fixture
def fake_demo(monkeypatch):
    """Stand-in for outreach.demo, so the command is tested apart from the demo data."""
    calls = []

    def seed_demo(session):
        calls.append(session)
        make_office(name="Demo Office")
        return {"users": [("koordinator", "coordinator", "demo-pass-123")], "hotspots": 3}

    module = types.ModuleType("outreach.demo")
    module.seed_demo = seed_demo
    monkeypatch.setitem(sys.modules, "outreach.demo", module)
    return calls


def test_seed_demo_prints_logins(app, runner, fake_demo):
    """seed-demo loads the demo once and prints its logins."""
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "koordinator" in result.output and "demo-pass-123" in result.output
    assert len(fake_demo) == 1


def test_seed_demo_if_empty_skips_when_data_exists(app, runner, fake_demo):
    """seed-demo --if-empty does nothing when an office exists."""
    make_office()
    db.session.commit()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert fake_demo == []
    assert "demo-pass-123" not in result.output


def test_seed_demo_if_empty_seeds_empty_db(app, runner, fake_demo):
    """seed-demo --if-empty seeds an empty database."""
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert len(fake_demo) == 1
