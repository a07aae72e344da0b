"""Command-line interface: ``flask --app outreach <command>``."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from .extensions import db
from .models import Office, Role, Team, User


@click.command("init-db")
def init_db_command() -> None:
    """Create or upgrade the database schema (runs the migrations)."""
    upgrade()
    from .public.schedule import rebuild_from_publications

    filled = rebuild_from_publications()  # plans published before the public schedule table
    if filled:
        click.echo(f"Public schedule written for {filled} published plan(s).")
    click.echo("Database is up to date.")


@click.command("purge-requests")
@click.option("--today", "today_text", default=None, help="YYYY-MM-DD (default: today, WIB).")
def purge_requests_command(today_text: str | None) -> None:
    """Delete the personal data of home-visit requests closed longer ago than promised."""
    from datetime import date as date_cls

    from flask import current_app

    from .plans.service import office_today
    from .privacy import purge_expired_requests

    try:
        today = date_cls.fromisoformat(today_text) if today_text else office_today(None)
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--today") from exc
    days = int(current_app.config["HOME_VISIT_RETENTION_DAYS"])
    max_age = int(current_app.config.get("HOME_VISIT_MAX_AGE_DAYS", 180))
    count = purge_expired_requests(today, days, max_age)
    click.echo(
        f"Personal data removed from {count} closed request(s) (retention {days} days; "
        f"requests never closed after {max_age} days)."
    )


def _subject(request_id: int | None, code: str | None):
    """The home-visit request named by ``--request`` or ``--code`` (exactly one)."""
    from .privacy import find_request

    if (request_id is None) == (code is None):
        raise click.UsageError("give either --request ID or --code CODE")
    try:
        req = find_request(request_id, code)
    except ValueError:
        raise click.BadParameter("not a status code", param_hint="--code") from None
    if req is None:
        raise click.ClickException("no such home-visit request")
    return req


_request_option = click.option("--request", "request_id", type=int, help="Request number.")
_code_option = click.option("--code", default=None, help="The resident's status code (JB-...).")


@click.command("subject-export")
@_request_option
@_code_option
def subject_export_command(request_id: int | None, code: str | None) -> None:
    """Print everything held about a home-visit requester as JSON (UU PDP access request)."""
    import json

    from .models import audit
    from .privacy import subject_export

    req = _subject(request_id, code)
    audit("visit_request.export", req, None, via="cli", format="json")
    db.session.commit()
    click.echo(json.dumps(subject_export(req), ensure_ascii=False, indent=2, sort_keys=True))


@click.command("subject-erase")
@_request_option
@_code_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def subject_erase_command(request_id: int | None, code: str | None, yes: bool) -> None:
    """Delete a home-visit requester's data (UU PDP erasure request); prints the reference."""
    from .privacy import erase_subject

    req = _subject(request_id, code)
    if not yes:
        click.confirm(
            f"Delete all personal data of request #{req.id}? This cannot be undone.", abort=True
        )
    reference = erase_subject(req, None, via="cli")
    click.echo(f"Erased. Erasure reference: {reference}")


@click.command("who-saw")
@_request_option
@_code_option
def who_saw_command(request_id: int | None, code: str | None) -> None:
    """List every access to a home-visit requester's data: who, when (WIB), what."""
    from .privacy import who_accessed

    req = _subject(request_id, code)
    entries = who_accessed(req)
    for e in entries:
        who = f"{e['user']} ({e['role']})" if e["user"] else "-"
        click.echo(
            f"{e['at_text']}  {who:<32} {e['kind']:<7} {e['channel']:<12} "
            f"{e['what']} [{e['object']}]"
        )
    click.echo(f"{len(entries)} access(es) to request #{req.id}.")


def _read_password() -> str:
    """Prompt twice (hidden) on a terminal; otherwise read one line from standard input.

    Only the line ending is removed: spaces are part of the password.
    """
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("no password on standard input")
    return line.removesuffix("\n").removesuffix("\r")


def _find_team(name: str, office_id: int | None) -> Team:
    query = sa.select(Team).filter_by(name=name)
    if office_id is not None:
        query = query.filter_by(office_id=office_id)
    teams = db.session.scalars(query).all()
    if not teams:
        raise click.ClickException(f"no team named {name!r}")
    if len(teams) > 1:
        raise click.ClickException(f"several offices have a team named {name!r}: pass --office")
    return teams[0]


