"""The ``authorization_code`` grant at the token endpoint, without HTTP (RFC 6749 §4.1.3,
§4.1.2; RFC 7636 §4.5–4.6; RFC 9700 §2.1.1, §4.8.2).

Codes are obtained from the engine's authorization endpoint (validate + approve), as the
sign-in and consent pages would.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
import pytest

from mintage.core.clock import FrozenClock
from mintage.core.credentials import AUTHORIZATION_CODE_PREFIX, mint, token_digest
from mintage.core.http import OAuthRequest
from mintage.core.models import AuthorizationCode, Token, TokenKind
from mintage.core.pkce import s256
from mintage.core.server import AuthorizationServer, ServerConfig
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PEPPER, Registered, add_client

ISSUER = "https://as.example"
CB = "https://app.example/cb"
VERIFIER = "verifier-" + "x" * 40


class Setup:
    def __init__(self, engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock):
        self.engine = engine
        self.store = store
        self.clock = clock

    async def client(self, **kwargs: Any) -> Registered:
        options: dict[str, Any] = {
            "grant_types": ("authorization_code", "refresh_token"),
            "scopes": ("read", "write"),
            "redirect_uris": (CB,),
            "public": True,
        }
        options.update(kwargs)
        return await add_client(self.store, self.engine, self.clock, **options)

    async def code(self, reg: Registered, subject: str = "user-1", **overrides: str | None) -> str:
        """A fresh code for ``reg`` (PKCE S256 with :data:`VERIFIER` unless overridden)."""
        assert self.engine.authorize is not None
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": reg.client_id,
            "redirect_uri": CB,
            "scope": "read write",
            "state": "st",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        request = await self.engine.authorize.validate(
            {k: v for k, v in params.items() if v is not None}
        )
        location = await self.engine.authorize.approve(request, subject, self.clock.now)
        return parse_qs(urlsplit(location).query)["code"][0]

    async def token(self, reg: Registered, **params: str | None) -> tuple[int, dict[str, Any]]:
        """POST /oauth/token; ``client_secret_post`` or ``none`` authentication."""
        body = {"grant_type": "authorization_code", **reg.post, **params}
        request = OAuthRequest(
            "POST",
            "/oauth/token",
            headers={"content-type": "application/x-www-form-urlencoded"},
            body=urlencode({k: v for k, v in body.items() if v is not None}).encode(),
        )
        response = await self.engine.handle(self.engine.token, request)
        return response.status, orjson.loads(response.body)

    async def redeem(self, reg: Registered, code: str, **params: str | None) -> dict[str, Any]:
        defaults: dict[str, str | None] = {
            "code": code,
            "redirect_uri": CB,
            "code_verifier": VERIFIER,
        }
        status, body = await self.token(reg, **{**defaults, **params})
        assert status == 200, body
        return body

    def stored(self, value: str) -> Token:
        return self.store.tokens[token_digest(value)]

    def code_record(self, code: str) -> AuthorizationCode:
        return self.store.codes[token_digest(code)]


@pytest.fixture
def s(engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock) -> Setup:
    return Setup(engine, store, clock)


def assert_error(result: tuple[int, dict[str, Any]], status: int, error: str) -> str:
    assert result[0] == status, result
    assert result[1]["error"] == error, result
    return str(result[1].get("error_description", ""))


# success


async def test_public_client_redeems_a_code(s: Setup) -> None:
    reg = await s.client()
    code = await s.code(reg)
    body = await s.redeem(reg, code)
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    assert body["expires_in"] == 3600
    access, refresh = s.stored(body["access_token"]), s.stored(body["refresh_token"])
    assert (access.kind, refresh.kind) == (TokenKind.ACCESS, TokenKind.REFRESH)
    assert access.subject == refresh.subject == "user-1"
    assert access.client_id == reg.client_id
    # the tokens belong to the code's family, so a replay can revoke them
    assert access.family_id == refresh.family_id == s.code_record(code).family_id
    assert s.code_record(code).consumed_at == s.clock.now


async def test_confidential_client_redeems_with_basic(s: Setup) -> None:
    reg = await s.client(public=False)
    code = await s.code(reg)
    params = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CB,
        "code_verifier": VERIFIER,
    }
    request = OAuthRequest(
        "POST",
        "/oauth/token",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "authorization": reg.basic["Authorization"],
        },
        body=urlencode(params).encode(),
    )
    response = await s.engine.handle(s.engine.token, request)
    assert response.status == 200, response.body


async def test_confidential_client_must_authenticate(s: Setup) -> None:
    reg = await s.client(public=False)
    code = await s.code(reg)
    no_secret = Registered(reg.client, None)
    assert_error(
        await s.token(no_secret, code=code, redirect_uri=CB, code_verifier=VERIFIER),
        401,
        "invalid_client",
    )
    assert s.code_record(code).consumed_at is None
    await s.redeem(reg, code)


async def test_no_refresh_token_without_the_refresh_grant(s: Setup) -> None:
    reg = await s.client(grant_types=("authorization_code",))
    body = await s.redeem(reg, await s.code(reg))
    assert "refresh_token" not in body


async def test_refresh_after_the_code_keeps_subject_and_family(s: Setup) -> None:
    reg = await s.client()
    body = await s.redeem(reg, await s.code(reg))
    status, refreshed = await s.token(
        reg, grant_type="refresh_token", refresh_token=body["refresh_token"]
    )
    assert status == 200, refreshed
    assert s.stored(refreshed["access_token"]).subject == "user-1"
    # RFC 6749 §6: a refresh cannot widen the scope the user approved
    narrow = await s.client(scopes=("read", "write", "admin"))
    first = await s.redeem(narrow, await s.code(narrow, scope="read"))
    assert_error(
        await s.token(
            narrow, grant_type="refresh_token", refresh_token=first["refresh_token"], scope="admin"
        ),
        400,
        "invalid_scope",
    )


async def test_a_scope_withdrawn_from_the_client_is_not_granted(s: Setup) -> None:
    reg = await s.client()
    code = await s.code(reg)
    reduced = dataclasses.replace(reg.client, scopes=("read",))
    await s.store.save_client(reduced)
    body = await s.redeem(Registered(reduced, None), code)
    assert body["scope"] == "read"


# single use (§4.1.2): a replay fails and revokes what the code gave


async def test_replay_fails_and_revokes_the_tokens_of_the_first_use(s: Setup) -> None:
    reg = await s.client()
    code = await s.code(reg)
    body = await s.redeem(reg, code)
    s.clock.advance(5)
    status, refreshed = await s.token(
        reg, grant_type="refresh_token", refresh_token=body["refresh_token"]
    )
    assert status == 200
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier=VERIFIER),
        400,
        "invalid_grant",
    )
    for value in (body["access_token"], refreshed["access_token"], refreshed["refresh_token"]):
        assert s.stored(value).revoked_at == s.clock.now
    assert len(s.store.tokens) == 4  # nothing new was issued


async def test_a_replay_that_would_not_redeem_revokes_nothing(s: Setup) -> None:
    """Only a replay that would otherwise have been valid revokes (RFC 9700 §4.5): a
    sloppy one is refused and leaves the user's tokens alone."""
    reg = await s.client()
    code = await s.code(reg)
    body = await s.redeem(reg, code)
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier="w" * 50),
        400,
        "invalid_grant",
    )
    assert_error(await s.token(reg, code=code, code_verifier=VERIFIER), 400, "invalid_grant")
    assert_error(await s.token(reg, code=code, redirect_uri=CB), 400, "invalid_request")
    assert s.stored(body["access_token"]).revoked_at is None
    assert s.stored(body["refresh_token"]).revoked_at is None


