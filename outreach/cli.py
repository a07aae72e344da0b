"""Command-line interface: ``flask --app outreach <command>``."""

from __future__ import annotations

import click
from flask import Flask
from flask_migrate import upgrade


@click.command("init-db")
def init_db_command() -> None:
    """Create or upgrade the database schema (runs the migrations)."""
    upgrade()
    click.echo("Database is up to date.")


def register(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    # Background-solve commands (worker, reconcile-jobs) live with the job mechanism.
    from .jobs.cli import register as register_job_commands

    register_job_commands(app)
