"""``mintage tokens purge``: delete expired tokens, codes and sessions, and audit events past
their retention, now, in small batches."""

from __future__ import annotations

import click

from ..core.clock import system_clock
from ..core.stores import purge_all
from ..web.app import audit_cutoff
from .context import database_url_option, echo_json, json_option, load_settings, with_store


@click.group("tokens")
def tokens_group() -> None:
    """Maintain issued tokens."""


@tokens_group.command("purge")
@json_option
@database_url_option
@click.pass_context
def purge(ctx: click.Context, as_json: bool) -> None:
    """Delete every expired token, authorization code and browser session, and the
    audit events older than MINTAGE_AUDIT_RETENTION_DAYS (what the server also does in
    the background)."""
    settings = load_settings(ctx)
    now = system_clock()
    removed = with_store(
        settings,
        lambda store: purge_all(
            store, now, settings.purge_batch_size, audit_before=audit_cutoff(settings, now)
        ),
    )
    if as_json:
        echo_json({"purged": removed})
    else:
        plural = "" if removed == 1 else "s"
        click.echo(f"purged {removed} expired row{plural} (tokens, codes, sessions, audit events)")
