"""RFC 8414 metadata, health and readiness, routing."""

from __future__ import annotations

from mintage.core.oidc.claims import claims_supported
from oauth_testkit import MakeServer, Server


async def test_metadata_lists_exactly_what_is_enabled(make_server: MakeServer) -> None:
    server = await make_server(issuer="https://auth.example.com/")
    response = await server.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "max-age" in response.headers["cache-control"]
    issuer = "https://auth.example.com"
    assert response.json() == {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "grant_types_supported": [
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
        ],
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        # OpenID Connect Discovery 1.0 §3
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "end_session_endpoint": f"{issuer}/oauth/logout",
        "scopes_supported": ["address", "email", "offline_access", "openid", "phone", "profile"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": claims_supported(),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login", "consent"],
    }
    openid = await server.http.get("/.well-known/openid-configuration")
    assert openid.status_code == 200 and openid.json() == response.json()


async def test_metadata_endpoints_are_served_where_it_says(server: Server) -> None:
    doc = (await server.http.get("/.well-known/oauth-authorization-server")).json()
    assert doc["issuer"] == "http://127.0.0.1:3000"
    for key in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        path = doc[key].removeprefix(doc["issuer"])
        # a POST without parameters reaches the endpoint (400/401), not a 404
        response = await server.http.post(path)
        assert response.status_code in (400, 401), (key, response.status_code)


async def test_healthz_and_readyz(server: Server) -> None:
    health = await server.http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await server.http.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_security_headers(server: Server) -> None:
    response = await server.http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_wrong_methods_are_405(server: Server) -> None:
    for method, path in [
        ("GET", "/oauth/token"),
        ("PUT", "/oauth/token"),
        ("DELETE", "/oauth/token"),
        ("GET", "/oauth/introspect"),
        ("GET", "/oauth/revoke"),
        ("POST", "/.well-known/oauth-authorization-server"),
        ("POST", "/healthz"),
    ]:
        response = await server.http.request(method, path)
        assert response.status_code == 405, (method, path)
        assert "allow" in response.headers
        assert response.json() == {"error": "method_not_allowed"}


async def test_unknown_path_is_404(server: Server) -> None:
    response = await server.http.get("/oauth/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found"}
