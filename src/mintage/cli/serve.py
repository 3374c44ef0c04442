"""``mintage serve``: uvicorn (uvloop, httptools) on :func:`mintage.web.app.create_app`.

Before serving, the store is opened once, which creates or migrates its schema.  On a
brand-new database (no client at all) a demo client is registered and its credentials
are printed once, with ready-made curl lines.

With ``--workers N`` uvicorn starts N processes that each import
:func:`app_factory`; command-line overrides reach them as ``MINTAGE_*`` variables.

With ``--metrics-port`` (``MINTAGE_METRICS_PORT``) a second socket is bound before the
workers start and served by each of them next to the main one; the app sends what
comes in on it to ``/metrics`` alone (:mod:`mintage.web.metrics_access`).  Each worker
keeps its own counters, so a scrape reads the worker that took the connection.

Logs (Mintage's, uvicorn's, Alembic's) go to stderr, as JSON lines unless stderr is a
terminal (:func:`mintage.logs.configure_logging`, ``MINTAGE_LOG_FORMAT``); the banner
and the demo client's credentials are for the person at the terminal and go to stdout
as plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from types import FrameType
from typing import Any

import click
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from .. import __version__
from ..core.audit import Origin
from ..core.clients import register_client
from ..core.credentials import SecretHasher
from ..core.models import Client
from ..core.storage import Storage
from ..logs import configure_logging
from ..settings import Settings
from ..web.app import create_app
from ..web.asgi import App
from ..web.metrics_access import with_metrics_listener
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


def app_factory() -> App:
    """The app as each worker process builds it: settings from ``MINTAGE_*`` only."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return with_metrics_listener(create_app(settings), settings)


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


def _address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _banner(settings: Settings, workers: int) -> str:
    plural = "" if workers == 1 else "s"
    metrics = ""
    if settings.metrics_port is not None:
        metrics = f", metrics on {_address(settings.metrics_host, settings.metrics_port)}/metrics"
    return (
        f"Mintage {__version__}: issuer {settings.issuer_url}, listening on "
        f"{_address(settings.host, settings.port)} ({workers} worker{plural}, "
        f"store {redact(settings.database_url)}{metrics}); Ctrl-C stops it"
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
        # With --workers N uvicorn restarts a worker that does not answer its health
        # check in time (5 s by default); a worker still starting on a loaded host (all
        # workers import and open the store at once) is slow, not dead.
        "timeout_worker_healthcheck": 30,
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
@click.option(
    "--metrics-port",
    type=int,
    help="Serve GET /metrics on its own listener on this port "
    "(MINTAGE_METRICS_PORT; at MINTAGE_METRICS_HOST, 127.0.0.1).",
)
@database_url_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    workers: int,
    metrics_port: int | None,
) -> None:
    """Serve Mintage over HTTP until Ctrl-C or SIGTERM."""
    overrides = {"host": host, "port": port, "metrics_port": metrics_port}
    settings = load_settings(ctx, **{k: v for k, v in overrides.items() if v is not None})
    if workers > 1 and settings.database_url.startswith("memory:"):
        raise BadInputError("memory:// cannot be shared by several workers: use SQLite")
    if settings.otel_enabled:
        try:
            check_available()
        except TracingUnavailableError as exc:
            raise BadInputError(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    pepper = pepper_for(settings, creating=True)
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
        app = with_metrics_listener(create_app(settings, storage=store, pepper=pepper), settings)
        if settings.metrics_port is None:
            uvicorn.run(app, **common)
        else:
            _run_with_metrics_listener(uvicorn.Config(app, **common), settings)
        return
    os.environ.update(
        MINTAGE_HOST=settings.host,
        MINTAGE_PORT=str(settings.port),
        MINTAGE_DATABASE_URL=settings.database_url,
    )
    if settings.metrics_port is not None:
        os.environ["MINTAGE_METRICS_PORT"] = str(settings.metrics_port)
        config = uvicorn.Config(f"{__name__}:app_factory", factory=True, workers=workers, **common)
        _run_with_metrics_listener(config, settings)
        return
    uvicorn.run(f"{__name__}:app_factory", factory=True, workers=workers, **common)


def _run_with_metrics_listener(config: uvicorn.Config, settings: Settings) -> None:
    """What ``uvicorn.run`` does, with the metrics socket beside the main one."""
    assert settings.metrics_port is not None
    # Bound here, before any worker starts: a port in use stops the start-up at once.
    metrics = uvicorn.Config(
        config.app, host=settings.metrics_host, port=settings.metrics_port, log_config=None
    )
    sockets = [config.bind_socket(), metrics.bind_socket()]
    if config.workers > 1:
        Multiprocess(config, sockets=sockets).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
    if not server.started:
        sys.exit(STARTUP_FAILURE)