async def test_replay_does_not_touch_other_grants(s: Setup) -> None:
    reg = await s.client()
    first, second = await s.code(reg), await s.code(reg)
    one = await s.redeem(reg, first)
    two = await s.redeem(reg, second)
    await s.token(reg, code=first, redirect_uri=CB, code_verifier=VERIFIER)
    assert s.stored(one["access_token"]).revoked_at is not None
    assert s.stored(two["access_token"]).revoked_at is None


async def test_concurrent_redemptions_have_one_winner(s: Setup) -> None:
    reg = await s.client()
    code = await s.code(reg)
    results = await asyncio.gather(
        *(s.token(reg, code=code, redirect_uri=CB, code_verifier=VERIFIER) for _ in range(20))
    )
    assert sorted(status for status, _ in results) == [200] + [400] * 19
    assert all(body["error"] == "invalid_grant" for status, body in results if status != 200)
    # the others were second uses: the tokens of the code are revoked
    assert all(t.revoked_at is not None for t in s.store.tokens.values())


class LosingStore(MemoryStorage):
    """``consume_code`` loses as if something else happened between lookup and consume."""

    def __init__(self, consumed_meanwhile: bool) -> None:
        super().__init__()
        self.consumed_meanwhile = consumed_meanwhile

    async def consume_code(self, digest: str, now: int) -> AuthorizationCode | None:
        if self.consumed_meanwhile:
            code = self.codes[digest]
            self.codes[digest] = dataclasses.replace(code, consumed_at=now)
        else:  # expired or deleted meanwhile
            del self.codes[digest]
        return None


@pytest.mark.parametrize("consumed_meanwhile", [True, False])
async def test_losing_the_consume_race_leaves_no_live_token(
    clock: FrozenClock, consumed_meanwhile: bool
) -> None:
    store = LosingStore(consumed_meanwhile)
    s = Setup(AuthorizationServer(ServerConfig(issuer=ISSUER), store, PEPPER, clock), store, clock)
    reg = await s.client()
    code = await s.code(reg)
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier=VERIFIER),
        400,
        "invalid_grant",
    )
    assert len(store.tokens) == 2  # issued before the consume, then revoked
    assert all(t.revoked_at is not None for t in store.tokens.values())


# bad codes


