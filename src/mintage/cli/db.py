"""``mintage db upgrade``: create or migrate the schema (Alembic) explicitly.

Stores also migrate when they open, so this is for deployments that prefer to migrate
in a separate step, before new instances start.
"""

from __future__ import annotations

import click

from .context import CommandError, build_store, database_url_option, load_settings, redact


@click.group("db")
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@database_url_option
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Bring the database to the newest schema."""
    settings = load_settings(ctx)
    url = settings.database_url
    if url.startswith("memory:"):
        click.echo("memory:// keeps no schema: nothing to upgrade")
        return
    build_store(settings)  # checks the URL (exit 2) before any connection is tried
    from ..storage.sql.migrate import upgrade_schema  # SQLAlchemy only when needed

    try:
        upgrade_schema(url)
    except Exception as exc:  # the driver's failure: report it, never a traceback
        raise CommandError(f"cannot upgrade {redact(url)}: {exc}") from None
    click.echo(f"{redact(url)} is at the newest schema")
