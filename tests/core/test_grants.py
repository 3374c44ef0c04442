"""Grants through the engine's token endpoint, without HTTP (RFC 6749 §4.3, §4.4, §5, §6).

Every failure asserts the exact error code and that the store did not change.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from mintage.core.clock import FrozenClock
from mintage.core.credentials import (
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    token_digest,
    well_formed,
)
from mintage.core.http import OAuthRequest
from mintage.core.models import Client, Token, TokenKind, User
from mintage.core.server import AuthorizationServer, ServerConfig
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PASSWORD, Registered, add_client, add_user

ISSUER = "https://as.example"


async def post_token(
    engine: AuthorizationServer, reg: Registered, **params: str
) -> tuple[int, dict[str, Any]]:
    """POST the parameters with ``client_secret_post`` (or ``none`` when public)."""
    request = OAuthRequest(
        "POST",
        "/oauth/token",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=urlencode({**reg.post, **params}).encode(),
    )
    response = await engine.handle(engine.token, request)
    assert ("cache-control", "no-store") in response.headers
    body: dict[str, Any] = orjson.loads(response.body)
    return response.status, body


def assert_error(result: tuple[int, dict[str, Any]], status: int, error: str) -> None:
    assert result[0] == status, result
    assert result[1]["error"] == error, result


class Setup:
    """The engine with a few clients; built by the ``s`` fixture."""

    def __init__(self, engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock):
        self.engine = engine
        self.store = store
        self.clock = clock

    async def client(self, **kwargs: Any) -> Registered:
        return await add_client(self.store, self.engine, self.clock, **kwargs)

    async def token(self, reg: Registered, **params: str) -> tuple[int, dict[str, Any]]:
        return await post_token(self.engine, reg, **params)

    async def issued(self, reg: Registered, **params: str) -> dict[str, Any]:
        status, body = await self.token(reg, **params)
        assert status == 200, body
        return body

    def stored(self, token: str) -> Any:
        return self.store.tokens.get(token_digest(token))


@pytest.fixture
def s(engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock) -> Setup:
    return Setup(engine, store, clock)


@pytest.fixture
async def alice(store: MemoryStorage) -> User:
    return await add_user(store, "alice")


@pytest.fixture
async def app_client(s: Setup) -> Registered:
    """A confidential client with the password and refresh grants, scopes read/write."""
    return await s.client(grant_types=("password", "refresh_token"), scopes=("read", "write"))


# client_credentials (§4.4)


async def test_client_credentials_issues_an_access_token_only(s: Setup) -> None:
    reg = await s.client(scopes=("read", "write"))
    body = await s.issued(reg, grant_type="client_credentials")
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read write"  # no scope asked: the client's allowed scopes
    assert well_formed(body["access_token"], ACCESS_TOKEN_PREFIX)
    token = s.stored(body["access_token"])
    assert token.kind is TokenKind.ACCESS
    assert token.client_id == reg.client_id
    assert token.subject == reg.client_id  # no resource owner: the client itself
    assert token.expires_at == s.clock() + 3600
    assert len(s.store.tokens) == 1


async def test_client_credentials_grants_the_asked_subset(s: Setup) -> None:
    reg = await s.client(scopes=("read", "write"))
    body = await s.issued(reg, grant_type="client_credentials", scope="write")
    assert body["scope"] == "write"
    assert s.stored(body["access_token"]).scope == "write"


async def test_client_credentials_refuses_other_scopes(s: Setup) -> None:
    reg = await s.client(scopes=("read",))
    assert_error(
        await s.token(reg, grant_type="client_credentials", scope="read admin"),
        400,
        "invalid_scope",
    )
    assert_error(
        await s.token(reg, grant_type="client_credentials", scope="a\\b"), 400, "invalid_scope"
    )
    assert_error(
        await s.token(reg, grant_type="client_credentials", scope=""), 400, "invalid_request"
    )
    assert s.store.tokens == {}


async def test_lifetimes_per_client_override_the_server(s: Setup) -> None:
    reg = await s.client(access_token_lifetime=60)
    body = await s.issued(reg, grant_type="client_credentials")
    assert body["expires_in"] == 60
    assert s.stored(body["access_token"]).expires_at == s.clock() + 60


async def test_lifetimes_server_wide(store: MemoryStorage, clock: FrozenClock) -> None:
    config = ServerConfig(issuer=ISSUER, access_token_lifetime=120, refresh_token_lifetime=600)
    engine = AuthorizationServer(config, store, b"k" * 32, clock)
    reg = await add_client(store, engine, clock, grant_types=("password", "refresh_token"))
    await add_user(store)
    status, body = await post_token(
        engine, reg, grant_type="password", username="alice", password=PASSWORD
    )
    assert status == 200, body
    assert body["expires_in"] == 120
    refresh = store.tokens[token_digest(body["refresh_token"])]
    assert refresh.expires_at == clock() + 600


async def test_grant_not_enabled_for_the_client_is_unauthorized_client(s: Setup) -> None:
    reg = await s.client(grant_types=("refresh_token",))
    assert_error(await s.token(reg, grant_type="client_credentials"), 400, "unauthorized_client")
    assert s.store.tokens == {}


async def test_public_client_may_not_use_client_credentials(s: Setup) -> None:
    # RFC 6749 §4.4: "MUST only be used by confidential clients".  Registration
    # refuses the combination, so such a client cannot have the grant listed ...
    reg = await s.client(grant_types=("refresh_token",), public=True)
    assert_error(await s.token(reg, grant_type="client_credentials"), 401, "invalid_client")
    # ... and a store edited by hand that lists it anyway is refused all the same.
    odd = Client(client_id="odd", name="odd", grant_types=("client_credentials",), scopes=())
    await s.store.save_client(odd)
    assert_error(
        await s.token(Registered(odd, None), grant_type="client_credentials"), 401, "invalid_client"
    )
    assert s.store.tokens == {}


async def test_unknown_grant_type(s: Setup) -> None:
    reg = await s.client()
    for grant_type in ("implicit", "authorization-code", "urn:x", "CLIENT_CREDENTIALS"):
        assert_error(await s.token(reg, grant_type=grant_type), 400, "unsupported_grant_type")
    assert_error(await s.token(reg), 400, "invalid_request")
    assert s.store.tokens == {}


# password (§4.3)


async def test_password_grant_issues_a_refresh_token(
    s: Setup, app_client: Registered, alice: User
) -> None:
    body = await s.issued(
        app_client, grant_type="password", username="alice", password=PASSWORD, scope="read"
    )
    assert body["scope"] == "read"
    assert well_formed(body["refresh_token"], REFRESH_TOKEN_PREFIX)
    access, refresh = s.stored(body["access_token"]), s.stored(body["refresh_token"])
    assert access.subject == refresh.subject == alice.user_id
    assert access.family_id == refresh.family_id
    assert refresh.kind is TokenKind.REFRESH
    assert refresh.expires_at == s.clock() + 14 * 24 * 3600


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("mallory", PASSWORD), ("ALICE", PASSWORD)]
)
async def test_password_grant_refuses_bad_credentials(
    s: Setup, app_client: Registered, alice: User, username: str, password: str
) -> None:
    result = await s.token(app_client, grant_type="password", username=username, password=password)
    assert_error(result, 400, "invalid_grant")
    assert s.store.tokens == {}


async def test_password_grant_needs_username_and_password(s: Setup, app_client: Registered) -> None:
    assert_error(
        await s.token(app_client, grant_type="password", password="x"), 400, "invalid_request"
    )
    assert_error(
        await s.token(app_client, grant_type="password", username="alice"), 400, "invalid_request"
    )
    assert s.store.tokens == {}


async def test_password_grant_only_when_enabled(s: Setup, alice: User) -> None:
    reg = await s.client(grant_types=("client_credentials", "refresh_token"))
    result = await s.token(reg, grant_type="password", username="alice", password=PASSWORD)
    assert_error(result, 400, "unauthorized_client")
    assert s.store.tokens == {}


async def test_password_grant_for_a_public_client(s: Setup, alice: User) -> None:
    reg = await s.client(grant_types=("password", "refresh_token"), public=True)
    body = await s.issued(reg, grant_type="password", username="alice", password=PASSWORD)
    assert "refresh_token" in body


async def test_password_grant_without_the_refresh_grant_issues_no_refresh_token(
    s: Setup, alice: User
) -> None:
    reg = await s.client(grant_types=("password",))
    body = await s.issued(reg, grant_type="password", username="alice", password=PASSWORD)
    assert "refresh_token" not in body
    assert [t.kind for t in s.store.tokens.values()] == [TokenKind.ACCESS]


# refresh_token (§6, RFC 9700 §4.14.2)


@pytest.fixture
async def granted(s: Setup, app_client: Registered, alice: User) -> dict[str, Any]:
    return await s.issued(app_client, grant_type="password", username="alice", password=PASSWORD)


async def test_refresh_rotates(s: Setup, app_client: Registered, granted: dict[str, Any]) -> None:
    s.clock.advance(100)
    body = await s.issued(
        app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert body["refresh_token"] != granted["refresh_token"]
    assert body["access_token"] != granted["access_token"]
    assert body["scope"] == "read write"
    old = s.stored(granted["refresh_token"])
    new = s.stored(body["refresh_token"])
    assert old.consumed_at == s.clock()
    assert new.family_id == old.family_id
    assert new.subject == old.subject
    assert new.expires_at == s.clock() + 14 * 24 * 3600
    assert s.stored(body["access_token"]).is_active(s.clock())


async def test_reuse_revokes_the_whole_family(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    second = await s.issued(
        app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    result = await s.token(
        app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert_error(result, 400, "invalid_grant")
    for value in (granted["access_token"], second["access_token"], second["refresh_token"]):
        assert s.stored(value).revoked_at is not None, value
    assert_error(
        await s.token(
            app_client, grant_type="refresh_token", refresh_token=second["refresh_token"]
        ),
        400,
        "invalid_grant",
    )


async def test_reuse_with_a_wider_scope_still_revokes_the_family(
    s: Setup, app_client: Registered, alice: User
) -> None:
    first = await s.issued(
        app_client, grant_type="password", username="alice", password=PASSWORD, scope="read"
    )
    second = await s.issued(
        app_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    replay = await s.token(
        app_client, grant_type="refresh_token", refresh_token=first["refresh_token"], scope="write"
    )
    assert_error(replay, 400, "invalid_grant")
    assert s.stored(second["refresh_token"]).revoked_at is not None


async def test_refresh_may_narrow_the_scope(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    body = await s.issued(
        app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"], scope="read"
    )
    assert body["scope"] == "read"
    assert s.stored(body["access_token"]).scope == "read"
    # RFC 6749 §6: the access token is narrowed, the grant is not
    assert s.stored(body["refresh_token"]).scope == granted["scope"] == "read write"
    later = await s.issued(
        app_client, grant_type="refresh_token", refresh_token=body["refresh_token"], scope="write"
    )
    assert later["scope"] == "write"
    assert s.stored(later["refresh_token"]).scope == "read write"


async def test_widening_is_refused_and_does_not_consume(
    s: Setup, app_client: Registered, alice: User
) -> None:
    first = await s.issued(
        app_client, grant_type="password", username="alice", password=PASSWORD, scope="read"
    )
    before = dict(s.store.tokens)
    result = await s.token(
        app_client,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        scope="read write",
    )
    assert_error(result, 400, "invalid_scope")
    assert s.store.tokens == before
    await s.issued(app_client, grant_type="refresh_token", refresh_token=first["refresh_token"])


async def test_a_foreign_refresh_token_is_invalid_grant_and_left_alone(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    other = await s.client(grant_types=("password", "refresh_token"), scopes=("read", "write"))
    before = dict(s.store.tokens)
    result = await s.token(
        other, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert_error(result, 400, "invalid_grant")
    assert s.store.tokens == before
    await s.issued(app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"])


async def test_expired_refresh_token(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    s.clock.advance(14 * 24 * 3600)
    result = await s.token(
        app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert_error(result, 400, "invalid_grant")
    # an inactive token is invalid_grant whatever else the request asks
    result = await s.token(
        app_client,
        grant_type="refresh_token",
        refresh_token=granted["refresh_token"],
        scope="admin",
    )
    assert_error(result, 400, "invalid_grant")
    assert s.stored(granted["refresh_token"]).consumed_at is None


async def test_refresh_token_just_before_expiry(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    s.clock.advance(14 * 24 * 3600 - 1)
    await s.issued(app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"])


async def test_revoked_refresh_token(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    await s.store.revoke_token(token_digest(granted["refresh_token"]), s.clock())
    result = await s.token(
        app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert_error(result, 400, "invalid_grant")


async def test_refresh_needs_a_refresh_token(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    before = dict(s.store.tokens)
    bad = granted["refresh_token"]
    for value in (
        granted["access_token"],
        bad[:-1],
        bad[:-1] + ("A" if bad[-1] != "A" else "B"),
        "x",
    ):
        assert_error(
            await s.token(app_client, grant_type="refresh_token", refresh_token=value),
            400,
            "invalid_grant",
        )
    assert_error(await s.token(app_client, grant_type="refresh_token"), 400, "invalid_request")
    assert s.store.tokens == before


async def test_client_credentials_has_no_refresh_token_to_refresh(s: Setup) -> None:
    reg = await s.client(grant_types=("client_credentials", "refresh_token"))
    body = await s.issued(reg, grant_type="client_credentials")
    assert "refresh_token" not in body


async def test_refresh_of_a_grant_without_scope(s: Setup, alice: User) -> None:
    """A client registered with no scopes gets scope "" and can still refresh it."""
    reg = await s.client(grant_types=("password", "refresh_token"), scopes=())
    first = await s.issued(reg, grant_type="password", username="alice", password=PASSWORD)
    assert first["scope"] == ""
    second = await s.issued(reg, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second["scope"] == ""
    result = await s.token(
        reg, grant_type="refresh_token", refresh_token=second["refresh_token"], scope="read"
    )
    assert_error(result, 400, "invalid_scope")


class RevokedWhileRefreshing(MemoryStorage):
    """Revokes the parent token just before it is consumed (a concurrent revocation)."""

    async def consume_token(self, digest: str, now: int) -> Token | None:
        await self.revoke_token(digest, now)
        return await super().consume_token(digest, now)


async def test_successors_of_a_refresh_that_loses_are_revoked(
    clock: FrozenClock, alice_store: RevokedWhileRefreshing
) -> None:
    store = alice_store
    engine = AuthorizationServer(ServerConfig(issuer=ISSUER), store, b"k" * 32, clock)
    reg = await add_client(store, engine, clock, grant_types=("password", "refresh_token"))
    status, first = await post_token(
        engine, reg, grant_type="password", username="alice", password=PASSWORD
    )
    assert status == 200
    result = await post_token(
        engine, reg, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert_error(result, 400, "invalid_grant")
    # the successors written before the lost consume were never sent, and are dead
    live = {t.digest for t in store.tokens.values() if t.is_active(clock())}
    assert live == {token_digest(first["access_token"])}


@pytest.fixture
async def alice_store() -> RevokedWhileRefreshing:
    store = RevokedWhileRefreshing()
    await add_user(store, "alice")
    return store


async def test_a_scope_withdrawn_from_the_client_does_not_survive_a_refresh(
    s: Setup, app_client: Registered, granted: dict[str, Any]
) -> None:
    assert granted["scope"] == "read write"
    narrowed = dataclasses.replace(app_client.client, scopes=("read",))
    await s.store.save_client(narrowed)
    body = await s.issued(
        app_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert body["scope"] == "read"
    result = await s.token(
        app_client, grant_type="refresh_token", refresh_token=body["refresh_token"], scope="write"
    )
    assert_error(result, 400, "invalid_scope")
