"""The kit against JWT access tokens minted by Mintage itself (RFC 9068 both ways)."""

from __future__ import annotations

import pytest
from resource_kit_support import CountingTransport

from mintage.resource import (
    IntrospectionVerifier,
    InvalidTokenError,
    JWTVerifier,
    verifier_for_issuer,
)
from oauth_testkit import Registered, Server


async def jwt_token(server: Server, scope: str = "read") -> tuple[Registered, str]:
    client = await server.client(access_token_format="jwt", scopes=("read", "write"))
    body = await server.client_credentials(client, scope=scope)
    return client, str(body["access_token"])


async def test_mintage_jwt_is_verified_locally(
    server: Server, rs: Registered, transport: CountingTransport
) -> None:
    client, value = await jwt_token(server)
    verifier = verifier_for_issuer(
        server.settings.issuer_url,
        client_id=rs.client_id,
        client_secret=rs.secret,
        transport=transport,
        clock=server.clock,
    )
    token = await verifier.verify(value)
    assert token.source == "jwt"
    assert token.client_id == client.client_id
    assert token.scopes == ("read",)
    assert token.audience == (f"{server.settings.issuer_url}/resource",)
    assert transport.calls["/oauth/introspect"] == 0  # metadata and JWKS only
    assert sum(1 for path in transport.calls if "jwks" in path) == 1
    await verifier.aclose()


async def test_revoked_mintage_jwt_local_until_exp_introspection_at_once(
    server: Server, introspector: IntrospectionVerifier, transport: CountingTransport
) -> None:
    """The trade-off docs/resource-servers.md describes, on real tokens."""
    client, value = await jwt_token(server)
    local = JWTVerifier(server.settings.issuer_url, transport=transport, clock=server.clock)
    revoked = await server.http.post("/oauth/revoke", data={"token": value}, headers=client.basic)
    assert revoked.status_code == 200
    assert (await local.verify(value)).client_id == client.client_id
    with pytest.raises(InvalidTokenError):
        await introspector.verify(value)
    await local.aclose()


async def test_other_audience_is_refused(server: Server, transport: CountingTransport) -> None:
    _, value = await jwt_token(server)
    orders = JWTVerifier(
        server.settings.issuer_url,
        audience="https://orders.example",
        transport=transport,
        clock=server.clock,
    )
    with pytest.raises(InvalidTokenError, match="another audience"):
        await orders.verify(value)
    await orders.aclose()
