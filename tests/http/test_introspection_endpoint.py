"""POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from oauth_testkit import MakeServer, Registered, Server

INACTIVE = b'{"active":false}'
#: the audience of every access token the test server issues (``<issuer>/resource``)
AUDIENCE = "http://127.0.0.1:3000/resource"


async def introspect(
    server: Server, data: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await server.http.post("/oauth/introspect", data=data, headers=headers)


def assert_inactive(response: httpx.Response) -> None:
    """§2.2: exactly ``{"active": false}``, nothing that says why."""
    assert response.status_code == 200, response.text
    assert response.json() == {"active": False}
    assert response.content == INACTIVE
    assert response.headers["cache-control"] == "no-store"


@pytest.fixture
async def rs(server: Server) -> Registered:
    """A resource server: a confidential client that serves the tokens' audience."""
    return await server.client(name="api", scopes=(), resources=(AUDIENCE,))


@pytest.fixture
async def app_client(server: Server) -> Registered:
    await server.user()
    return await server.client(grant_types=("password", "refresh_token"), scopes=("read", "write"))


@pytest.fixture
async def issued(server: Server, app_client: Registered) -> dict[str, Any]:
    return await server.password_grant(app_client, scope="read")


async def test_active_access_token(
    server: Server, rs: Registered, app_client: Registered, issued: dict[str, Any]
) -> None:
    response = await introspect(server, {"token": issued["access_token"]}, rs.basic)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    user = await server.storage.get_user_by_username("alice")
    assert user is not None
    assert body == {
        "active": True,
        "scope": "read",
        "client_id": app_client.client_id,
        "sub": user.user_id,
        "token_type": "Bearer",
        "aud": AUDIENCE,
        "exp": server.clock() + 3600,
        "iat": server.clock(),
        "iss": "http://127.0.0.1:3000",
    }


async def test_refresh_token_is_active_to_its_own_client_and_marked(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    body = (await introspect(server, {"token": issued["refresh_token"]}, app_client.basic)).json()
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert "aud" not in body  # meant for no resource server
    assert body["client_id"] == app_client.client_id
    assert body["exp"] == server.clock() + 14 * 24 * 3600


async def test_refresh_token_is_inactive_to_a_resource_server(
    server: Server, rs: Registered, issued: dict[str, Any]
) -> None:
    """A resource server that ignored token_type would take it for a bearer token."""
    assert_inactive(await introspect(server, {"token": issued["refresh_token"]}, rs.basic))


async def test_own_access_token_is_active_to_its_client(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    body = (await introspect(server, {"token": issued["access_token"]}, app_client.basic)).json()
    assert body["active"] is True
    assert (body["client_id"], body["token_type"], body["aud"]) == (
        app_client.client_id,
        "Bearer",
        AUDIENCE,
    )


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_another_clients_token_is_inactive(
    server: Server, issued: dict[str, Any], kind: str
) -> None:
    """RFC 7662 §4: a confidential client that neither holds the token nor serves its
    audience learns nothing about it, not even that it exists."""
    other = await server.client(name="other", scopes=("read",))
    assert_inactive(await introspect(server, {"token": issued[kind]}, other.basic))


async def test_a_resource_server_for_another_audience_gets_inactive(
    server: Server, issued: dict[str, Any]
) -> None:
    elsewhere = await server.client(
        name="billing", scopes=(), resources=("https://billing.example/", AUDIENCE + "/x")
    )
    assert_inactive(await introspect(server, {"token": issued["access_token"]}, elsewhere.basic))


async def test_a_resource_server_among_several_resources_is_served(
    server: Server, issued: dict[str, Any]
) -> None:
    gateway = await server.client(
        name="gateway", scopes=(), resources=("https://billing.example/", AUDIENCE)
    )
    body = (await introspect(server, {"token": issued["access_token"]}, gateway.basic)).json()
    assert body["active"] is True and body["aud"] == AUDIENCE


async def test_the_audience_follows_the_setting(make_server: MakeServer) -> None:
    server = await make_server(access_token_audience="https://api.example/")
    await server.user()
    app = await server.client(grant_types=("password",), scopes=("read",))
    issued = await server.password_grant(app)
    old = await server.client(name="old", scopes=(), resources=(AUDIENCE,))
    assert_inactive(await introspect(server, {"token": issued["access_token"]}, old.basic))
    new = await server.client(name="new", scopes=(), resources=("https://api.example/",))
    body = (await introspect(server, {"token": issued["access_token"]}, new.basic)).json()
    assert body["active"] is True and body["aud"] == "https://api.example/"


async def test_client_secret_post_and_hint(
    server: Server, rs: Registered, issued: dict[str, Any]
) -> None:
    data = {"token": issued["access_token"], "token_type_hint": "refresh_token", **rs.post}
    assert (await introspect(server, data)).json()["active"] is True


@pytest.mark.parametrize("token", ["mint_at_unknown", "garbage", "x" * 4000, "mint_at_" + "A" * 49])
async def test_unknown_and_malformed(server: Server, rs: Registered, token: str) -> None:
    assert_inactive(await introspect(server, {"token": token}, rs.basic))


async def test_expired(server: Server, rs: Registered, issued: dict[str, Any]) -> None:
    server.clock.advance(3600)
    assert_inactive(await introspect(server, {"token": issued["access_token"]}, rs.basic))


async def test_revoked(
    server: Server, rs: Registered, app_client: Registered, issued: dict[str, Any]
) -> None:
    revoked = await server.http.post(
        "/oauth/revoke", data={"token": issued["refresh_token"]}, headers=app_client.basic
    )
    assert revoked.status_code == 200
    for value in (issued["access_token"], issued["refresh_token"]):
        assert_inactive(await introspect(server, {"token": value}, rs.basic))


async def test_rotated(
    server: Server, rs: Registered, app_client: Registered, issued: dict[str, Any]
) -> None:
    refreshed = await server.refresh(app_client, issued["refresh_token"])
    assert refreshed.status_code == 200
    assert_inactive(await introspect(server, {"token": issued["refresh_token"]}, rs.basic))
    # the access token issued beside it is still good until the reuse is detected
    assert (await introspect(server, {"token": issued["access_token"]}, rs.basic)).json()["active"]


async def test_public_clients_may_not_introspect(server: Server, issued: dict[str, Any]) -> None:
    public = await server.client(grant_types=("refresh_token",), public=True)
    response = await introspect(server, {"token": issued["access_token"], **public.post})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic bm9ib2R5Om5vcGU="},  # nobody:nope
    ],
)
async def test_unauthenticated_callers_get_401(
    server: Server, issued: dict[str, Any], auth: dict[str, str]
) -> None:
    response = await introspect(server, {"token": issued["access_token"]}, auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic realm=")


async def test_an_access_token_is_not_client_authentication(
    server: Server, issued: dict[str, Any]
) -> None:
    response = await introspect(
        server,
        {"token": issued["access_token"]},
        {"Authorization": f"Bearer {issued['access_token']}"},
    )
    assert response.status_code == 401


async def test_missing_token(server: Server, rs: Registered) -> None:
    response = await introspect(server, {"token_type_hint": "access_token"}, rs.basic)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