def _get_user(username: str) -> User:
    user = db.session.scalar(sa.select(User).filter_by(username=username))
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--team", "team_name", help="Team name (required for field users).")
@click.option(
    "--office",
    "office_id",
    type=int,
    help="Office id (defaults to the team's); required for a coordinator, only an admin has none.",
)
def create_user_command(
    username: str, role: str, team_name: str | None, office_id: int | None
) -> None:
    """Create a user; the password comes from a hidden prompt or standard input."""
    from .auth.accounts import AccountError, create_user
    from .auth.passwords import PasswordRejected

    if office_id is not None and db.session.get(Office, office_id) is None:
        raise click.ClickException(f"no office with id {office_id}")
    team = _find_team(team_name, office_id) if team_name else None
    if role == Role.COORDINATOR.value and office_id is None and team is None:
        # Refused before the password prompt; create_user checks the same rule.
        raise click.ClickException("a coordinator must belong to an office: pass --office")
    password = _read_password()
    try:
        user = create_user(username, role, password, team=team, office_id=office_id)
    except PasswordRejected as exc:
        raise click.ClickException("password rejected: " + " ".join(exc.reasons)) from None
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role.value} {user.username!r} (id {user.id}).")


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="", help="A label to tell tokens apart, e.g. the device.")
def create_token_command(username: str, name: str) -> None:
    """Create an API bearer token and print it once."""
    from .auth.tokens import create_token

    user = _get_user(username)
    if not user.active:
        raise click.ClickException(f"user {username!r} is deactivated")
    token = create_token(user, name)
    db.session.commit()
    click.echo(token)
    click.echo("Store this token now: it cannot be shown again.", err=True)


@click.command("deactivate-user")
@click.argument("username")
def deactivate_user_command(username: str) -> None:
    """Deactivate a user and end their sessions and API tokens at once."""
    from .auth.accounts import deactivate_user

    user = _get_user(username)
    deactivate_user(user)
    db.session.commit()
    click.echo(f"Deactivated {username!r}; sessions and tokens revoked.")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when any office exists.")
def seed_demo_command(if_empty: bool) -> None:
    """Load the deterministic Kota Medan demo and print its logins once."""
    if if_empty and db.session.scalar(sa.select(Office.id).limit(1)) is not None:
        click.echo("Database already has data; demo not loaded.")
        return
    try:
        from .demo import seed_demo
    except ModuleNotFoundError as exc:  # the demo module lands separately
        if exc.name != f"{__package__}.demo":
            raise
        raise click.ClickException("demo data is not available (outreach/demo.py)") from None
    try:
        result = seed_demo(db.session)
    except RuntimeError as exc:  # e.g. DemoAlreadySeeded
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo("Demo loaded. Logins (shown once, stored nowhere in clear text):")
    for entry in result.get("users", []):
        if isinstance(entry, dict):
            username, role, password = entry["username"], entry["role"], entry["password"]
            team = entry.get("team") or ""
        else:
            username, role, password = entry[:3]
            team = ""
        role = getattr(role, "value", role)
        click.echo(f"  {role:<12} {username:<20} {password}  {team}".rstrip())
    for key in ("office", "hotspots", "teams", "kecamatan", "kelurahan"):
        value = result.get(key)
        if isinstance(value, int | str):
            click.echo(f"  {key}: {value}")
        elif isinstance(value, list | tuple | dict):
            click.echo(f"  {key}: {len(value)}")


def register(app: Flask) -> None:
    for command in (
        init_db_command,
        purge_requests_command,
        subject_export_command,
        subject_erase_command,
        who_saw_command,
        create_user_command,
        create_token_command,
        deactivate_user_command,
        seed_demo_command,
    ):
        app.cli.add_command(command)
    # Backup, restore drill and backup age check live with the backup code.
    from .backup import register as register_backup_commands

    register_backup_commands(app)
    # Background-solve commands (worker, reconcile-jobs) live with the job mechanism.
    from .jobs.cli import register as register_job_commands

    register_job_commands(app)
