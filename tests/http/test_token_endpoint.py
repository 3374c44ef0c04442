"""POST /oauth/token over HTTP (RFC 6749 §2.3.1, §3.2, §4.3, §4.4, §5, §6)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest

from mintage.core.credentials import token_digest
from mintage.core.login import LOCK_BASE, LOCK_THRESHOLD
from oauth_testkit import PASSWORD, MakeServer, Registered, Server, basic


def assert_token_response(response: httpx.Response) -> dict[str, Any]:
    """RFC 6749 §5.1: JSON body, Bearer type, and no caching."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body: dict[str, Any] = response.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    return body


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """RFC 6749 §5.2: JSON error body with the code, never cached."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "error_description"}
    return body


@pytest.fixture
async def svc(server: Server) -> Registered:
    return await server.client(scopes=("read", "write"))


# client authentication methods


async def test_client_credentials_with_client_secret_basic(server: Server, svc: Registered) -> None:
    response = await server.token({"grant_type": "client_credentials"}, svc.basic)
    body = assert_token_response(response)
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["expires_in"] == 3600
    assert body["scope"] == "read write"


async def test_client_credentials_with_client_secret_post(server: Server, svc: Registered) -> None:
    response = await server.token({"grant_type": "client_credentials", **svc.post})
    assert "refresh_token" not in assert_token_response(response)


async def test_client_credentials_with_a_json_body(server: Server, svc: Registered) -> None:
    # the origin's example client posts exactly this
    response = await server.http.post(
        "/oauth/token", json={"grant_type": "client_credentials", **svc.post}
    )
    body = assert_token_response(response)
    assert (await server.resource(body["access_token"])).status_code == 200


async def test_json_body_with_basic_auth(server: Server, svc: Registered) -> None:
    response = await server.http.post(
        "/oauth/token",
        json={"grant_type": "client_credentials", "scope": "read"},
        headers=svc.basic,
    )
    assert assert_token_response(response)["scope"] == "read"


async def test_both_methods_at_once_is_invalid_request(server: Server, svc: Registered) -> None:
    response = await server.token({"grant_type": "client_credentials", **svc.post}, svc.basic)
    assert_error(response, 400, "invalid_request")
    assert server.tokens() == {}


async def test_failed_basic_answers_401_with_a_challenge(server: Server, svc: Registered) -> None:
    response = await server.token(
        {"grant_type": "client_credentials"}, basic(svc.client_id, "mint_cs_wrong")
    )
    assert_error(response, 401, "invalid_client")
    challenge = response.headers["www-authenticate"]
    assert re.match(r'^Basic realm="[^"]+"', challenge), challenge
    assert server.tokens() == {}


async def test_failed_post_auth_answers_401_with_the_basic_challenge(
    server: Server, svc: Registered
) -> None:
    """RFC 9110 §15.5.2: a 401 carries a challenge even when Basic was not tried."""
    response = await server.token(
        {"grant_type": "client_credentials", "client_id": svc.client_id, "client_secret": "nope"}
    )
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == 'Basic realm="mintage", charset="UTF-8"'


async def test_unknown_client(server: Server) -> None:
    response = await server.token(
        {"grant_type": "client_credentials"}, basic("nobody", "mint_cs_whatever")
    )
    assert_error(response, 401, "invalid_client")


async def test_no_client_authentication_at_all(server: Server, svc: Registered) -> None:
    response = await server.token({"grant_type": "client_credentials"})
    assert_error(response, 401, "invalid_client")
    assert server.tokens() == {}


async def test_confidential_client_without_its_secret(server: Server, svc: Registered) -> None:
    response = await server.token({"grant_type": "client_credentials", "client_id": svc.client_id})
    assert_error(response, 401, "invalid_client")


async def test_public_client_with_client_credentials_is_invalid_client(server: Server) -> None:
    public = await server.client(grant_types=("refresh_token", "password"), public=True)
    response = await server.token({"grant_type": "client_credentials", **public.post})
    assert_error(response, 401, "invalid_client")
    assert server.tokens() == {}


# grants and scopes


async def test_grant_not_enabled_is_unauthorized_client(server: Server, svc: Registered) -> None:
    await server.user()
    response = await server.token(
        {"grant_type": "password", "username": "alice", "password": PASSWORD}, svc.basic
    )
    assert_error(response, 400, "unauthorized_client")
    assert server.tokens() == {}


async def test_unknown_grant_type(server: Server, svc: Registered) -> None:
    response = await server.token({"grant_type": "implicit"}, svc.basic)
    assert_error(response, 400, "unsupported_grant_type")
    response = await server.token(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}, svc.basic
    )
    assert_error(response, 400, "unsupported_grant_type")


async def test_missing_grant_type(server: Server, svc: Registered) -> None:
    body = assert_error(await server.token({"scope": "read"}, svc.basic), 400, "invalid_request")
    assert "grant_type" in body["error_description"]


async def test_scope_subset_default_and_refusal(server: Server, svc: Registered) -> None:
    asked = await server.token({"grant_type": "client_credentials", "scope": "write"}, svc.basic)
    assert assert_token_response(asked)["scope"] == "write"
    default = await server.token({"grant_type": "client_credentials"}, svc.basic)
    assert assert_token_response(default)["scope"] == "read write"
    before = server.tokens()
    refused = await server.token(
        {"grant_type": "client_credentials", "scope": "read admin"}, svc.basic
    )
    assert_error(refused, 400, "invalid_scope")
    assert server.tokens() == before


async def test_password_grant_issues_a_refresh_token(server: Server) -> None:
    reg = await server.client(grant_types=("password", "refresh_token"), scopes=("read",))
    user = await server.user()
    body = await server.password_grant(reg)
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["refresh_token"].startswith("mint_rt_")
    seen = (await server.resource(body["access_token"])).json()
    assert seen["sub"] == user.user_id
    assert seen["client_id"] == reg.client_id


async def test_password_grant_with_wrong_password(server: Server) -> None:
    reg = await server.client(grant_types=("password",))
    await server.user()
    response = await server.token(
        {"grant_type": "password", "username": "alice", "password": "guess"}, reg.basic
    )
    assert_error(response, 400, "invalid_grant")
    assert server.tokens() == {}


# tokens: format, storage, lifetimes


async def test_tokens_are_opaque_and_long(server: Server) -> None:
    reg = await server.client(grant_types=("password", "refresh_token"))
    await server.user()
    body = await server.password_grant(reg)
    for value, prefix in ((body["access_token"], "mint_at_"), (body["refresh_token"], "mint_rt_")):
        assert value.startswith(prefix)
        random_part = value[len(prefix) : len(prefix) + 43]
        assert len(base64.urlsafe_b64decode(random_part + "=")) * 8 >= 256
        assert "." not in value  # not a JWT: nothing to decode


async def test_the_store_holds_only_digests(server: Server) -> None:
    reg = await server.client(grant_types=("password", "refresh_token"))
    await server.user()
    first = await server.password_grant(reg)
    second = assert_token_response(await server.refresh(reg, first["refresh_token"]))
    state = repr(vars(server.storage))
    raw = [first["access_token"], first["refresh_token"], second["access_token"]]
    raw += [second["refresh_token"], reg.secret, PASSWORD]
    for value in raw:
        assert value is not None
        assert value not in state
        # nor its body without the prefix
        assert value[8:40] not in state
    assert token_digest(first["access_token"]) in state  # the check looks in the right place


async def test_access_tokens_expire_after_3600_seconds(server: Server, svc: Registered) -> None:
    body = await server.client_credentials(svc)
    server.clock.advance(3599)
    assert (await server.resource(body["access_token"])).status_code == 200
    server.clock.advance(1)
    assert (await server.resource(body["access_token"])).status_code == 401
    assert (await server.introspect(svc, body["access_token"])) == {"active": False}


async def test_refresh_tokens_last_14_days(server: Server) -> None:
    reg = await server.client(grant_types=("password", "refresh_token"))
    await server.user()
    body = await server.password_grant(reg)
    other = await server.password_grant(reg)
    server.clock.advance(14 * 24 * 3600 - 1)
    assert_token_response(await server.refresh(reg, body["refresh_token"]))
    server.clock.advance(1)
    assert_error(await server.refresh(reg, other["refresh_token"]), 400, "invalid_grant")


async def test_lifetimes_are_configurable_server_wide(make_server: MakeServer) -> None:
    server = await make_server(access_token_lifetime=60, refresh_token_lifetime=120)
    reg = await server.client(grant_types=("password", "refresh_token"))
    await server.user()
    body = await server.password_grant(reg)
    assert body["expires_in"] == 60
    server.clock.advance(60)
    assert (await server.resource(body["access_token"])).status_code == 401
    server.clock.advance(60)
    assert_error(await server.refresh(reg, body["refresh_token"]), 400, "invalid_grant")


async def test_lifetimes_are_configurable_per_client(server: Server) -> None:
    reg = await server.client(access_token_lifetime=30)
    body = await server.client_credentials(reg)
    assert body["expires_in"] == 30
    server.clock.advance(30)
    assert (await server.resource(body["access_token"])).status_code == 401


# refresh: rotation, reuse, narrowing, binding


@pytest.fixture
async def app_client(server: Server) -> Registered:
    await server.user()
    return await server.client(grant_types=("password", "refresh_token"), scopes=("read", "write"))


async def test_refresh_rotates(server: Server, app_client: Registered) -> None:
    first = await server.password_grant(app_client)
    second = assert_token_response(await server.refresh(app_client, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await server.resource(second["access_token"])).status_code == 200
    third = assert_token_response(await server.refresh(app_client, second["refresh_token"]))
    assert (await server.resource(third["access_token"])).status_code == 200


async def test_reuse_of_a_rotated_refresh_token_revokes_the_family(
    server: Server, app_client: Registered
) -> None:
    first = await server.password_grant(app_client)
    second = assert_token_response(await server.refresh(app_client, first["refresh_token"]))
    assert (await server.resource(second["access_token"])).status_code == 200

    assert_error(await server.refresh(app_client, first["refresh_token"]), 400, "invalid_grant")

    # the successor refresh token and every access token of the family stop working
    assert_error(await server.refresh(app_client, second["refresh_token"]), 400, "invalid_grant")
    for access in (first["access_token"], second["access_token"]):
        response = await server.resource(access)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert await server.introspect(app_client, access) == {"active": False}
    assert await server.introspect(app_client, second["refresh_token"]) == {"active": False}


async def test_reuse_leaves_other_families_alone(server: Server, app_client: Registered) -> None:
    mine = await server.password_grant(app_client)
    theirs = await server.password_grant(app_client)
    assert_token_response(await server.refresh(app_client, mine["refresh_token"]))
    assert_error(await server.refresh(app_client, mine["refresh_token"]), 400, "invalid_grant")
    assert (await server.resource(theirs["access_token"])).status_code == 200
    assert_token_response(await server.refresh(app_client, theirs["refresh_token"]))


async def test_refreshed_scope_may_narrow(server: Server, app_client: Registered) -> None:
    first = await server.password_grant(app_client)
    narrowed = assert_token_response(
        await server.refresh(app_client, first["refresh_token"], scope="read")
    )
    assert narrowed["scope"] == "read"
    assert (await server.resource(narrowed["access_token"])).json()["scope"] == "read"


async def test_a_narrowed_refresh_keeps_the_grant_for_the_next_one(
    server: Server, app_client: Registered
) -> None:
    """RFC 6749 §6: the narrower scope is the new access token's only; the new refresh
    token keeps the original grant, and a refresh without ``scope`` gets it back."""
    first = await server.password_grant(app_client)
    assert first["scope"] == "read write"
    narrowed = assert_token_response(
        await server.refresh(app_client, first["refresh_token"], scope="read")
    )
    assert narrowed["scope"] == "read"
    assert (await server.resource(narrowed["access_token"])).json()["scope"] == "read"
    assert (await server.introspect(app_client, narrowed["refresh_token"]))["scope"] == "read write"
    restored = assert_token_response(await server.refresh(app_client, narrowed["refresh_token"]))
    assert restored["scope"] == "read write"
    assert (await server.resource(restored["access_token"])).json()["scope"] == "read write"
    # narrowing again, to the other half, is still within the grant
    other = assert_token_response(
        await server.refresh(app_client, restored["refresh_token"], scope="write")
    )
    assert other["scope"] == "write"


async def test_widening_beyond_the_grant_after_a_narrowing_is_invalid_scope(
    server: Server, app_client: Registered
) -> None:
    first = await server.password_grant(app_client, scope="read")
    narrowed = assert_token_response(
        await server.refresh(app_client, first["refresh_token"], scope="read")
    )
    before = server.tokens()
    wider = await server.refresh(app_client, narrowed["refresh_token"], scope="read write")
    assert_error(wider, 400, "invalid_scope")
    assert server.tokens() == before
    again = assert_token_response(await server.refresh(app_client, narrowed["refresh_token"]))
    assert again["scope"] == "read"


async def test_widening_is_invalid_scope_and_keeps_the_token(
    server: Server, app_client: Registered
) -> None:
    first = await server.password_grant(app_client, scope="read")
    before = server.tokens()
    response = await server.refresh(app_client, first["refresh_token"], scope="read write")
    assert_error(response, 400, "invalid_scope")
    assert server.tokens() == before
    # not consumed: it still works, once
    assert (
        assert_token_response(await server.refresh(app_client, first["refresh_token"]))["scope"]
        == "read"
    )


async def test_foreign_refresh_token_is_invalid_grant(
    server: Server, app_client: Registered
) -> None:
    first = await server.password_grant(app_client)
    thief = await server.client(grant_types=("password", "refresh_token"), scopes=("read", "write"))
    before = server.tokens()
    assert_error(await server.refresh(thief, first["refresh_token"]), 400, "invalid_grant")
    assert server.tokens() == before
    assert (await server.resource(first["access_token"])).status_code == 200
    assert_token_response(await server.refresh(app_client, first["refresh_token"]))


async def test_public_client_refreshes_with_client_id_only(server: Server) -> None:
    await server.user()
    public = await server.client(grant_types=("password", "refresh_token"), public=True)
    first = await server.password_grant(public)
    second = assert_token_response(await server.refresh(public, first["refresh_token"]))
    assert (await server.resource(second["access_token"])).status_code == 200


async def test_refresh_with_an_access_token_is_invalid_grant(
    server: Server, app_client: Registered
) -> None:
    first = await server.password_grant(app_client)
    assert_error(await server.refresh(app_client, first["access_token"]), 400, "invalid_grant")


async def test_json_and_form_share_the_duplicate_rule(server: Server, svc: Registered) -> None:
    raw = json.dumps({"grant_type": "client_credentials", **svc.post})
    doubled = raw[:-1] + ', "grant_type": "client_credentials"}'
    response = await server.http.post(
        "/oauth/token", content=doubled, headers={"content-type": "application/json"}
    )
    body = assert_error(response, 400, "invalid_request")
    assert "grant_type" in body["error_description"]
    assert server.tokens() == {}


async def test_password_grant_shares_the_sign_in_lock_out(server: Server) -> None:
    """RFC 6749 §10.10: guessing through the token endpoint counts toward the same
    lock-out as the sign-in page, and a locked account answers like a wrong password."""
    await server.user()
    reg = await server.client(grant_types=("password",))

    async def attempt(password: str) -> httpx.Response:
        data = {"grant_type": "password", "username": "alice", "password": password}
        return await server.token(data, reg.basic)

    for _ in range(LOCK_THRESHOLD):
        wrong = await attempt("guess")
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # the same row as the sign-in page's: alice from httpx.ASGITransport's address
    source = server.engine.login.source_key("alice", "127.0.0.1")
    assert server.storage.login_failures[source].locked_until == server.clock() + LOCK_BASE
    locked = await attempt(PASSWORD)  # the right password, while locked
    assert locked.status_code == 400 and locked.json() == wrong.json()
    server.clock.advance(LOCK_BASE)
    assert (await attempt(PASSWORD)).status_code == 200
    assert source not in server.storage.login_failures
