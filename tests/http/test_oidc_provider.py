"""OpenID Provider over HTTP: ID tokens, JWT access tokens, UserInfo, JWKS.

Tokens are checked with joserfc and the published JWKS only, as a relying party or a
resource server would.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from mintage.core.pkce import s256
from mintage.storage.memory import MemoryStorage
from oauth_testkit import MakeServer, Registered, Server, bearer
from polling import until

CB = "https://rp.example/cb"
VERIFIER = "w" * 50


async def jwks(server: Server) -> KeySet:
    response = await server.http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    return KeySet.import_key_set(response.json())


async def decode(
    server: Server, token: str, algs: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    result = jwt.decode(token, await jwks(server), algorithms=algs)
    return dict(result.header), dict(result.claims)


async def oidc_client(server: Server, **kwargs: Any) -> Registered:
    options: dict[str, Any] = {
        "name": "RP",
        "grant_types": ("authorization_code", "refresh_token"),
        "scopes": ("openid", "profile", "email", "address", "phone", "read", "offline_access"),
        "redirect_uris": (CB,),
    }
    options.update(kwargs)
    return await server.client(**options)


async def code_flow(
    server: Server, reg: Registered, scope: str, nonce: str | None = "n-0S6_WzA2Mj"
) -> dict[str, Any]:
    """Sign in as alice through the engine (the pages have their own tests)."""
    user = await server.storage.get_user_by_username("alice")
    assert user is not None
    engine = server.engine
    params = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": CB,
        "scope": scope,
        "state": "s",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    if nonce is not None:
        params["nonce"] = nonce
    pending = await engine.authorize.validate(params)
    auth_time = server.clock() - 30
    location = await engine.authorize.approve(pending, user.user_id, auth_time)
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = await server.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CB,
            "code_verifier": VERIFIER,
        },
        reg.basic,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def at_hash(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.fixture
async def alice(server: Server) -> None:
    user = await server.user()
    claims = {
        "name": "Alice Liddell",
        "email": "alice@example.com",
        "email_verified": "true",
        "address.locality": "Oxford",
        "address.country": "UK",
        "phone_number": "+44 1865 000000",
        "updated_at": "1700000000",
    }
    await server.storage.save_user(dataclasses.replace(user, claims=claims))


async def test_code_flow_with_openid_returns_a_valid_id_token(server: Server, alice: None) -> None:
    reg = await oidc_client(server)
    body = await code_flow(server, reg, "openid profile")
    header, claims = await decode(server, body["id_token"], ["RS256"])
    assert header["alg"] == "RS256" and header["kid"]
    user = await server.storage.get_user_by_username("alice")
    assert user is not None
    now = server.clock()
    assert claims["iss"] == server.settings.issuer_url
    assert claims["sub"] == user.user_id
    assert claims["aud"] == reg.client_id and claims["azp"] == reg.client_id
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["auth_time"] == now - 30
    assert claims["iat"] == now and claims["exp"] == now + 3600
    assert claims["amr"] == ["pwd"]
    assert claims["at_hash"] == at_hash(body["access_token"])
    # the profile claims go to UserInfo, not into the ID token (Core §5.4)
    assert "name" not in claims


async def test_no_id_token_without_openid(server: Server, alice: None) -> None:
    reg = await oidc_client(server)
    body = await code_flow(server, reg, "read profile")
    assert "id_token" not in body


async def test_refresh_returns_a_new_id_token_with_the_original_auth_time(
    server: Server, alice: None
) -> None:
    reg = await oidc_client(server)
    first = await code_flow(server, reg, "openid email offline_access")
    _, original = await decode(server, first["id_token"], ["RS256"])
    server.clock.advance(600)
    refreshed = await server.refresh(reg, first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    _, claims = await decode(server, body["id_token"], ["RS256"])
    assert claims["sub"] == original["sub"] and claims["aud"] == reg.client_id
    assert claims["auth_time"] == original["auth_time"]
    assert claims["iat"] == original["iat"] + 600
    assert "nonce" not in claims  # Core §12.2
    assert claims["at_hash"] == at_hash(body["access_token"])


async def test_userinfo_releases_claims_by_scope(server: Server, alice: None) -> None:
    reg = await oidc_client(server)
    body = await code_flow(server, reg, "openid email address")
    for method in ("GET", "POST"):
        response = await server.http.request(
            method, "/userinfo", headers=bearer(body["access_token"])
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        info = response.json()
        assert set(info) == {"sub", "email", "email_verified", "address"}
        assert info["email_verified"] is True
        assert info["address"] == {"locality": "Oxford", "country": "UK"}
    everything = await code_flow(server, reg, "openid profile phone")
    info = (await server.http.get("/userinfo", headers=bearer(everything["access_token"]))).json()
    assert info["name"] == "Alice Liddell" and info["preferred_username"] == "alice"
    assert info["updated_at"] == 1700000000 and info["phone_number"] == "+44 1865 000000"
    assert "email" not in info


async def test_userinfo_errors_are_rfc_6750(server: Server, alice: None) -> None:
    reg = await oidc_client(server)
    none = await server.http.get("/userinfo")
    assert none.status_code == 401
    assert none.headers["www-authenticate"] == 'Bearer realm="mintage"'
    no_openid = await code_flow(server, reg, "profile")
    refused = await server.http.get("/userinfo", headers=bearer(no_openid["access_token"]))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    machine = await server.client(scopes=("openid",))
    token = (await server.client_credentials(machine, scope="openid"))["access_token"]
    not_a_user = await server.http.get("/userinfo", headers=bearer(token))
    assert not_a_user.status_code == 401
    assert 'error="invalid_token"' in not_a_user.headers["www-authenticate"]
    id_token = (await code_flow(server, reg, "openid"))["id_token"]
    wrong_kind = await server.http.get("/userinfo", headers=bearer(id_token))
    assert wrong_kind.status_code == 401


async def test_jwt_access_token_per_client(server: Server) -> None:
    reg = await server.client(access_token_format="jwt", scopes=("read", "write"))
    body = await server.client_credentials(reg, scope="read")
    header, claims = await decode(server, body["access_token"], ["ES256"])
    assert header["typ"] == "at+jwt"  # RFC 9068 §2.1
    now = server.clock()
    assert claims == {
        "iss": server.settings.issuer_url,
        "exp": now + 3600,
        "aud": f"{server.settings.issuer_url}/resource",
        "sub": reg.client_id,
        "client_id": reg.client_id,
        "iat": now,
        "jti": claims["jti"],
        "scope": "read",
    }
    assert len(claims["jti"]) >= 22
    assert (await server.resource(body["access_token"])).status_code == 200
    opaque = await server.client()
    assert (await server.client_credentials(opaque))["access_token"].startswith("mint_at_")


async def test_revoked_jwt_is_refused_until_it_expires(server: Server) -> None:
    reg = await server.client(access_token_format="jwt")
    token = (await server.client_credentials(reg))["access_token"]
    assert (await server.introspect(reg, token))["active"] is True
    revoked = await server.http.post("/oauth/revoke", data={"token": token}, headers=reg.basic)
    assert revoked.status_code == 200
    # the signature still verifies offline, but the server's deny-list says no
    await decode(server, token, ["ES256"])
    assert (await server.resource(token)).status_code == 401
    assert (await server.introspect(reg, token)) == {"active": False}


async def test_server_default_format_and_signing_alg(make_server: MakeServer) -> None:
    server = await make_server(
        access_token_format="jwt",
        access_token_signing_alg="EdDSA",
        access_token_audience="https://api.example",
    )
    reg = await server.client()
    token = (await server.client_credentials(reg))["access_token"]
    header, claims = await decode(server, token, ["EdDSA"])
    assert header["alg"] == "EdDSA" and claims["aud"] == "https://api.example"
    per_client = await server.client(access_token_format="opaque")
    assert (await server.client_credentials(per_client))["access_token"].startswith("mint_at_")


async def test_refresh_reuse_revokes_jwt_access_tokens_of_the_family(
    server: Server, alice: None
) -> None:
    reg = await oidc_client(server, access_token_format="jwt")
    first = await code_flow(server, reg, "openid read offline_access")
    second = (await server.refresh(reg, first["refresh_token"])).json()
    assert (await server.resource(second["access_token"])).status_code == 200
    reuse = await server.refresh(reg, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert (await server.resource(second["access_token"])).status_code == 401
    assert (
        await server.http.get("/userinfo", headers=bearer(second["access_token"]))
    ).status_code == 401


async def test_jwks_and_discovery(server: Server) -> None:
    doc = (await server.http.get("/.well-known/openid-configuration")).json()
    issuer = server.settings.issuer_url
    assert doc["issuer"] == issuer and doc["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert doc["userinfo_endpoint"] == f"{issuer}/userinfo"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "openid" in doc["scopes_supported"]
    keys = (await server.http.get("/.well-known/jwks.json")).json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


async def test_scheduled_rotation_adds_a_key_when_the_newest_is_too_old(
    make_server: MakeServer,
) -> None:
    """``key_rotation_days``: the check runs at start-up, then hourly."""
    first = await make_server()
    old = (await first.storage.list_signing_keys())[0]
    store = MemoryStorage()
    # one RS256 key two days old: due for a one-day rotation
    store.signing_keys[old.kid] = dataclasses.replace(
        old, alg="RS256", created_at=first.clock() - 2 * 86_400
    )
    server = await make_server(storage=store, key_rotation_days=1)
    await until(
        lambda: len([k for k in store.signing_keys.values() if k.alg == "RS256"]) == 2,
        what="the rotation at start-up",
    )
    rs = sorted(
        (k for k in store.signing_keys.values() if k.alg == "RS256"), key=lambda k: k.created_at
    )
    assert len(rs) == 2 and rs[1].not_before == server.clock() + 600
    # the old key stops signing when the new one starts, and stays published an hour
    assert rs[0].retired_at == rs[1].not_before
    assert rs[0].publish_until == rs[1].not_before + 3600
    events = await store.list_audit_events(events=["key.rotated"])
    assert [e.detail["kid"] for e in events] == [rs[1].kid]
