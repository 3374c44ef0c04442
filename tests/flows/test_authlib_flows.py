"""Flows driven by an independent client: Authlib's OAuth2 client (docs/architecture.md §8).

If Mintage and our own test helpers shared a misreading of an RFC, these tests would
still catch it: Authlib builds the requests and parses the responses its own way.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from oauth_testkit import BASE_URL, PASSWORD, Registered, Server

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx; its
    # deprecate module installs an "always" filter on import, so ours must come after.
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

TOKEN_URL = f"{BASE_URL}/oauth/token"
REVOKE_URL = f"{BASE_URL}/oauth/revoke"
INTROSPECT_URL = f"{BASE_URL}/oauth/introspect"
RESOURCE_URL = f"{BASE_URL}/resource"

Factory = Callable[..., AsyncOAuth2Client]


@pytest.fixture
async def oauth(server: Server) -> AsyncIterator[Factory]:
    """Build Authlib clients talking to the app in-process; all closed afterwards."""
    made: list[AsyncOAuth2Client] = []

    def make(
        reg: Registered, method: str = "client_secret_basic", **kwargs: Any
    ) -> AsyncOAuth2Client:
        client = AsyncOAuth2Client(
            client_id=reg.client_id,
            client_secret=reg.secret,
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
            transport=httpx.ASGITransport(app=server.app),
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def whoami(client: AsyncOAuth2Client) -> dict[str, Any]:
    """GET /resource with the client's current token, as Authlib places it."""
    response = await client.get(RESOURCE_URL)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_client_credentials(server: Server, oauth: Factory, method: str) -> None:
    reg = await server.client(scopes=("read", "write"))
    client = oauth(reg, method)
    token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials", scope="read")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read"
    assert token["expires_in"] == 3600
    assert token["expires_at"] == pytest.approx(time.time() + 3600, abs=120)
    assert "refresh_token" not in token
    me = await whoami(client)
    assert (me["client_id"], me["sub"], me["scope"]) == (reg.client_id, reg.client_id, "read")


async def test_client_credentials_wrong_secret(server: Server, oauth: Factory) -> None:
    reg = await server.client()
    impostor = Registered(reg.client, "mint_cs_not-the-secret")
    with pytest.raises(OAuthError) as info:
        await oauth(impostor).fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert info.value.error == "invalid_client"


async def test_invalid_scope_reaches_authlib_as_an_oauth_error(
    server: Server, oauth: Factory
) -> None:
    reg = await server.client(scopes=("read",))
    with pytest.raises(OAuthError) as info:
        await oauth(reg).fetch_token(TOKEN_URL, grant_type="client_credentials", scope="admin")
    assert info.value.error == "invalid_scope"


@pytest.fixture
async def app_client(server: Server) -> Registered:
    await server.user()
    return await server.client(grant_types=("password", "refresh_token"), scopes=("read", "write"))


async def test_password_grant_and_refresh(
    server: Server, oauth: Factory, app_client: Registered
) -> None:
    client = oauth(app_client)
    first = dict(await client.fetch_token(TOKEN_URL, username="alice", password=PASSWORD))
    assert first["refresh_token"].startswith("mint_rt_")
    user = await server.storage.get_user_by_username("alice")
    assert user is not None
    assert (await whoami(client))["sub"] == user.user_id

    server.clock.advance(60)
    second = dict(await client.refresh_token(TOKEN_URL))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.token["access_token"] == second["access_token"]
    assert (await whoami(client))["sub"] == user.user_id

    # Authlib may narrow the scope on refresh
    narrowed = dict(await client.refresh_token(TOKEN_URL, scope="read"))
    assert narrowed["scope"] == "read"
    assert (await whoami(client))["scope"] == "read"

    # replaying the first (rotated) refresh token is refused, and kills the family
    with pytest.raises(OAuthError) as info:
        await client.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    assert info.value.error == "invalid_grant"
    response = await client.get(RESOURCE_URL)
    assert response.status_code == 401


async def test_password_grant_wrong_password(oauth: Factory, app_client: Registered) -> None:
    with pytest.raises(OAuthError) as info:
        await oauth(app_client).fetch_token(TOKEN_URL, username="alice", password="nope")
    assert info.value.error == "invalid_grant"


async def test_password_grant_for_a_public_client(server: Server, oauth: Factory) -> None:
    await server.user()
    public = await server.client(grant_types=("password", "refresh_token"), public=True)
    client = oauth(public, "none")
    token = await client.fetch_token(TOKEN_URL, username="alice", password=PASSWORD)
    assert "refresh_token" in token
    refreshed = await client.refresh_token(TOKEN_URL)
    assert refreshed["access_token"] != token["access_token"]
    response = await client.revoke_token(REVOKE_URL, token=refreshed["refresh_token"])
    assert response.status_code == 200
    assert (await client.get(RESOURCE_URL)).status_code == 401


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_revoke_token(
    server: Server, oauth: Factory, app_client: Registered, method: str
) -> None:
    client = oauth(app_client, method)
    token = await client.fetch_token(TOKEN_URL, username="alice", password=PASSWORD)
    response = await client.revoke_token(
        REVOKE_URL, token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert response.status_code == 200
    assert (await client.get(RESOURCE_URL)).status_code == 401
    with pytest.raises(OAuthError) as info:
        await client.refresh_token(TOKEN_URL)
    assert info.value.error == "invalid_grant"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_introspect_token(
    server: Server, oauth: Factory, app_client: Registered, method: str
) -> None:
    token = await oauth(app_client).fetch_token(TOKEN_URL, username="alice", password=PASSWORD)
    rs = oauth(await server.resource_server(), method)

    response = await rs.introspect_token(INTROSPECT_URL, token=token["access_token"])
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["client_id"] == app_client.client_id
    assert body["scope"] == "read write"
    assert body["token_type"] == "Bearer"
    assert body["aud"] == f"{server.settings.issuer_url}/resource"

    # A refresh token is meant for no resource server; its own client may ask.
    hinted = await rs.introspect_token(
        INTROSPECT_URL, token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert hinted.json() == {"active": False}
    own = await oauth(app_client, method).introspect_token(
        INTROSPECT_URL, token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert own.json()["active"] is True
    assert own.json()["token_type"] == "refresh_token"

    server.clock.advance(3600)
    expired = await rs.introspect_token(INTROSPECT_URL, token=token["access_token"])
    assert expired.json() == {"active": False}


async def test_public_client_cannot_introspect(server: Server, oauth: Factory) -> None:
    public = await server.client(grant_types=("refresh_token",), public=True)
    response = await oauth(public, "none").introspect_token(INTROSPECT_URL, token="mint_at_x")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
