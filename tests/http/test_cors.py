"""CORS for browser-based clients: listed origins only on the token, revocation and
UserInfo endpoints; discovery and JWKS open to any origin; nothing for other callers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mintage.settings import Settings
from oauth_testkit import MakeServer, Server

APP = "https://spa.example"


@pytest.fixture
async def spa_server(make_server: MakeServer) -> Server:
    return await make_server(cors_origins=f"{APP}, https://other.example")


async def test_preflight_for_a_listed_origin(spa_server: Server) -> None:
    response = await spa_server.http.options(
        "/oauth/token",
        headers={"Origin": APP, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-methods"] == "POST"
    assert "authorization" in response.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in response.headers
    refused = await spa_server.http.options(
        "/oauth/token", headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 204
    assert "access-control-allow-origin" not in refused.headers


async def test_token_answer_carries_the_origin_for_listed_origins_only(spa_server: Server) -> None:
    reg = await spa_server.client()
    data = {"grant_type": "client_credentials"}
    allowed = await spa_server.token(data, {**reg.basic, "Origin": APP})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP
    assert allowed.headers["vary"] == "origin"
    assert "www-authenticate" in allowed.headers["access-control-expose-headers"]
    other = await spa_server.token(data, {**reg.basic, "Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    plain = await spa_server.token(data, reg.basic)
    assert "access-control-allow-origin" not in plain.headers
    # errors are readable by the page too (it must see invalid_grant to start over)
    bad = await spa_server.token(
        {"grant_type": "refresh_token", "refresh_token": "x"}, {**reg.basic, "Origin": APP}
    )
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == APP


async def test_userinfo_and_revocation_follow_the_list(spa_server: Server) -> None:
    for path, method in (("/userinfo", "GET"), ("/oauth/revoke", "POST")):
        response = await spa_server.http.options(path, headers={"Origin": APP})
        assert response.headers["access-control-allow-origin"] == APP, path
        assert method in response.headers["access-control-allow-methods"]


async def test_introspection_is_never_cross_origin(spa_server: Server) -> None:
    response = await spa_server.http.options("/oauth/introspect", headers={"Origin": APP})
    assert "access-control-allow-origin" not in response.headers


async def test_without_cors_origins_browser_endpoints_are_closed(server: Server) -> None:
    reg = await server.client()
    response = await server.token(
        {"grant_type": "client_credentials"}, {**reg.basic, "Origin": APP}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = await server.http.options("/oauth/token", headers={"Origin": APP})
    assert preflight.status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ],
)
async def test_public_documents_are_open_to_any_origin(server: Server, path: str) -> None:
    response = await server.http.get(path, headers={"Origin": "https://anyone.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "vary" not in response.headers


async def test_any_origin_with_a_star(make_server: MakeServer) -> None:
    server = await make_server(cors_origins="*")
    response = await server.http.options("/oauth/token", headers={"Origin": "https://x.example"})
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "value", ["spa.example", "https://spa.example/path", "ftp://spa.example", "https://"]
)
def test_origins_are_validated(value: str) -> None:
    with pytest.raises(ValidationError, match="not an origin"):
        Settings(database_url="memory://", cors_origins=value)
