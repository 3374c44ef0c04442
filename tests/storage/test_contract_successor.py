"""The storage contract for the refresh grace window: ``consume_token`` keeps the sealed
successor of the winning rotation, ``get_token`` returns it (RFC 9700 §4.14.2; see
src/mintage/core/grants/refresh_grace.py).  Run against memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio

from storage_records import NOW, token

from mintage.core.storage import Storage

SEALED = "v1." + "A" * 300  # what the grant stores: opaque text, a few hundred bytes


async def test_consume_with_a_successor_stores_it_and_returns_the_token_as_it_was(
    store: Storage,
) -> None:
    await store.save_token(token())
    assert await store.consume_token("digest-1", NOW, SEALED) == token()
    assert await store.get_token("digest-1") == token(consumed_at=NOW, successor=SEALED)


async def test_consume_without_a_successor_stores_none(store: Storage) -> None:
    await store.save_token(token())
    assert await store.consume_token("digest-1", NOW) == token()
    stored = await store.get_token("digest-1")
    assert stored is not None and stored.consumed_at == NOW and stored.successor is None


async def test_a_losing_consume_leaves_the_winners_successor(store: Storage) -> None:
    await store.save_token(token())
    assert await store.consume_token("digest-1", NOW, "first") is not None
    assert await store.consume_token("digest-1", NOW, "second") is None
    stored = await store.get_token("digest-1")
    assert stored is not None and stored.successor == "first"


async def test_spent_tokens_take_no_successor(store: Storage) -> None:
    await store.save_token(token("revoked", revoked_at=NOW - 1))
    await store.save_token(token("expired", expires_at=NOW))
    for digest in ("revoked", "expired"):
        assert await store.consume_token(digest, NOW, SEALED) is None
        stored = await store.get_token(digest)
        assert stored is not None and stored.successor is None and stored.consumed_at is None


async def test_fifty_concurrent_consumes_store_the_one_winners_successor(store: Storage) -> None:
    await store.save_token(token())
    results = await asyncio.gather(
        *(store.consume_token("digest-1", NOW, f"sealed-{i}") for i in range(50))
    )
    winners = [i for i, r in enumerate(results) if r is not None]
    assert len(winners) == 1
    stored = await store.get_token("digest-1")
    assert stored is not None and stored.successor == f"sealed-{winners[0]}"


async def test_token_with_a_successor_round_trips(store: Storage) -> None:
    original = token(consumed_at=NOW - 1, successor=SEALED)
    await store.save_token(original)
    assert await store.get_token("digest-1") == original


async def test_token_repr_leaves_the_sealed_successor_out() -> None:
    assert SEALED not in repr(token(successor=SEALED))
