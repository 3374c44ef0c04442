"""IntrospectionVerifier against the real Mintage app (RFC 7662)."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest
from resource_kit_support import CountingTransport

from mintage.core.credentials import ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, mint
from mintage.core.errors import StorageUnavailableError
from mintage.core.models import Token
from mintage.resource import (
    IntrospectionVerifier,
    InvalidTokenError,
    ServerError,
    TemporarilyUnavailableError,
    verifier_for_issuer,
)
from mintage.storage.memory import MemoryStorage
from oauth_testkit import MakeServer, Registered, Server

INTROSPECT = "/oauth/introspect"


async def issue(server: Server, scope: str = "read", **client: object) -> tuple[Registered, str]:
    app_client = await server.client(scopes=("read", "write"), **client)
    body = await server.client_credentials(app_client, scope=scope)
    return app_client, body["access_token"]


async def test_opaque_token_is_verified_by_introspection(
    server: Server, introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    app_client, value = await issue(server)
    token = await introspector.verify(value)
    assert token.source == "introspection"
    assert token.client_id == app_client.client_id
    assert token.scopes == ("read",)
    assert token.issuer == server.settings.issuer_url
    assert token.expires_at == server.clock() + 3600
    assert token.claims["active"] is True
    # the endpoint came from the issuer's RFC 8414 metadata
    assert transport.calls == {"/.well-known/oauth-authorization-server": 1, INTROSPECT: 1}


async def test_second_verify_within_the_window_makes_no_call(
    server: Server, introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    _, value = await issue(server)
    first = await introspector.verify(value)
    calls = transport.total
    assert await introspector.verify(value) == first
    assert transport.total == calls
    server.clock.advance(30)  # the cache keeps answers 30 s at most
    assert await introspector.verify(value) == first
    assert transport.calls[INTROSPECT] == 2


async def test_cache_is_keyed_by_digest_never_the_token(
    server: Server, introspector: IntrospectionVerifier
) -> None:
    _, value = await issue(server)
    await introspector.verify(value)
    entries = introspector.cache._entries
    assert list(entries) == [hashlib.sha256(value.encode()).digest()]
    assert value not in repr(entries)


async def test_revoked_token_is_rejected(
    server: Server, introspector: IntrospectionVerifier
) -> None:
    app_client, value = await issue(server)
    revoked = await server.http.post(
        "/oauth/revoke", data={"token": value}, headers=app_client.basic
    )
    assert revoked.status_code == 200
    with pytest.raises(InvalidTokenError) as caught:
        await introspector.verify(value)
    assert caught.value.status_code == 401


async def test_revocation_is_seen_once_the_cached_answer_expires(
    server: Server, introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    app_client, value = await issue(server)
    await introspector.verify(value)
    await server.http.post("/oauth/revoke", data={"token": value}, headers=app_client.basic)
    assert await introspector.verify(value)  # cached: the documented staleness bound
    server.clock.advance(30)
    with pytest.raises(InvalidTokenError):
        await introspector.verify(value)
    # the inactive answer is cached too: a retrying client costs no further call
    calls = transport.total
    with pytest.raises(InvalidTokenError):
        await introspector.verify(value)
    assert transport.total == calls


async def test_cache_never_outlives_the_token(
    server: Server, introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    _, value = await issue(server, access_token_lifetime=10)
    token = await introspector.verify(value)
    assert token.expires_at == server.clock() + 10
    server.clock.advance(10)
    with pytest.raises(InvalidTokenError):
        await introspector.verify(value)
    assert transport.calls[INTROSPECT] == 2


@pytest.mark.parametrize(
    "value", ["mint_at_unknown", "mint_at_" + "A" * 49, mint(REFRESH_TOKEN_PREFIX), "x" * 9000]
)
async def test_malformed_and_foreign_mintage_credentials_cost_no_call(
    introspector: IntrospectionVerifier, transport: CountingTransport, value: str
) -> None:
    with pytest.raises(InvalidTokenError):
        await introspector.verify(value)
    assert transport.total == 0


async def test_unknown_opaque_token_is_invalid(
    introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    """A well-formed token the server never issued: ``active: false`` → invalid_token."""
    with pytest.raises(InvalidTokenError):
        await introspector.verify(mint(ACCESS_TOKEN_PREFIX))
    assert transport.calls[INTROSPECT] == 1


async def test_refresh_token_is_not_an_access_token(
    server: Server, introspector: IntrospectionVerifier
) -> None:
    """Mintage answers ``active: false`` to a resource server for a refresh token, and
    the kit refuses a ``mint_rt_`` value before asking."""
    await server.user()
    app_client = await server.client(grant_types=("password", "refresh_token"))
    issued = await server.password_grant(app_client)
    assert (await introspector.verify(issued["access_token"])).subject is not None
    with pytest.raises(InvalidTokenError):
        await introspector.verify(issued["refresh_token"])


class DownStore(MemoryStorage):
    """Token lookups fail as a database outage does."""

    down = False

    async def get_token(self, digest: str) -> Token | None:
        if self.down:
            raise StorageUnavailableError("database unreachable")
        return await super().get_token(digest)


async def test_authorization_server_503_gives_503_not_401(make_server: MakeServer) -> None:
    store = DownStore()
    server = await make_server(storage=store)
    rs = await server.resource_server()
    _, value = await issue(server)
    assert rs.secret is not None
    verifier = IntrospectionVerifier(
        server.settings.issuer_url,
        client_id=rs.client_id,
        client_secret=rs.secret,
        introspection_endpoint=f"{server.settings.issuer_url}{INTROSPECT}",
        transport=httpx.ASGITransport(app=server.app),
        clock=server.clock,
    )
    store.down = True
    direct = await server.http.post(INTROSPECT, data={"token": value}, headers=rs.basic)
    assert direct.status_code == 503  # the premise: Mintage itself says "retry later"
    with pytest.raises(TemporarilyUnavailableError) as caught:
        await verifier.verify(value)
    assert caught.value.status_code == 503
    assert caught.value.headers["Retry-After"].isdigit()
    # an outage is not cached: the token works again as soon as the store is back
    store.down = False
    assert (await verifier.verify(value)).scopes == ("read",)
    await verifier.aclose()


async def test_unreachable_authorization_server_gives_503(
    server: Server, introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    _, first = await issue(server)
    _, second = await issue(server)
    assert await introspector.verify(first)
    transport.down = True
    assert await introspector.verify(first)  # cached answers keep working meanwhile
    with pytest.raises(TemporarilyUnavailableError):
        await introspector.verify(second)
    transport.down = False
    assert await introspector.verify(second)


async def test_discovery_failure_backs_off(
    server: Server, introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    _, value = await issue(server)
    transport.down = True
    for _ in range(3):
        with pytest.raises(TemporarilyUnavailableError):
            await introspector.verify(value)
    assert transport.total == 1  # one attempt, then 5 s of quiet
    transport.down = False
    server.clock.advance(5)
    assert await introspector.verify(value)


async def test_refused_credentials_are_a_server_error_not_the_tokens_fault(
    server: Server, rs: Registered, transport: CountingTransport, caplog: pytest.LogCaptureFixture
) -> None:
    _, value = await issue(server)
    verifier = IntrospectionVerifier(
        server.settings.issuer_url,
        client_id=rs.client_id,
        client_secret="mint_cs_wrong",
        transport=transport,
        clock=server.clock,
    )
    with (
        caplog.at_level(logging.ERROR, logger="mintage.resource"),
        pytest.raises(ServerError) as caught,
    ):
        await verifier.verify(value)
    assert caught.value.status_code == 500
    assert "answered 401" in caplog.text
    assert value not in caplog.text and "mint_cs_wrong" not in caplog.text
    await verifier.aclose()


async def test_built_from_the_issuer_url_alone(
    server: Server, rs: Registered, transport: CountingTransport, caplog: pytest.LogCaptureFixture
) -> None:
    """``verifier_for_issuer`` discovers the endpoint; opaque tokens go to introspection."""
    _, value = await issue(server)
    with caplog.at_level(logging.WARNING, logger="mintage.resource"):
        verifier = verifier_for_issuer(
            server.settings.issuer_url,
            client_id=rs.client_id,
            client_secret=rs.secret,
            transport=transport,
            clock=server.clock,
        )
    ours = [r for r in caplog.records if r.name == "mintage.resource"]
    assert ours == []  # with credentials, nothing to warn about
    assert (await verifier.verify(value)).source == "introspection"
    await verifier.aclose()
    # without introspection credentials, only JWTs can be checked: said at build time
    with caplog.at_level(logging.WARNING, logger="mintage.resource"):
        jwt_only = verifier_for_issuer(server.settings.issuer_url, transport=transport)
    ours = [r for r in caplog.records if r.name == "mintage.resource"]
    assert [r.levelno for r in ours] == [logging.WARNING]
    assert "without client_id/client_secret" in caplog.text
    assert "opaque" in caplog.text and server.settings.issuer_url in caplog.text
    with pytest.raises(InvalidTokenError, match="not a JWT"):
        await jwt_only.verify(value)
    await jwt_only.aclose()
