"""Concurrent use of one-time artefacts through the ASGI app (docs/architecture.md §4, §8)."""

from __future__ import annotations

import asyncio
from collections import Counter

from mintage.core.credentials import token_digest
from mintage.core.models import Token
from mintage.storage.memory import MemoryStorage
from oauth_testkit import MakeServer, Server


async def test_twenty_concurrent_refreshes_have_one_winner(server: Server) -> None:
    await server.user()
    reg = await server.client(grant_types=("password", "refresh_token"))
    issued = await server.password_grant(reg)

    responses = await asyncio.gather(
        *(server.refresh(reg, issued["refresh_token"]) for _ in range(20))
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 400: 19}, statuses
    errors = {r.json()["error"] for r in responses if r.status_code == 400}
    assert errors == {"invalid_grant"}
    # every loser was a reuse of the rotated token, so the family is gone, the
    # winner's new tokens included (RFC 9700 §4.14.2)
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert (await server.resource(winner["access_token"])).status_code == 401
    again = await server.refresh(reg, winner["refresh_token"])
    assert again.json()["error"] == "invalid_grant"


async def test_concurrent_refreshes_of_different_families(server: Server) -> None:
    await server.user()
    reg = await server.client(grant_types=("password", "refresh_token"))
    families = [await server.password_grant(reg) for _ in range(10)]
    responses = await asyncio.gather(*(server.refresh(reg, f["refresh_token"]) for f in families))
    assert [r.status_code for r in responses] == [200] * 10
    news = [r.json() for r in responses]
    assert len({n["refresh_token"] for n in news}) == 10
    for new in news:
        assert (await server.resource(new["access_token"])).status_code == 200


async def test_concurrent_issuance_and_revocation(server: Server) -> None:
    reg = await server.client()
    tokens = await asyncio.gather(*(server.client_credentials(reg) for _ in range(20)))
    assert len({t["access_token"] for t in tokens}) == 20
    revoked = await asyncio.gather(
        *(
            server.http.post("/oauth/revoke", data={"token": t["access_token"]}, headers=reg.basic)
            for t in tokens[:10]
        )
    )
    assert all(r.status_code == 200 for r in revoked)
    results = await asyncio.gather(*(server.resource(t["access_token"]) for t in tokens))
    assert [r.status_code for r in results] == [401] * 10 + [200] * 10


class YieldingStorage(MemoryStorage):
    """Every token call yields to the event loop first, like a database round trip.

    The plain memory store never suspends inside a call, so requests barely interleave;
    this one lets twenty refreshes interleave at every step of the grant.
    """

    def __init__(self) -> None:
        super().__init__()
        self.consume_wins = 0

    async def get_token(self, digest: str) -> Token | None:
        await asyncio.sleep(0)
        return await super().get_token(digest)

    async def save_token(self, token: Token) -> None:
        # slow writes: the losers' reuse detection runs before the winner's successors
        # exist, the interleaving the grant's final re-check is there for
        for _ in range(5):
            await asyncio.sleep(0)
        await super().save_token(token)

    async def consume_token(self, digest: str, now: int) -> Token | None:
        await asyncio.sleep(0)
        won = await super().consume_token(digest, now)
        self.consume_wins += won is not None
        return won

    async def revoke_family(self, family_id: str, now: int) -> int:
        await asyncio.sleep(0)
        return await super().revoke_family(family_id, now)


async def test_interleaved_refreshes_leave_no_live_token_in_the_family(
    make_server: MakeServer,
) -> None:
    store = YieldingStorage()
    server = await make_server(storage=store)
    await server.user()
    reg = await server.client(grant_types=("password", "refresh_token"))
    issued = await server.password_grant(reg)
    family = store.tokens[token_digest(issued["refresh_token"])].family_id

    responses = await asyncio.gather(
        *(server.refresh(reg, issued["refresh_token"]) for _ in range(20))
    )

    assert store.consume_wins == 1  # the atomic consume has exactly one winner
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 400} and statuses[200] <= 1, statuses
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    # a concurrent second use is reuse: whatever the interleaving, the family is dead
    live = [
        t for t in store.tokens.values() if t.family_id == family and t.is_active(server.clock())
    ]
    assert live == []
