"""The middleware and the FastAPI dependency, through HTTP, on examples/resource_api.py.

The example app is built with a verifier that checks opaque tokens by introspection at
the real Mintage app and JWTs against the stand-in issuer's keys (both for Mintage's
issuer URL), so each route is exercised with both kinds of token.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from resource_kit_support import JWKS_PATH, CountingTransport, FakeIssuer

from mintage.resource import (
    STATE_KEY,
    AccessToken,
    BearerAuthMiddleware,
    CombinedVerifier,
    IntrospectionVerifier,
    JWTVerifier,
)
from mintage.resource.fastapi import require_scopes
from oauth_testkit import Server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "resource_api.py"
NO_TOKEN_CHALLENGE = 'Bearer realm="api"'


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("resource_api", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Tokens:
    """Opaque tokens from the real app and JWTs from the stand-in issuer's keys."""

    def __init__(self, server: Server, issuer: FakeIssuer) -> None:
        self.server = server
        self.issuer = issuer

    async def opaque(self, scope: str) -> str:
        client = await self.server.client(scopes=("read", "write", "admin"))
        return str((await self.server.client_credentials(client, scope=scope))["access_token"])

    def jwt(self, scope: str) -> str:
        return self.issuer.mint(scope=scope)

    async def make(self, kind: str, scope: str) -> str:
        return await self.opaque(scope) if kind == "opaque" else self.jwt(scope)


@pytest.fixture
def issuer(server: Server) -> FakeIssuer:
    return FakeIssuer(server.settings.issuer_url, clock=server.clock)


@pytest.fixture
def tokens(server: Server, issuer: FakeIssuer) -> Tokens:
    return Tokens(server, issuer)


@pytest.fixture
async def api(
    server: Server, issuer: FakeIssuer, introspector: IntrospectionVerifier
) -> AsyncIterator[httpx.AsyncClient]:
    jwt = JWTVerifier(
        server.settings.issuer_url,
        jwks_uri=f"{server.settings.issuer_url}{JWKS_PATH}",
        transport=issuer.transport,
        clock=server.clock,
    )
    app = load_example().create_app(CombinedVerifier(jwt, introspector))
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://api.test"
        ) as client,
    ):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", ')
    assert f'error="{error}"' in challenge
    assert 'error_description="' in challenge


KINDS = pytest.mark.parametrize("kind", ["opaque", "jwt"])


@KINDS
async def test_good_token_with_the_right_scope(
    api: httpx.AsyncClient, tokens: Tokens, kind: str
) -> None:
    response = await api.get("/api/me", headers=bearer(await tokens.make(kind, "read")))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read"
    assert response.json()["client_id"]


