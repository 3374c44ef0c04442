"""The refresh grace window (``refresh_grace_seconds``; docs/operations.md).

A retry of an already rotated refresh token, by the same client for the same scope,
within the window, gets the same successor pair; everything else about reuse is as
RFC 9700 §4.14.2 has it: the family is revoked.  The concurrent cases are in
test_one_time_artefacts_concurrency.py.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from mintage.core.credentials import token_digest
from mintage.core.models import Token
from mintage.storage.memory import MemoryStorage
from oauth_testkit import MakeServer, Registered, Server, authorize_code

GRACE = 10
CALLBACK = "https://app.example/callback"


@pytest.fixture
async def graced(make_server: MakeServer) -> Server:
    return await make_server(refresh_grace_seconds=GRACE)


async def app(server: Server, **kwargs: Any) -> Registered:
    await server.user()
    options: dict[str, Any] = {
        "grant_types": ("password", "refresh_token"),
        "scopes": ("read", "write"),
    }
    options.update(kwargs)
    return await server.client(**options)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


async def live(server: Server, pair: dict[str, Any]) -> bool:
    return (await server.resource(pair["access_token"])).status_code == 200


async def test_a_retry_within_the_window_gets_the_same_pair(graced: Server) -> None:
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))
    graced.clock.advance(GRACE)

    retried = ok(await graced.refresh(reg, first["refresh_token"]))

    assert retried["access_token"] == rotated["access_token"]
    assert retried["refresh_token"] == rotated["refresh_token"]
    assert retried["scope"] == rotated["scope"] and retried["token_type"] == "Bearer"
    # the access token is GRACE seconds older: its remaining lifetime says so
    assert retried["expires_in"] == rotated["expires_in"] - GRACE
    # nothing was revoked, and no new token was minted for the retry
    assert await live(graced, rotated)
    assert len(graced.tokens()) == 4  # the first pair and its successors
    # the pair goes on as usual
    third = ok(await graced.refresh(reg, rotated["refresh_token"]))
    assert await live(graced, third)


async def test_after_the_window_a_retry_is_reuse(graced: Server) -> None:
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))
    graced.clock.advance(GRACE + 1)

    invalid_grant(await graced.refresh(reg, first["refresh_token"]))

    assert not await live(graced, rotated)
    invalid_grant(await graced.refresh(reg, rotated["refresh_token"]))


async def test_a_revoked_family_is_not_resurrected(graced: Server) -> None:
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))
    revoked = await graced.http.post(
        "/oauth/revoke", data={"token": rotated["refresh_token"]}, headers=reg.basic
    )
    assert revoked.status_code == 200

    invalid_grant(await graced.refresh(reg, first["refresh_token"]))

    assert not await live(graced, rotated)
    assert all(t.revoked_at is not None for t in graced.tokens().values())


async def test_a_retry_after_the_successor_was_used_is_reuse(graced: Server) -> None:
    """The successor's use proves the response arrived: a later retry is a second
    holder, not a lost response."""
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))
    third = ok(await graced.refresh(reg, rotated["refresh_token"]))

    invalid_grant(await graced.refresh(reg, first["refresh_token"]))

    assert not await live(graced, third)


async def test_a_retry_after_the_access_token_was_revoked_is_reuse(graced: Server) -> None:
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))
    await graced.http.post(
        "/oauth/revoke", data={"token": rotated["access_token"]}, headers=reg.basic
    )

    invalid_grant(await graced.refresh(reg, first["refresh_token"]))

    invalid_grant(await graced.refresh(reg, rotated["refresh_token"]))


async def test_a_narrowed_rotation_retried_gets_its_pair_which_keeps_the_grant(
    graced: Server,
) -> None:
    """RFC 6749 §6 with the window: the retry of a narrowing rotation repeats its scope
    and gets the same pair; that pair's refresh token still holds the whole grant."""
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"], scope="read"))
    retried = ok(await graced.refresh(reg, first["refresh_token"], scope="read"))
    assert retried["refresh_token"] == rotated["refresh_token"]
    assert retried["scope"] == "read"
    restored = ok(await graced.refresh(reg, rotated["refresh_token"]))
    assert restored["scope"] == "read write"


@pytest.mark.parametrize(
    ("original", "retry"),
    [
        (None, "read"),  # narrower than the rotation got
        ("read", None),  # wider than the rotation got
        ("read", "read write"),
        ("read", "admin"),  # never granted at all (invalid_scope on a fresh request)
        ("read", "read  write"),  # malformed
    ],
)
async def test_a_retry_for_another_scope_is_reuse(
    graced: Server, original: str | None, retry: str | None
) -> None:
    reg = await app(graced)
    first = await graced.password_grant(reg)
    asked = {} if original is None else {"scope": original}
    rotated = ok(await graced.refresh(reg, first["refresh_token"], **asked))

    retried = {} if retry is None else {"scope": retry}
    invalid_grant(await graced.refresh(reg, first["refresh_token"], **retried))

    assert not await live(graced, rotated)


