"""Who may read GET /metrics: nobody by default, a scraper with the bearer secret on the
main port, anyone who reaches the metrics listener (loopback by default).

The listener's requests are told apart by the local port of their socket, which the
ASGI scope carries as ``server``; here httpx puts the base URL's port there, as uvicorn
puts the socket's.  ``mintage serve --metrics-port`` itself is tested end to end in
tests/e2e/test_e2e_serve.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from mintage import Settings
from mintage.web.metrics_access import with_metrics_listener
from oauth_testkit import BASE_URL, MakeServer, Server, bearer

TOKEN = "metrics-secret-0123456789abcdef-0123"
METRICS_PORT = 9464
GRANT = {"grant_type": "client_credentials"}
Listen = Callable[..., Awaitable["Served"]]


async def test_private_by_default(server: Server) -> None:
    """Neither a listener nor a secret: no /metrics, and no metrics kept at all."""
    reg = await server.client()
    await server.client_credentials(reg)
    assert server.app.state.mintage.metrics is None
    assert (await server.http.get("/metrics")).status_code == 404
    assert (await server.http.get("/metrics", headers=bearer(TOKEN))).status_code == 404


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="metrics"'),
        ("Basic bWV0cmljczpzZWNyZXQ=", 'Bearer realm="metrics"'),
        ("Bearer", 'Bearer realm="metrics"'),
        ("Bearer ", 'Bearer realm="metrics"'),
        ("Bearer wrong", 'Bearer realm="metrics", error="invalid_token"'),
        (f"Bearer {TOKEN[:-1]}", 'Bearer realm="metrics", error="invalid_token"'),
        (f"Bearer {TOKEN}x", 'Bearer realm="metrics", error="invalid_token"'),
        (f"Bearer {TOKEN.upper()}", 'Bearer realm="metrics", error="invalid_token"'),
        (f"Token {TOKEN}", 'Bearer realm="metrics"'),
    ],
)
async def test_the_secret_is_demanded_on_the_main_port(
    make_server: MakeServer, authorization: str | None, challenge: str
) -> None:
    server = await make_server(metrics_token=TOKEN)
    headers = {"Authorization": authorization} if authorization is not None else {}
    refused = await server.http.get("/metrics", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == challenge
    assert refused.headers["cache-control"] == "no-store"
    assert b"mintage_" not in refused.content


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_secret_opens_the_metrics(make_server: MakeServer, scheme: str) -> None:
    """RFC 9110 §11.1: the scheme is case-insensitive; the secret is not."""
    server = await make_server(metrics_token=TOKEN)
    response = await server.http.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
    assert response.status_code == 200
    assert "mintage_http_requests_total" in response.text


@dataclasses.dataclass
class Served:
    """The app as ``mintage serve`` runs it, with a client of each listener."""

    server: Server
    main: httpx.AsyncClient
    listener: httpx.AsyncClient


@pytest.fixture
async def listen(make_server: MakeServer) -> AsyncIterator[Listen]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(**settings: Any) -> Served:
            server = await make_server(metrics_port=METRICS_PORT, **settings)
            app = with_metrics_listener(server.app, server.settings)
            main, listener = [
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=url)
                )
                for url in (BASE_URL, f"http://127.0.0.1:{METRICS_PORT}")
            ]
            return Served(server, main, listener)

        yield make


async def test_the_listener_serves_metrics_and_nothing_else(listen: Listen) -> None:
    served = await listen()
    listener = served.listener
    reg = await served.server.client()
    assert (await served.main.post("/oauth/token", data=GRANT, headers=reg.basic)).is_success
    scraped = await listener.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["cache-control"] == "no-store"
    assert 'mintage_tokens_issued_total{client_id="' + reg.client_id in scraped.text
    assert (await listener.post("/oauth/token", data=GRANT, headers=reg.basic)).status_code == 404
    for path in ("/healthz", "/.well-known/openid-configuration", "/login", "/"):
        assert (await listener.get(path)).status_code == 404, path
    # ... and the main port serves everything but the metrics
    assert (await served.main.get("/metrics")).status_code == 404
    assert (await served.main.get("/healthz")).status_code == 200
    assert (await served.main.post("/oauth/token", data=GRANT, headers=reg.basic)).is_success


async def test_with_both_the_listener_demands_the_secret_too(listen: Listen) -> None:
    served = await listen(metrics_token=TOKEN)
    refused = await served.listener.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert (await served.listener.get("/metrics", headers=bearer(TOKEN))).status_code == 200
    assert (await served.main.get("/metrics", headers=bearer(TOKEN))).status_code == 200


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"metrics_token": "short"}, "metrics_token must be at least 32 characters"),
        ({"metrics_port": 3000}, "metrics_port must differ from port"),
        ({"metrics_port": 9100, "port": 9100}, "metrics_port must differ from port"),
        ({"metrics_port": 9100, "metrics_enabled": False}, "metrics_enabled is false"),
        ({"metrics_port": 70000}, "metrics_port"),
    ],
)
def test_impossible_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(database_url="memory://", **settings)


def test_the_secret_is_not_in_the_settings_repr() -> None:
    assert TOKEN not in repr(Settings(database_url="memory://", metrics_token=TOKEN))
