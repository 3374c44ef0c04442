"""``mintage serve``: uvicorn (uvloop, httptools) on :func:`mintage.web.app.create_app`.

Before serving, the store is opened once, which creates or migrates its schema.  On a
brand-new database (no client at all) a demo client is registered and its credentials
are printed once, with ready-made curl lines.

With ``--workers N`` uvicorn starts N processes that each import
:func:`app_factory`; command-line overrides reach them as ``MINTAGE_*`` variables.

Logs (Mintage's, uvicorn's, Alembic's) go to stderr as JSON lines by default
(:func:`mintage.logs.configure_logging`); the banner and the demo client's credentials
are for the person at the terminal and go to stdout as plain text.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from types import FrameType
from typing import Any

import click
import uvicorn

from .. import __version__
from ..core.audit import Origin
from ..core.clients import register_client
from ..core.credentials import SecretHasher
from ..core.models import Client
from ..core.storage import Storage
from ..logs import configure_logging
from ..settings import Settings
from ..web.app import create_app
from ..web.asgi import HotPaths
from ..web.tracing import TracingUnavailableError, check_available
from .context import (
    BadInputError,
    build_store,
    database_url_option,
    load_settings,
    open_store,
    pepper_for,
    redact,
)

DEMO_CLIENT_NAME = "Demo client"


def app_factory() -> HotPaths:
    """The app as each worker process builds it: settings from ``MINTAGE_*`` only."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


async def _prepare(
    settings: Settings, store: Storage, pepper: bytes
) -> tuple[Client, str | None] | None:
    """Open the store once; on a brand-new database, register the demo client."""
    await open_store(store, settings)
    try:
        if not settings.create_demo_client or await store.list_clients():
            return None
        return await register_client(
            store,
            SecretHasher(pepper),
            name=DEMO_CLIENT_NAME,
            grant_types=["client_credentials"],
            scopes=["read"],
            origin=Origin(actor="serve:demo-client"),
        )
    finally:
        await store.close()


def print_demo_client(settings: Settings, client: Client, secret: str | None) -> None:
    """The demo client's credentials, shown this once, and how to try them."""
    base = settings.issuer_url
    click.echo("Created a demo client (grant client_credentials, scope read).")
    click.echo("Its secret is shown only this once:")
    click.echo(f"  client_id:     {client.client_id}")
    click.echo(f"  client_secret: {secret}")
    click.echo("Try it:")
    click.echo(
        f"  curl -s -u '{client.client_id}:{secret}' -d grant_type=client_credentials "
        f"{base}/oauth/token"
    )
    click.echo(f"  curl -s -H 'Authorization: Bearer ACCESS_TOKEN' {base}/resource")


def _banner(settings: Settings, workers: int) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    plural = "" if workers == 1 else "s"
    return (
        f"Mintage {__version__}: issuer {settings.issuer_url}, listening on "
        f"http://{host}:{settings.port} ({workers} worker{plural}, "
        f"store {redact(settings.database_url)}); Ctrl-C stops it"
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options ``mintage serve`` gives uvicorn, for one worker or many."""
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,  # don't advertise the server software
        "log_level": settings.log_level,
        # uvicorn's loggers propagate to the root handler of configure_logging
        "log_config": None,
        # Without a bound, one slow client could hold a shutdown (and a deploy) forever.
        "timeout_graceful_shutdown": settings.graceful_shutdown_timeout,
        # X-Forwarded-For/-Proto only from the trusted proxies (docs/operations.md);
        # with none, uvicorn's proxy middleware is left out altogether.
        "proxy_headers": bool(settings.forwarded_allow_ips.strip()),
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it; without this
    # handler the default action would kill the process with status -15.
    raise SystemExit(0)


@click.command()
@click.option("--host", metavar="ADDRESS", help="Listen address (MINTAGE_HOST; 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (MINTAGE_PORT; 3000).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (needs SQLite or PostgreSQL).",
)
@database_url_option
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int) -> None:
    """Serve Mintage over HTTP until Ctrl-C or SIGTERM."""
    overrides = {"host": host, "port": port}
    settings = load_settings(ctx, **{k: v for k, v in overrides.items() if v is not None})
    if workers > 1 and settings.database_url.startswith("memory:"):
        raise BadInputError("memory:// cannot be shared by several workers: use SQLite")
    if settings.otel_enabled:
        try:
            check_available()
        except TracingUnavailableError as exc:
            raise BadInputError(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    pepper = pepper_for(settings)
    store = build_store(settings)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        demo = asyncio.run(_prepare(settings, store, pepper))
    except KeyboardInterrupt:
        return
    if demo is not None:
        print_demo_client(settings, *demo)
    click.echo(_banner(settings, workers))
    sys.stdout.flush()  # before uvicorn takes over: a pipe would hold the lines back
    common = uvicorn_options(settings)
    if workers == 1:
        # The opened store and its pepper, so memory:// keeps the demo client.
        app = create_app(settings, storage=store, pepper=pepper)
        uvicorn.run(app, **common)
        return
    os.environ.update(
        MINTAGE_HOST=settings.host,
        MINTAGE_PORT=str(settings.port),
        MINTAGE_DATABASE_URL=settings.database_url,
    )
    uvicorn.run(f"{__name__}:app_factory", factory=True, workers=workers, **common)