async def test_the_same_scope_in_another_order_is_the_same_request(graced: Server) -> None:
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"], scope="read write"))
    retried = ok(await graced.refresh(reg, first["refresh_token"], scope="write read"))
    assert retried["refresh_token"] == rotated["refresh_token"]


async def test_another_client_gets_nothing_and_changes_nothing(graced: Server) -> None:
    reg = await app(graced)
    other = await graced.client(name="other", grant_types=("refresh_token",), scopes=("read",))
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))

    invalid_grant(await graced.refresh(other, first["refresh_token"]))

    assert await live(graced, rotated)
    assert (
        ok(await graced.refresh(reg, first["refresh_token"]))["refresh_token"]
        == (rotated["refresh_token"])
    )


async def test_without_the_window_nothing_is_sealed_and_a_retry_is_reuse(server: Server) -> None:
    assert server.settings.refresh_grace_seconds == 0
    reg = await app(server)
    first = await server.password_grant(reg)
    rotated = ok(await server.refresh(reg, first["refresh_token"]))
    assert all(t.successor is None for t in server.tokens().values())

    invalid_grant(await server.refresh(reg, first["refresh_token"]))

    assert not await live(server, rotated)


async def test_the_store_holds_the_pair_only_sealed(graced: Server) -> None:
    reg = await app(graced)
    first = await graced.password_grant(reg)
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))
    parent = graced.tokens()[token_digest(first["refresh_token"])]
    assert parent.successor is not None
    stored = repr(list(graced.storage.tokens.items())) + parent.successor
    for value in (rotated["access_token"], rotated["refresh_token"], first["refresh_token"]):
        assert value not in stored


class CountingStorage(MemoryStorage):
    """Counts the token calls a refresh makes, and what consume_token is given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.consume_args: list[tuple[object, ...]] = []

    async def get_token(self, digest: str) -> Token | None:
        self.calls.append("get_token")
        return await super().get_token(digest)

    async def save_token(self, token: Token) -> None:
        self.calls.append("save_token")
        await super().save_token(token)

    async def consume_token(self, digest: str, now: int, *rest: str | None) -> Token | None:
        self.calls.append("consume_token")
        self.consume_args.append(rest)
        return await super().consume_token(digest, now, *rest)


@pytest.mark.parametrize("grace", [0, GRACE])
async def test_a_rotation_costs_the_same_store_calls_with_and_without_the_window(
    make_server: MakeServer, grace: int
) -> None:
    """The window adds no round trip to the hot path: the sealed pair rides on the
    consume statement; with the window off consume_token is called as before."""
    store = CountingStorage()
    server = await make_server(storage=store, refresh_grace_seconds=grace)
    reg = await app(server)
    first = await server.password_grant(reg)
    store.calls.clear()

    ok(await server.refresh(reg, first["refresh_token"]))

    assert sorted(store.calls) == ["consume_token", "get_token", "save_token", "save_token"]
    (args,) = store.consume_args
    if grace:
        assert len(args) == 1 and isinstance(args[0], str) and args[0].startswith("v1.")
    else:
        assert args == ()


async def test_a_retry_gets_the_same_jwt_access_token_and_id_token(graced: Server) -> None:
    """With OpenID Connect the rotation's response has an ID token, and a JWT access
    token for a ``jwt`` client: the retry gets those very strings too."""
    await graced.user()
    reg = await graced.client(
        grant_types=("authorization_code", "refresh_token"),
        scopes=("openid", "read", "offline_access"),
        redirect_uris=(CALLBACK,),
        access_token_format="jwt",
    )
    verifier = secrets.token_urlsafe(48)
    code = await authorize_code(
        graced.http,
        reg.client_id,
        redirect_uri=CALLBACK,
        code_verifier=verifier,
        scope="openid read offline_access",
    )
    first = ok(
        await graced.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            reg.basic,
        )
    )
    rotated = ok(await graced.refresh(reg, first["refresh_token"]))
    assert "id_token" in rotated and rotated["access_token"].count(".") == 2
    graced.clock.advance(1)

    retried = ok(await graced.refresh(reg, first["refresh_token"]))

    for name in ("access_token", "refresh_token", "id_token", "scope"):
        assert retried[name] == rotated[name], name
    assert await live(graced, rotated)
