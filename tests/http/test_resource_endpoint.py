"""GET/POST /resource: bearer token use (RFC 6750 §2, §3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from oauth_testkit import FORM_CT, MakeServer, Registered, Server, bearer


@pytest.fixture
async def svc(server: Server) -> Registered:
    return await server.client(scopes=("read", "write"))


@pytest.fixture
async def issued(server: Server, svc: Registered) -> dict[str, Any]:
    return await server.client_credentials(svc, scope="read")


def assert_challenge(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="mintage", ')
    assert f'error="{error}"' in challenge
    assert response.json()["error"] == error
    return challenge


async def test_bearer_header(server: Server, svc: Registered, issued: dict[str, Any]) -> None:
    response = await server.resource(issued["access_token"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"] == svc.client_id
    assert body["sub"] == svc.client_id
    assert body["scope"] == "read"
    assert body["exp"] == server.clock() + 3600


async def test_bearer_scheme_is_case_insensitive(server: Server, issued: dict[str, Any]) -> None:
    response = await server.http.get(
        "/resource", headers={"Authorization": f"bearer {issued['access_token']}"}
    )
    assert response.status_code == 200


async def test_form_body_on_post(server: Server, issued: dict[str, Any]) -> None:
    response = await server.http.post("/resource", data={"access_token": issued["access_token"]})
    assert response.status_code == 200
    assert response.json()["scope"] == "read"


async def test_form_body_is_ignored_on_get_and_without_form_type(
    server: Server, issued: dict[str, Any]
) -> None:
    # RFC 6750 §2.2: only a form-encoded body of a request with a body counts
    response = await server.http.post(
        "/resource",
        content=f'{{"access_token": "{issued["access_token"]}"}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="mintage"'


async def test_query_parameter_is_off_by_default(server: Server, issued: dict[str, Any]) -> None:
    response = await server.http.get("/resource", params={"access_token": issued["access_token"]})
    challenge = assert_challenge(response, 400, "invalid_request")
    assert "query" in challenge


async def test_query_parameter_when_enabled(make_server: MakeServer) -> None:
    server = await make_server(allow_query_access_token=True)
    reg = await server.client()
    issued = await server.client_credentials(reg)
    response = await server.http.get("/resource", params={"access_token": issued["access_token"]})
    assert response.status_code == 200
    assert response.json()["client_id"] == reg.client_id
    # still one method only
    response = await server.http.get(
        "/resource",
        params={"access_token": issued["access_token"]},
        headers=bearer(issued["access_token"]),
    )
    assert_challenge(response, 400, "invalid_request")
    # and no repeats
    response = await server.http.get(
        f"/resource?access_token={issued['access_token']}&access_token={issued['access_token']}"
    )
    assert_challenge(response, 400, "invalid_request")


async def test_header_and_body_together_is_invalid_request(
    server: Server, issued: dict[str, Any]
) -> None:
    response = await server.http.post(
        "/resource",
        data={"access_token": issued["access_token"]},
        headers=bearer(issued["access_token"]),
    )
    assert_challenge(response, 400, "invalid_request")


async def test_no_token_is_a_bare_challenge(server: Server) -> None:
    for response in (
        await server.http.get("/resource"),
        await server.http.post("/resource", data={"other": "x"}),
    ):
        assert response.status_code == 401
        # RFC 6750 §3.1: no error code or other error information
        assert response.headers["www-authenticate"] == 'Bearer realm="mintage"'
        assert "error" not in response.json()


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "bearer \t", "Bearer a b", "Bearer a,b"])
async def test_malformed_bearer_header(server: Server, value: str) -> None:
    response = await server.http.get("/resource", headers={"Authorization": value})
    assert_challenge(response, 400, "invalid_request")


@pytest.mark.parametrize("value", ["", "Basic dXNlcjpwYXNz", "Token abc", "mint_at_abc"])
async def test_other_schemes_are_no_bearer_credentials(server: Server, value: str) -> None:
    """RFC 6750 §3.1: "attempted using an unsupported authentication method" is a request
    without authentication information: 401, the bare challenge, no error code."""
    for response in (
        await server.http.get("/resource", headers={"Authorization": value}),
        await server.http.get("/userinfo", headers={"Authorization": value}),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="mintage"'
        assert response.json() == {}


async def test_two_authorization_headers_are_invalid_request(
    server: Server, issued: dict[str, Any]
) -> None:
    value = f"Bearer {issued['access_token']}"
    response = await server.http.get(
        "/resource", headers=[("Authorization", value), ("Authorization", value)]
    )
    assert_challenge(response, 400, "invalid_request")


async def test_unknown_and_malformed_tokens(server: Server, issued: dict[str, Any]) -> None:
    token = issued["access_token"]
    flipped = token[:12] + ("A" if token[12] != "A" else "B") + token[13:]
    for value in ("mint_at_nope", token[:-1], flipped, "x" * 5000, "mint_rt_" + token[8:]):
        assert_challenge(await server.resource(value), 401, "invalid_token")


async def test_refresh_token_is_not_an_access_token(server: Server) -> None:
    await server.user()
    reg = await server.client(grant_types=("password", "refresh_token"))
    issued = await server.password_grant(reg)
    assert_challenge(await server.resource(issued["refresh_token"]), 401, "invalid_token")


async def test_expired_token(server: Server, issued: dict[str, Any]) -> None:
    server.clock.advance(3600)
    assert_challenge(await server.resource(issued["access_token"]), 401, "invalid_token")


async def test_revoked_token(server: Server, svc: Registered, issued: dict[str, Any]) -> None:
    response = await server.http.post(
        "/oauth/revoke", data={"token": issued["access_token"]}, headers=svc.basic
    )
    assert response.status_code == 200
    assert_challenge(await server.resource(issued["access_token"]), 401, "invalid_token")


async def test_required_scope(make_server: MakeServer) -> None:
    server = await make_server(resource_scope="write")
    reg = await server.client(scopes=("read", "write"))
    read = await server.client_credentials(reg, scope="read")
    challenge = assert_challenge(
        await server.resource(read["access_token"]), 403, "insufficient_scope"
    )
    assert 'scope="write"' in challenge
    write = await server.client_credentials(reg, scope="read write")
    assert (await server.resource(write["access_token"])).status_code == 200


async def test_error_descriptions_in_challenges_are_quotable(server: Server) -> None:
    response = await server.http.get("/resource", headers={"Authorization": 'Bearer "quoted\\"'})
    challenge = response.headers["www-authenticate"]
    inside = challenge.split('error_description="', 1)[1].rsplit('"', 1)[0]
    assert '"' not in inside and "\\" not in inside


async def test_methods_other_than_get_and_post(server: Server) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        assert (await server.http.request(method, "/resource")).status_code == 405


async def test_form_body_with_wrong_content_type_header_case(
    server: Server, issued: dict[str, Any]
) -> None:
    response = await server.http.post(
        "/resource",
        content=f"access_token={issued['access_token']}",
        headers={"content-type": FORM_CT.upper() + "; charset=utf-8"},
    )
    assert response.status_code == 200
