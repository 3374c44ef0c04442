"""The middleware judges the path the router routes, however the app is mounted.

Under ``uvicorn --root-path /svc``, a Starlette ``Mount`` or a FastAPI ``app.mount``, the
ASGI scope carries the full path and the mount point in ``root_path``; the prefixes are
paths inside the wrapped app.  Other spellings of a protected path (empty or dot
segments, percent-encoding, case, a trailing slash) are refused too, and never reach
the protected route without a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from mintage.resource import BearerAuthMiddleware, IntrospectionVerifier
from oauth_testkit import Server

ASGIApp = Callable[..., Awaitable[None]]


class Api:
    """A Starlette app with a protected and an open route; it records what ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    async def orders(self, request: Request) -> PlainTextResponse:
        self.ran.append("orders")
        return PlainTextResponse("orders")

    async def public(self, request: Request) -> PlainTextResponse:
        self.ran.append("public")
        return PlainTextResponse("public")

    def routes(self) -> list[Route]:
        return [Route("/api/orders", self.orders), Route("/public", self.public)]

    def starlette(self, verifier: IntrospectionVerifier) -> ASGIApp:
        return BearerAuthMiddleware(Starlette(routes=self.routes()), verifier, prefixes=["/api"])


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
async def token(server: Server) -> str:
    client = await server.client(scopes=("read",))
    return str((await server.client_credentials(client, scope="read"))["access_token"])


async def get(
    app: ASGIApp, path: str, *, root_path: str = "", token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return await client.get(path, headers=headers)


async def raw_get(app: ASGIApp, raw_path: str, *, root_path: str = "") -> int:
    """A request as uvicorn scopes it: ``path`` is ``root_path`` plus the decoded target,
    with no normalisation (what httpx would do to ``/./`` before sending)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("api.test", 80),
        "path": root_path + unquote(raw_path),
        "raw_path": (root_path + raw_path).encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", b"api.test")],
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def test_uvicorn_root_path(api: Api, introspector: IntrospectionVerifier, token: str) -> None:
    """``uvicorn --root-path /svc``: scope path ``/svc/api/orders``, root_path ``/svc``."""
    app = api.starlette(introspector)
    assert (await get(app, "/svc/api/orders", root_path="/svc")).status_code == 401
    assert api.ran == []
    assert (await get(app, "/svc/api/orders", root_path="/svc", token=token)).text == "orders"
    assert (await get(app, "/svc/public", root_path="/svc")).text == "public"
    assert api.ran == ["orders", "public"]


async def test_root_path_left_out_of_path(api: Api, introspector: IntrospectionVerifier) -> None:
    """The older convention (``path`` without ``root_path``), and a ``root_path`` that
    is not a prefix of the path at a segment boundary: the whole path is judged."""
    app = api.starlette(introspector)
    for root_path in ("", "/svc", "/ap", "/api/orders/x"):
        response = await get(app, "/api/orders", root_path=root_path)
        assert response.status_code == 401, root_path
    assert api.ran == []
    # The router routes those paths: the refusals were the middleware's, not a 404.
    assert (await get(app, "/public", root_path="/ap")).text == "public"


async def test_starlette_mount(api: Api, introspector: IntrospectionVerifier, token: str) -> None:
    outer = Starlette(routes=[Mount("/svc", app=api.starlette(introspector))])
    assert (await get(outer, "/svc/api/orders")).status_code == 401
    assert (await get(outer, "/svc/api/orders/")).status_code == 401
    assert api.ran == []
    assert (await get(outer, "/svc/api/orders", token=token)).text == "orders"
    assert (await get(outer, "/svc/public")).text == "public"
    assert api.ran == ["orders", "public"]


async def test_fastapi_sub_app(introspector: IntrospectionVerifier, token: str) -> None:
    sub = FastAPI()
    sub.add_middleware(BearerAuthMiddleware, verifier=introspector, prefixes=["/api"])
    ran: list[str] = []

    @sub.get("/api/orders")
    async def orders() -> dict[str, str]:
        ran.append("orders")
        return {"orders": "yes"}

    @sub.get("/public")
    async def public() -> dict[str, str]:
        return {"public": "yes"}

    main = FastAPI()
    main.mount("/svc", sub)
    refused = await get(main, "/svc/api/orders")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="api"'
    assert ran == []
    assert (await get(main, "/svc/api/orders", token=token)).json() == {"orders": "yes"}
    assert (await get(main, "/svc/public")).json() == {"public": "yes"}


@pytest.mark.parametrize(
    "raw_path",
    [
        "/api/orders",
        "//api/orders",
        "/api//orders",
        "/./api/orders",
        "/api/./orders",
        "/public/../api/orders",
        "/api%2Forders",
        "/api%252Forders",
        "/%61pi/orders",
        "/api/orders/",
        "/API/orders",
        "/Api/Orders",
        "/\\api/orders",
    ],
)
@pytest.mark.parametrize("mounted", [False, True], ids=["root-path", "mount"])
async def test_other_spellings_are_refused(
    api: Api, introspector: IntrospectionVerifier, raw_path: str, mounted: bool
) -> None:
    inner = api.starlette(introspector)
    if mounted:
        app: ASGIApp = Starlette(routes=[Mount("/svc", app=inner)])
        assert await raw_get(app, "/svc" + raw_path) == 401
    else:
        assert await raw_get(inner, raw_path, root_path="/svc") == 401
    assert api.ran == []


@pytest.mark.parametrize("raw_path", ["/public", "/apix", "/", "/public/api"])
async def test_unprotected_paths_stay_open(
    api: Api, introspector: IntrospectionVerifier, raw_path: str
) -> None:
    """Open paths are routed as usual: 200 for the route, 404 for no route, never 401."""
    outer = Starlette(routes=[Mount("/svc", app=api.starlette(introspector))])
    assert await raw_get(outer, "/svc" + raw_path) == (200 if raw_path == "/public" else 404)
