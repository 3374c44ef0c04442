"""Fifty simultaneous redemptions of one refresh token or one authorization code, through
the ASGI app, on memory, SQLite and PostgreSQL (docs/architecture.md §4, §8).

Exactly one redemption succeeds; the others get ``invalid_grant``, never a 5xx; and a
second use is reuse, so the whole family is revoked, the winner's tokens included
(RFC 9700 §4.14.2 for refresh tokens, RFC 6749 §4.1.2 for codes).  With the refresh
grace window on, the losers of a refresh race get the winner's pair instead (see
docs/operations.md).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from typing import Any

import httpx
import pytest

from backend_testkit import (  # noqa: F401 (fixtures, found by pytest through this import)
    BACKENDS,
    make_store,
    pg_schema,
    postgres_url,
    sqlite_url,
)
from mintage.core.credentials import token_digest
from mintage.core.storage import Storage
from mintage.storage.memory import MemoryStorage
from oauth_testkit import MakeServer, Registered, Server, authorize_code

N = 50
#: replays of one spent credential, one after another
REPLAYS = 250
GRACE = 10
CALLBACK = "https://app.example/callback"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Storage:
    """An unopened store of each kind; the app's lifespan opens and closes it."""
    return make_store(request.param, request)


def tally(responses: list[httpx.Response]) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    assert not [s for s in statuses if s >= 500], statuses
    return statuses


def errors(responses: list[httpx.Response]) -> set[str]:
    return {r.json()["error"] for r in responses if r.status_code != 200}


async def assert_dead(server: Server, reg: Registered, pair: dict[str, Any]) -> None:
    """Neither token of ``pair`` works any more, wherever it is presented."""
    assert (await server.resource(pair["access_token"])).status_code == 401
    assert (await server.introspect(reg, pair["access_token"])) == {"active": False}
    assert (await server.introspect(reg, pair["refresh_token"])) == {"active": False}
    again = await server.refresh(reg, pair["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def password_client(server: Server) -> Registered:
    await server.user()
    return await server.client(grant_types=("password", "refresh_token"), scopes=("read",))


async def test_fifty_refreshes_of_one_token_have_one_winner_and_revoke_the_family(
    make_server: MakeServer, backend: Storage
) -> None:
    server = await make_server(storage=backend)
    reg = await password_client(server)
    issued = await server.password_grant(reg)

    responses = await asyncio.gather(
        *(server.refresh(reg, issued["refresh_token"]) for _ in range(N))
    )

    assert tally(responses) == {200: 1, 400: N - 1}
    assert errors(responses) == {"invalid_grant"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert winner["refresh_token"] != issued["refresh_token"]
    # Every loser was a second use of the rotated token: the family is revoked, the
    # winner's new pair and the original access token included (RFC 9700 §4.14.2).
    await assert_dead(server, reg, winner)
    assert (await server.resource(issued["access_token"])).status_code == 401
    # with the grace window off, no response is kept, not even sealed
    parent = await backend.get_token(token_digest(issued["refresh_token"]))
    assert parent is not None and parent.consumed_at is not None and parent.successor is None


async def test_with_the_grace_window_fifty_refreshes_get_one_pair(
    make_server: MakeServer, backend: Storage
) -> None:
    """One rotation; the 49 losers are retries within the window and get its pair."""
    server = await make_server(storage=backend, refresh_grace_seconds=GRACE)
    reg = await password_client(server)
    issued = await server.password_grant(reg)

    responses = await asyncio.gather(
        *(server.refresh(reg, issued["refresh_token"]) for _ in range(N))
    )

    assert tally(responses) == {200: N}
    pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for r in responses}
    assert len(pairs) == 1
    pair = responses[0].json()
    assert (await server.resource(pair["access_token"])).status_code == 200
    assert (await server.introspect(reg, pair["refresh_token"]))["active"] is True
    if isinstance(backend, MemoryStorage):
        # the losers' own successors were never sent, and are dead: what is live is
        # the pair and the first access token
        now = server.clock()
        live = {d for d, t in backend.tokens.items() if t.is_active(now) and not t.consumed_at}
        wanted = (pair["access_token"], pair["refresh_token"], issued["access_token"])
        assert live == {token_digest(value) for value in wanted}
    parent = await backend.get_token(token_digest(issued["refresh_token"]))
    assert parent is not None and parent.successor is not None
    # the original access token is left alone: nothing was reuse
    assert (await server.resource(issued["access_token"])).status_code == 200

    # After the window, the old token is reuse again: the family goes, the pair with it.
    server.clock.advance(GRACE + 1)
    late = await server.refresh(reg, issued["refresh_token"])
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    await assert_dead(server, reg, pair)


async def code_client(server: Server) -> Registered:
    await server.user()
    return await server.client(
        grant_types=("authorization_code", "refresh_token"),
        scopes=("read",),
        redirect_uris=(CALLBACK,),
        public=True,
    )


async def test_fifty_redemptions_of_one_code_have_one_winner_and_revoke_its_tokens(
    make_server: MakeServer, backend: Storage
) -> None:
    server = await make_server(storage=backend)
    reg = await code_client(server)
    verifier = secrets.token_urlsafe(48)
    code = await authorize_code(
        server.http, reg.client_id, redirect_uri=CALLBACK, code_verifier=verifier
    )
    data = {
        "grant_type": "authorization_code",
        "client_id": reg.client_id,
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }

    responses = await asyncio.gather(*(server.token(data) for _ in range(N)))

    assert tally(responses) == {200: 1, 400: N - 1}
    assert errors(responses) == {"invalid_grant"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert winner["scope"] == "read" and "refresh_token" in winner
    # RFC 6749 §4.1.2: a code used twice has its tokens revoked.  A public client
    # cannot introspect, so ask the resource server the token is meant for.
    other = await server.resource_server()
    assert (await server.resource(winner["access_token"])).status_code == 401
    assert (await server.introspect(other, winner["access_token"])) == {"active": False}
    again = await server.refresh(reg, winner["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


# Replays do not flood the audit table: the first reuse revokes the family and is
# recorded; every later one is refused the same way and finds nothing left to revoke.


async def test_replays_of_a_rotated_refresh_token_record_one_event(
    make_server: MakeServer, backend: Storage
) -> None:
    server = await make_server(storage=backend)
    reg = await password_client(server)
    issued = await server.password_grant(reg)
    rotated = await server.refresh(reg, issued["refresh_token"])
    assert rotated.status_code == 200

    for _ in range(REPLAYS):
        replay = await server.refresh(reg, issued["refresh_token"])
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    await assert_dead(server, reg, rotated.json())
    found = await backend.list_audit_events(events={"refresh.reuse_detected"}, limit=1000)
    assert len(found) == 1
    # both pairs: the first access token, the rotated parent, and its successors
    assert found[0].detail["revoked"] == 4


async def test_replays_of_a_spent_code_record_one_event(
    make_server: MakeServer, backend: Storage
) -> None:
    server = await make_server(storage=backend)
    reg = await code_client(server)
    verifier = secrets.token_urlsafe(48)
    code = await authorize_code(
        server.http, reg.client_id, redirect_uri=CALLBACK, code_verifier=verifier
    )
    data = {
        "grant_type": "authorization_code",
        "client_id": reg.client_id,
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    first = await server.token(data)
    assert first.status_code == 200

    for _ in range(REPLAYS):
        replay = await server.token(data)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    assert (await server.resource(first.json()["access_token"])).status_code == 401
    found = await backend.list_audit_events(events={"code.replay_detected"}, limit=1000)
    assert len(found) == 1
    assert found[0].detail["revoked"] == 2