async def test_unknown_malformed_and_missing_codes(s: Setup) -> None:
    reg = await s.client()
    for code in (mint(AUTHORIZATION_CODE_PREFIX), "mint_ac_x", "garbage", mint("mint_rt_")):
        assert_error(
            await s.token(reg, code=code, redirect_uri=CB, code_verifier=VERIFIER),
            400,
            "invalid_grant",
        )
    assert "code" in assert_error(await s.token(reg, redirect_uri=CB), 400, "invalid_request")
    assert s.store.tokens == {}


async def test_code_of_another_client_is_refused_and_left_alone(s: Setup) -> None:
    mine, other = await s.client(), await s.client(name="other")
    code = await s.code(mine)
    assert_error(
        await s.token(other, code=code, redirect_uri=CB, code_verifier=VERIFIER),
        400,
        "invalid_grant",
    )
    assert s.store.tokens == {}
    await s.redeem(mine, code)  # still good for its own client


async def test_code_expires_after_60_seconds(s: Setup) -> None:
    reg = await s.client()
    fresh, stale = await s.code(reg), await s.code(reg)
    s.clock.advance(59)
    await s.redeem(reg, fresh)
    s.clock.advance(1)
    assert_error(
        await s.token(reg, code=stale, redirect_uri=CB, code_verifier=VERIFIER),
        400,
        "invalid_grant",
    )
    assert s.code_record(stale).consumed_at is None


async def test_client_without_the_grant_cannot_redeem(s: Setup) -> None:
    reg = await s.client()
    code = await s.code(reg)
    await s.store.save_client(dataclasses.replace(reg.client, grant_types=("refresh_token",)))
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier=VERIFIER),
        400,
        "unauthorized_client",
    )


# redirect_uri binding (§4.1.3)


async def test_redirect_uri_must_be_repeated_when_it_was_sent(s: Setup) -> None:
    reg = await s.client()
    code = await s.code(reg)
    for uri in (None, CB + "/", "https://evil.example/cb"):
        assert_error(
            await s.token(reg, code=code, redirect_uri=uri, code_verifier=VERIFIER),
            400,
            "invalid_grant",
        )
    assert s.store.tokens == {}
    await s.redeem(reg, code)  # failed attempts do not burn the code


async def test_redirect_uri_optional_when_it_was_omitted(s: Setup) -> None:
    reg = await s.client()
    await s.redeem(reg, await s.code(reg, redirect_uri=None), redirect_uri=None)
    await s.redeem(reg, await s.code(reg, redirect_uri=None), redirect_uri=CB)
    code = await s.code(reg, redirect_uri=None)
    assert_error(
        await s.token(
            reg, code=code, redirect_uri="https://evil.example/cb", code_verifier=VERIFIER
        ),
        400,
        "invalid_grant",
    )


async def test_loopback_code_is_bound_to_the_port_used(s: Setup) -> None:
    reg = await s.client(redirect_uris=("http://127.0.0.1/cb",))
    code = await s.code(reg, redirect_uri="http://127.0.0.1:5555/cb")
    assert_error(
        await s.token(
            reg, code=code, redirect_uri="http://127.0.0.1:6666/cb", code_verifier=VERIFIER
        ),
        400,
        "invalid_grant",
    )
    await s.redeem(reg, code, redirect_uri="http://127.0.0.1:5555/cb")


# PKCE (RFC 7636 §4.6, RFC 9700 §4.8.2)


async def test_pkce_verifier_missing_wrong_or_malformed(s: Setup) -> None:
    reg = await s.client()
    code = await s.code(reg)
    assert "code_verifier" in assert_error(
        await s.token(reg, code=code, redirect_uri=CB), 400, "invalid_request"
    )
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier="w" * 43),
        400,
        "invalid_grant",
    )
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier="short"),
        400,
        "invalid_request",
    )
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier=s256(VERIFIER)),
        400,
        "invalid_grant",
    )
    assert s.store.tokens == {}
    await s.redeem(reg, code)  # an attacker's failed guesses do not burn the code


async def test_verifier_without_challenge_is_refused(s: Setup) -> None:
    reg = await s.client(public=False, require_pkce=False)
    code = await s.code(reg, code_challenge=None, code_challenge_method=None)
    assert s.code_record(code).code_challenge is None
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier=VERIFIER),
        400,
        "invalid_grant",
    )
    await s.redeem(reg, code, code_verifier=None)


async def test_plain_pkce_when_allowed(store: MemoryStorage, clock: FrozenClock) -> None:
    engine = AuthorizationServer(
        ServerConfig(issuer=ISSUER, allow_plain_pkce=True), store, PEPPER, clock
    )
    s = Setup(engine, store, clock)
    reg = await s.client()
    code = await s.code(reg, code_challenge=VERIFIER, code_challenge_method="plain")
    assert_error(
        await s.token(reg, code=code, redirect_uri=CB, code_verifier=s256(VERIFIER)),
        400,
        "invalid_grant",
    )
    await s.redeem(reg, code)


# the engine


def test_the_code_grant_and_its_endpoint_are_always_offered(engine: AuthorizationServer) -> None:
    assert "authorization_code" in engine.token.grants
    doc = orjson.loads(asyncio.run(engine.metadata()).body)
    assert doc["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert doc["response_types_supported"] == ["code"]
    assert "authorization_code" in doc["grant_types_supported"]
