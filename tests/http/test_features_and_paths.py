"""Feature switches (pages, UserInfo, logout, password grant) and the one table of
endpoint paths (core/paths.py): what is routed is what is advertised, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from mintage.core.paths import ENDPOINT_PATHS
from mintage.web import rendering
from oauth_testkit import MakeServer, Server

FEATURES: list[dict[str, Any]] = [
    {},
    {"pages_enabled": False},
    {"userinfo_enabled": False},
    {"logout_enabled": False},
    {"password_grant_enabled": False},
    {"pages_enabled": False, "userinfo_enabled": False, "password_grant_enabled": False},
]


async def advertised(server: Server) -> dict[str, str]:
    """Every endpoint of both metadata documents, by field, as a path."""
    found: dict[str, str] = {}
    for doc_path in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ):
        document = (await server.http.get(doc_path)).json()
        issuer = document["issuer"]
        for name, value in document.items():
            if name.endswith("_endpoint") or name == "jwks_uri":
                assert value.startswith(issuer + "/"), (name, value)
                found[name] = value[len(issuer) :]
    return found


def routed_paths(app: Starlette) -> set[str]:
    return {route.path for route in app.routes if isinstance(route, Route)}


@pytest.mark.parametrize("features", FEATURES, ids=lambda f: ",".join(f) or "all")
async def test_every_advertised_endpoint_routes_and_back(
    make_server: MakeServer, features: dict[str, Any]
) -> None:
    server = await make_server(**features)
    endpoints = await advertised(server)
    assert endpoints == {n: p for n, p in ENDPOINT_PATHS.items() if n in endpoints}
    for name, path in endpoints.items():
        # any method: 405 means routed, the router's JSON 404 means not
        response = await server.http.get(path)
        assert response.status_code != 404, (name, path)
    routed_oauth = routed_paths(server.app) & set(ENDPOINT_PATHS.values())
    assert routed_oauth == set(endpoints.values())
    # and what is not served is not found, by its table path
    for name, path in ENDPOINT_PATHS.items():
        if name not in endpoints:
            response = await server.http.get(path)
            assert (response.status_code, response.json()) == (404, {"error": "not_found"})


async def test_a_token_only_server_serves_no_html(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    original = rendering.Pages.__init__

    def spy(self: rendering.Pages, templates_dir: Path | None = None) -> None:
        built.append(self)
        original(self, templates_dir)

    monkeypatch.setattr(rendering.Pages, "__init__", spy)
    server = await make_server(pages_enabled=False)
    assert built == []  # no template environment, no template compiled
    for path in ("/login", "/oauth/authorize", "/oauth/logout", "/static/style.css"):
        response = await server.http.get(path)
        assert (response.status_code, response.json()) == (404, {"error": "not_found"}), path
    response = await server.http.post("/oauth/authorize/decision", data={"decision": "approve"})
    assert response.status_code == 404
    document = (await server.http.get("/.well-known/openid-configuration")).json()
    assert "authorization_code" not in document["grant_types_supported"]
    assert document["response_types_supported"] == []
    assert "code_challenge_methods_supported" not in document
    # the token endpoint still works, and refuses the code grant as unsupported
    client = await server.client()
    assert (await server.client_credentials(client))["token_type"] == "Bearer"
    response = await server.token({"grant_type": "authorization_code", "code": "x"}, client.basic)
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")
    # the control: with pages on, the same spy sees the pages built
    await make_server()
    assert len(built) == 1


async def test_userinfo_off(make_server: MakeServer) -> None:
    server = await make_server(userinfo_enabled=False)
    response = await server.http.get("/userinfo", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert (await server.http.get("/login")).status_code == 200


async def test_logout_off_keeps_the_sign_in_pages(make_server: MakeServer) -> None:
    server = await make_server(logout_enabled=False)
    assert (await server.http.get("/oauth/logout")).status_code == 404
    assert (await server.http.get("/login")).status_code == 200


async def test_password_grant_off(make_server: MakeServer) -> None:
    server = await make_server(password_grant_enabled=False)
    await server.user()
    client = await server.client(grant_types=["password"])
    response = await server.token(
        {"grant_type": "password", "username": "alice", "password": "x"}, client.basic
    )
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")
    document = (await server.http.get("/.well-known/oauth-authorization-server")).json()
    assert "password" not in document["grant_types_supported"]
    on = await make_server()
    document = (await on.http.get("/.well-known/oauth-authorization-server")).json()
    assert "password" in document["grant_types_supported"]


def test_the_table_paths_are_below_the_issuer() -> None:
    for name, path in ENDPOINT_PATHS.items():
        assert path.startswith("/") and urlsplit(path).path == path, name