@pytest.mark.parametrize("path", ["/api/me", "/admin/stats"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YTpi"}, {"Authorization": "mint_at_abc"}],
    ids=["no header", "another scheme", "no scheme"],
)
async def test_no_token_is_401_without_an_error_code(
    api: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    """RFC 6750 §3.1: no authentication information, no error information."""
    response = await api.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == NO_TOKEN_CHALLENGE
    assert response.json() == {}


@pytest.mark.parametrize("path", ["/api/me", "/admin/stats"])
@pytest.mark.parametrize("value", ["mint_at_garbage", "eyJhbGciOiJub25lIn0.e30.", "a.b.c"])
async def test_invalid_token_is_401_invalid_token(
    api: httpx.AsyncClient, path: str, value: str
) -> None:
    assert_refused(await api.get(path, headers=bearer(value)), 401, "invalid_token")


@KINDS
async def test_expired_token_is_401(
    api: httpx.AsyncClient, tokens: Tokens, server: Server, kind: str
) -> None:
    value = await tokens.make(kind, "read")
    server.clock.advance(3600 + 60)
    assert_refused(await api.get("/api/me", headers=bearer(value)), 401, "invalid_token")


@KINDS
async def test_missing_scope_is_403_with_the_scope_needed(
    api: httpx.AsyncClient, tokens: Tokens, kind: str
) -> None:
    value = await tokens.make(kind, "read")
    # the dependency (per route)
    response = await api.post("/api/notes", json={"text": "hi"}, headers=bearer(value))
    assert_refused(response, 403, "insufficient_scope")
    assert response.headers["www-authenticate"].endswith(', scope="write"')
    # the middleware (per prefix)
    response = await api.get("/admin/stats", headers=bearer(value))
    assert_refused(response, 403, "insufficient_scope")
    assert response.headers["www-authenticate"].endswith(', scope="admin"')


@KINDS
async def test_the_middleware_leaves_the_token_in_the_request_state(
    api: httpx.AsyncClient, tokens: Tokens, kind: str
) -> None:
    value = await tokens.make(kind, "read write admin")
    added = await api.post("/api/notes", json={"text": "hi"}, headers=bearer(value))
    assert added.status_code == 201, added.text
    response = await api.get("/admin/stats", headers=bearer(value))
    assert response.status_code == 200, response.text
    assert response.json() == {"notes": 1, "admin": added.json()["by"]}


async def test_public_route_needs_nothing(api: httpx.AsyncClient) -> None:
    assert (await api.get("/")).json() == {"hello": "anyone"}


async def test_query_string_token_is_refused_by_default(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    value = await tokens.opaque("read admin")
    for path in ("/api/me", "/admin/stats"):
        response = await api.get(path, params={"access_token": value})
        assert_refused(response, 400, "invalid_request")
        assert "query string" in response.json()["error_description"]


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Bearer")],
        [("Authorization", "Bearer  ")],
        [("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
        [("Authorization", "Bearer a b")],
        [("Authorization", "Bearer a,b")],
    ],
)
async def test_malformed_authorization_is_400(
    api: httpx.AsyncClient, headers: list[tuple[str, str]]
) -> None:
    assert_refused(await api.get("/api/me", headers=headers), 400, "invalid_request")


async def test_authorization_server_down_is_503_not_401(
    api: httpx.AsyncClient, tokens: Tokens, transport: CountingTransport
) -> None:
    value = await tokens.opaque("read admin")
    transport.down = True
    for path in ("/api/me", "/admin/stats"):
        response = await api.get(path, headers=bearer(value))
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "temporarily_unavailable"
        assert response.headers["retry-after"].isdigit()
        assert "www-authenticate" not in response.headers


async def test_without_the_error_handler_fastapi_nests_the_error(
    server: Server, introspector: IntrospectionVerifier, tokens: Tokens
) -> None:
    app = FastAPI()

    @app.get("/x")
    async def x(
        token: AccessToken = Depends(require_scopes("write", verifier=introspector)),  # noqa: B008
    ) -> str:
        return token.scope

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as client:
        response = await client.get("/x", headers=bearer(await tokens.opaque("read")))
        assert response.status_code == 403
        assert response.json()["detail"]["error"] == "insufficient_scope"
        assert 'scope="write"' in response.headers["www-authenticate"]
        missing = await client.get("/x")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == NO_TOKEN_CHALLENGE


# --- the middleware alone, at the ASGI level -------------------------------------------


class Recorder:
    """An inner app that records what reached it."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


async def call(
    app: BearerAuthMiddleware, path: str, *, kind: str = "http", headers: list[Any] | None = None
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"} if kind == "websocket" else {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": kind, "path": path, "headers": headers or [], "query_string": b""}
    await app(scope, receive, send)
    return sent


async def test_prefixes_match_whole_segments(introspector: IntrospectionVerifier) -> None:
    inner = Recorder()
    app = BearerAuthMiddleware(inner, introspector, prefixes=["/api/"])
    for path in ("/api", "/api/", "/api/x/y"):
        assert (await call(app, path))[0]["status"] == 401, path
    for path in ("/apix", "/", "/ap"):
        assert (await call(app, path))[0]["status"] == 204, path
    assert [s["path"] for s in inner.scopes] == ["/apix", "/", "/ap"]


async def test_lifespan_passes_and_websockets_are_refused(
    introspector: IntrospectionVerifier, tokens: Tokens
) -> None:
    inner = Recorder()
    app = BearerAuthMiddleware(inner, introspector)
    assert await call(app, "", kind="lifespan") == []
    assert inner.scopes[0]["type"] == "lifespan"
    assert await call(app, "/ws", kind="websocket") == [{"type": "websocket.close", "code": 1008}]
    value = await tokens.opaque("read")
    headers = [(b"authorization", f"Bearer {value}".encode())]
    assert await call(app, "/ws", kind="websocket", headers=headers) == []
    assert inner.scopes[-1]["state"][STATE_KEY].scopes == ("read",)


async def test_query_tokens_when_enabled(
    introspector: IntrospectionVerifier, tokens: Tokens
) -> None:
    inner = Recorder()
    app = BearerAuthMiddleware(inner, introspector, allow_query_token=True)
    value = await tokens.opaque("read")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as client:
        assert (await client.get("/", params={"access_token": value})).status_code == 204
        both = await client.get("/", params={"access_token": value}, headers=bearer(value))
        assert_refused(both, 400, "invalid_request")
        twice = await client.get(f"/?access_token={value}&access_token={value}")
        assert_refused(twice, 400, "invalid_request")


def test_the_example_will_not_start_without_introspection_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without them every opaque token (Mintage's default) would be a silent 401."""
    example = load_example()
    monkeypatch.delenv("RESOURCE_CLIENT_ID", raising=False)
    monkeypatch.setenv("RESOURCE_CLIENT_SECRET", "mint_cs_x")
    with pytest.raises(SystemExit, match="RESOURCE_CLIENT_ID and RESOURCE_CLIENT_SECRET"):
        example.verifier_from_env()
