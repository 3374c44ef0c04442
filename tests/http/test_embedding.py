"""``create_app`` returns a Starlette application; ``mintage.mount`` mounts it in a host
app (Starlette or FastAPI) and runs its lifespan inside the host's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse

import mintage
from oauth_testkit import PEPPER, add_client


class OpenedStore(mintage.MemoryStorage):
    """Remembers whether the app opened and closed it."""

    events: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.events = []

    async def open(self) -> None:
        self.events.append("open")
        await super().open()

    async def close(self) -> None:
        self.events.append("close")
        await super().close()


def auth_app(store: mintage.MemoryStorage) -> Starlette:
    settings = mintage.Settings(
        issuer="http://127.0.0.1/auth",
        database_url="memory://",
        purge_interval=0,
        rate_limits_enabled=False,
    )
    return mintage.create_app(settings, storage=store, pepper=PEPPER)


def test_create_app_returns_a_starlette_application() -> None:
    app = auth_app(mintage.MemoryStorage())
    assert isinstance(app, Starlette)
    assert app.state.mintage.settings.issuer == "http://127.0.0.1/auth"


@pytest.mark.parametrize("host_kind", ["starlette", "fastapi"])
async def test_mounted_app_runs_its_lifespan_in_the_hosts(host_kind: str) -> None:
    store = OpenedStore()
    auth = auth_app(store)
    host_events: list[str] = []

    @contextlib.asynccontextmanager
    async def host_lifespan(app: object) -> AsyncIterator[dict[str, str]]:
        host_events.append("start")
        yield {"greeting": "hello"}
        host_events.append("stop")

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.greeting)

    host: Starlette = (
        FastAPI(lifespan=host_lifespan)
        if host_kind == "fastapi"
        else Starlette(lifespan=host_lifespan)
    )
    host.add_route("/", home)
    mintage.mount(host, "/auth", auth)
    async with (
        LifespanManager(host) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://127.0.0.1"
        ) as http,
    ):
        assert store.events == ["open"] and host_events == ["start"]
        assert (await http.get("/")).text == "hello"  # the host's lifespan state survives
        document = (await http.get("/auth/.well-known/oauth-authorization-server")).json()
        assert document["token_endpoint"] == "http://127.0.0.1/auth/oauth/token"
        assert (await http.get("/auth/.well-known/jwks.json")).json()["keys"]  # keys made
        client = await add_client(store, auth.state.mintage.server, auth.state.mintage.server.clock)
        response = await http.post(
            "/auth/oauth/token", data={"grant_type": "client_credentials"}, headers=client.basic
        )
        assert response.status_code == 200, response.text
        assert (await http.get("/auth/nowhere")).status_code == 404
    assert store.events == ["open", "close"] and host_events == ["start", "stop"]


async def test_routes_added_to_the_app_are_served() -> None:
    """A real Starlette app: routes added after create_app are routed (behind the hot
    endpoints, which still answer first)."""
    app = auth_app(mintage.MemoryStorage())

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app.add_route("/hello", hello)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        assert (await http.get("/hello")).text == "hi"
        response = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
