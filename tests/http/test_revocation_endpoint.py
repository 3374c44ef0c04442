"""POST /oauth/revoke (RFC 7009)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from oauth_testkit import MakeServer, Registered, Server


async def revoke(
    server: Server, data: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await server.http.post("/oauth/revoke", data=data, headers=headers)


def assert_ok(response: httpx.Response) -> None:
    """§2.2: 200 with an empty body, whatever became of the token."""
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"


@pytest.fixture
async def app_client(server: Server) -> Registered:
    await server.user()
    return await server.client(grant_types=("password", "refresh_token"), scopes=("read",))


@pytest.fixture
async def issued(server: Server, app_client: Registered) -> dict[str, Any]:
    return await server.password_grant(app_client)


async def test_confidential_client_revokes_an_access_token(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    assert_ok(await revoke(server, {"token": issued["access_token"]}, app_client.basic))
    assert (await server.resource(issued["access_token"])).status_code == 401
    assert await server.introspect(await server.client(), issued["access_token"]) == {
        "active": False
    }
    # an access token is revoked alone: its refresh token still works
    assert (await server.refresh(app_client, issued["refresh_token"])).status_code == 200


async def test_client_secret_post_works_too(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    assert_ok(await revoke(server, {"token": issued["access_token"], **app_client.post}))
    assert (await server.resource(issued["access_token"])).status_code == 401


async def test_revoking_a_refresh_token_revokes_its_family(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    second = (await server.refresh(app_client, issued["refresh_token"])).json()
    assert_ok(await revoke(server, {"token": second["refresh_token"]}, app_client.basic))
    for access in (issued["access_token"], second["access_token"]):
        assert (await server.resource(access)).status_code == 401
    refreshed = await server.refresh(app_client, second["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "bogus"])
async def test_the_hint_is_not_trusted(
    server: Server, app_client: Registered, issued: dict[str, Any], hint: str
) -> None:
    # §2.1: a wrong hint makes the server search further, it does not stop it
    data = {"token": issued["refresh_token"], "token_type_hint": hint}
    assert_ok(await revoke(server, data, app_client.basic))
    assert (await server.resource(issued["access_token"])).status_code == 401


async def test_wrong_hint_on_an_access_token(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    data = {"token": issued["access_token"], "token_type_hint": "refresh_token"}
    assert_ok(await revoke(server, data, app_client.basic))
    assert (await server.resource(issued["access_token"])).status_code == 401


async def test_public_client_identifies_by_client_id(server: Server) -> None:
    await server.user()
    public = await server.client(grant_types=("password", "refresh_token"), public=True)
    issued = await server.password_grant(public)
    assert_ok(await revoke(server, {"token": issued["refresh_token"], **public.post}))
    assert (await server.resource(issued["access_token"])).status_code == 401


@pytest.mark.parametrize("token", ["mint_at_unknown", "", "garbage", "x" * 4096])
async def test_unknown_tokens_answer_200_and_change_nothing(
    server: Server, app_client: Registered, issued: dict[str, Any], token: str
) -> None:
    before = server.tokens()
    response = await revoke(server, {"token": token}, app_client.basic)
    if token == "":
        # an empty value is a missing parameter, not an unknown token
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
    else:
        assert_ok(response)
    assert server.tokens() == before


async def test_foreign_tokens_answer_200_and_keep_working(
    server: Server, issued: dict[str, Any]
) -> None:
    other = await server.client()
    before = server.tokens()
    for value in (issued["access_token"], issued["refresh_token"]):
        assert_ok(await revoke(server, {"token": value}, other.basic))
    assert server.tokens() == before
    assert (await server.resource(issued["access_token"])).status_code == 200


async def test_confidential_client_must_authenticate(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    before = server.tokens()
    wrong = {"client_id": app_client.client_id, "client_secret": "mint_cs_wrong"}
    for data, headers in (
        ({"token": issued["access_token"], "client_id": app_client.client_id}, None),
        ({"token": issued["access_token"], **wrong}, None),
    ):
        response = await revoke(server, data, headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
    assert server.tokens() == before


async def test_bare_token_is_refused_by_default(server: Server, issued: dict[str, Any]) -> None:
    before = server.tokens()
    response = await revoke(server, {"token": issued["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert server.tokens() == before


async def test_bare_token_when_allowed(make_server: MakeServer) -> None:
    server = await make_server(revocation_allow_bare_token=True)
    await server.user()
    reg = await server.client(grant_types=("password", "refresh_token"))
    issued = await server.password_grant(reg)
    assert_ok(await revoke(server, {"token": issued["refresh_token"]}))
    assert (await server.resource(issued["access_token"])).status_code == 401
    # a request that does identify a client is still checked
    other = await server.password_grant(reg)
    response = await revoke(server, {"token": other["access_token"], "client_id": reg.client_id})
    assert response.status_code == 401
    assert (await server.resource(other["access_token"])).status_code == 200


async def test_missing_token_parameter(server: Server, app_client: Registered) -> None:
    response = await revoke(server, {"token_type_hint": "access_token"}, app_client.basic)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_revoke_accepts_json(
    server: Server, app_client: Registered, issued: dict[str, Any]
) -> None:
    response = await server.http.post(
        "/oauth/revoke", json={"token": issued["access_token"]}, headers=app_client.basic
    )
    assert_ok(response)
    assert (await server.resource(issued["access_token"])).status_code == 401


async def test_get_is_not_allowed(server: Server) -> None:
    assert (await server.http.get("/oauth/revoke")).status_code == 405
