"""POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from oauth_testkit import Registered, Server

INACTIVE = b'{"active":false}'


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
    """A resource server: a confidential client that introspects."""
    return await server.client(name="api", scopes=())


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
        "exp": server.clock() + 3600,
        "iat": server.clock(),
        "iss": "http://127.0.0.1:3000",
    }


async def test_active_refresh_token(server: Server, rs: Registered, issued: dict[str, Any]) -> None:
    body = (await introspect(server, {"token": issued["refresh_token"]}, rs.basic)).json()
    assert body["active"] is True
    assert "token_type" not in body  # RFC 7662 token_type names access token types only
    assert body["exp"] == server.clock() + 14 * 24 * 3600


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
