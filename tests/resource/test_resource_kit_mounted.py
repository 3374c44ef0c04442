"""The README's embedded layout: Mintage mounted at ``/auth`` in a host app whose own API
is protected by the resource kit, everything in one process.

``verifier_for_app`` checks tokens with the engine, so the mount point does not matter;
the HTTP verifiers reach the issuer's URLs only through the host app, and when they
cannot find its metadata the API answers 503 and the log names every URL tried.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from mintage import MemoryStorage, Settings, create_app
from mintage.core.clients import register_client
from mintage.core.clock import FrozenClock
from mintage.core.credentials import ACCESS_TOKEN_PREFIX, mint
from mintage.core.errors import StorageUnavailableError
from mintage.core.models import Token
from mintage.core.server import AuthorizationServer
from mintage.resource import (
    STATE_KEY,
    BearerAuthMiddleware,
    DiscoveryError,
    EngineVerifier,
    InvalidTokenError,
    TokenVerifier,
    verifier_for_app,
    verifier_for_issuer,
)
from oauth_testkit import PEPPER, Registered, bearer

ISSUER = "https://example.com/auth"
HOST = "https://example.com"


class SwitchableStore(MemoryStorage):
    """A memory store whose token lookups can be made to fail like a lost database."""

    down = False

    async def get_token(self, digest: str) -> Token | None:
        if self.down:
            raise StorageUnavailableError("database unreachable")
        return await super().get_token(digest)


async def orders(request: Request) -> JSONResponse:
    token = request.state.access_token
    return JSONResponse({"for": token.client_id, "scope": token.scope, "via": token.source})


@dataclass
class Layout:
    auth: Starlette
    store: SwitchableStore
    clock: FrozenClock
    http: httpx.AsyncClient

    @property
    def engine(self) -> AuthorizationServer:
        server: AuthorizationServer = self.auth.state.mintage.server
        return server

    async def client(self, **kwargs: object) -> Registered:
        options: dict[str, object] = {
            "name": "reports",
            "grant_types": ["client_credentials"],
            "scopes": ["read"],
            **kwargs,
        }
        client, secret = await register_client(
            self.store, self.engine.hasher, clock=self.clock, **options
        )
        return Registered(client, secret)

    async def token(self, reg: Registered) -> str:
        response = await self.http.post(
            "/auth/oauth/token", data={"grant_type": "client_credentials"}, headers=reg.basic
        )
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
        return value


def host_app(auth: Starlette, verifier: TokenVerifier) -> BearerAuthMiddleware:
    """README "Embedding": Mintage at /auth, its lifespan run by the host; the API under
    /api guarded by the middleware."""
    host = Starlette(
        routes=[Mount("/auth", app=auth), Route("/api/orders", orders)],
        lifespan=auth.router.lifespan_context,
    )
    return BearerAuthMiddleware(host, verifier, prefixes=["/api"])


@pytest.fixture
async def layout() -> AsyncIterator[Layout]:
    store = SwitchableStore()
    clock = FrozenClock()
    settings = Settings(
        issuer=ISSUER, database_url="memory://", purge_interval=0, rate_limits_enabled=False
    )
    auth = create_app(settings, storage=store, pepper=PEPPER, clock=clock)
    app = host_app(auth, verifier_for_app(auth))
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=HOST) as http,
    ):
        yield Layout(auth, store, clock, http)


async def test_a_valid_token_passes_and_a_forged_one_is_401(layout: Layout) -> None:
    reg = await layout.client()
    value = await layout.token(reg)
    good = await layout.http.get("/api/orders", headers=bearer(value))
    assert good.status_code == 200, good.text
    assert good.json() == {"for": reg.client_id, "scope": "read", "via": "engine"}

    # well-formed (prefix and checksum right) but never issued
    forged = await layout.http.get("/api/orders", headers=bearer(mint(ACCESS_TOKEN_PREFIX)))
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    tampered = value[:-1] + ("A" if value[-1] != "A" else "B")  # checksum broken
    assert (await layout.http.get("/api/orders", headers=bearer(tampered))).status_code == 401
    missing = await layout.http.get("/api/orders")
    assert missing.status_code == 401 and missing.json() == {}


async def test_jwt_access_tokens_and_revocation_are_seen_at_once(layout: Layout) -> None:
    reg = await layout.client(access_token_format="jwt")
    value = await layout.token(reg)
    assert value.startswith("eyJ")
    assert (await layout.http.get("/api/orders", headers=bearer(value))).status_code == 200
    revoked = await layout.http.post("/auth/oauth/revoke", data={"token": value}, headers=reg.basic)
    assert revoked.status_code == 200
    after = await layout.http.get("/api/orders", headers=bearer(value))
    assert after.status_code == 401  # no cache window: the engine's record says revoked


async def test_expired_and_foreign_audience_tokens_are_refused(layout: Layout) -> None:
    value = await layout.token(await layout.client())
    verifier = EngineVerifier(layout.engine, audience="https://other.example/api")
    with pytest.raises(InvalidTokenError, match="another audience") as caught:
        await verifier.verify(value)
    assert caught.value.status_code == 401
    assert (await EngineVerifier(layout.engine).verify(value)).audience == (f"{ISSUER}/resource",)
    layout.clock.advance(3601)
    expired = await layout.http.get("/api/orders", headers=bearer(value))
    assert expired.status_code == 401


async def test_a_store_outage_is_503_not_401(layout: Layout) -> None:
    value = await layout.token(await layout.client())
    layout.store.down = True
    response = await layout.http.get("/api/orders", headers=bearer(value))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "retry-after" in response.headers
    layout.store.down = False
    assert (await layout.http.get("/api/orders", headers=bearer(value))).status_code == 200


def test_verifier_for_app_refuses_what_is_not_a_mintage_app() -> None:
    with pytest.raises(TypeError, match=r"not an app built by mintage\.create_app"):
        verifier_for_app(Starlette())


async def test_the_verified_token_reaches_the_route_state(layout: Layout) -> None:
    assert STATE_KEY == "access_token"  # what orders() reads as request.state.access_token
    value = await layout.token(await layout.client())
    assert (await layout.http.get("/api/orders", headers=bearer(value))).json()["via"] == "engine"


# --- the HTTP verifiers in the same layout -------------------------------------------


async def test_discovery_through_mintage_alone_is_503_naming_every_url(
    layout: Layout, caplog: pytest.LogCaptureFixture
) -> None:
    """The old in-process recipe, ``ASGITransport(app=mintage_app)``: the mounted app
    does not serve ``/auth/...`` (the host does), so no metadata is found.  The API
    answers 503 (retry later), and the log names each URL and its status."""
    api = await layout.client(scopes=[], resources=[f"{ISSUER}/resource"])
    assert api.secret is not None
    verifier = verifier_for_issuer(
        ISSUER,
        client_id=api.client_id,
        client_secret=api.secret,
        transport=httpx.ASGITransport(app=layout.auth),
        clock=layout.clock,
    )
    value = await layout.token(await layout.client())
    app = BearerAuthMiddleware(orders, verifier)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as client:
        with caplog.at_level(logging.ERROR, logger="mintage.resource"):
            response = await client.get("/orders", headers=bearer(value))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"] == "5"
    expected = [
        "https://example.com/.well-known/oauth-authorization-server/auth (404)",
        "https://example.com/auth/.well-known/openid-configuration (404)",
        "https://example.com/auth/.well-known/oauth-authorization-server (404)",
    ]
    for attempt in expected:
        assert attempt in caplog.text
    assert value not in caplog.text and api.secret not in caplog.text

    with pytest.raises(DiscoveryError) as caught:  # within the retry interval: no request
        await verifier.verify(value)
    assert str(caught.value) == f"no metadata for issuer {ISSUER}: tried " + ", ".join(expected)
    assert caught.value.status_code == 503
    await verifier.aclose()


async def test_discovery_through_the_host_app_finds_the_mounted_issuer(layout: Layout) -> None:
    """With the transport on the host app, the OpenID location under the mount answers
    (RFC 8414 §3.1's inserted form is not routed by this host)."""
    api = await layout.client(scopes=[], resources=[f"{ISSUER}/resource"])
    assert api.secret is not None
    host = host_app(layout.auth, verifier_for_app(layout.auth))
    verifier = verifier_for_issuer(
        ISSUER,
        client_id=api.client_id,
        client_secret=api.secret,
        transport=httpx.ASGITransport(app=host),
        clock=layout.clock,
    )
    value = await layout.token(await layout.client())
    token = await verifier.verify(value)
    assert token.source == "introspection" and token.scope == "read"
    await verifier.aclose()
