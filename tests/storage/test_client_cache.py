"""get_client's cache in the SQL stores (mintage.storage.sql.client_cache): changes made
in-process take effect at once, changes made by another process within a second, through
invalidation (PostgreSQL NOTIFY, SQLite data_version), not by waiting out the TTL."""

from __future__ import annotations

import pytest

from mintage.core.storage import Storage
from mintage.storage.sql.client_cache import ClientCache
from mintage.storage.sql.postgres import PostgresStorage
from mintage.storage.sql.sqlite import SQLiteStorage
from mintage.testing.records import client
from polling import until

TTL = 0.05


class Monotonic:
    """A ``time.monotonic`` that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def with_ttl(store: Storage, ttl: float) -> Storage:
    """A store on the same database as ``store`` (another connection or pool)."""
    if isinstance(store, SQLiteStorage):
        return SQLiteStorage(store.database_url, client_cache_ttl=ttl)
    assert isinstance(store, PostgresStorage)
    return PostgresStorage(store.dsn, schema=store.schema, client_cache_ttl=ttl)


def cache_of(store: Storage) -> ClientCache:
    assert isinstance(store, SQLiteStorage | PostgresStorage)
    return store._clients


# the cache itself -----------------------------------------------------------------------


def test_a_hit_until_the_ttl_passes() -> None:
    monotonic = Monotonic()
    cache = ClientCache(ttl=TTL, monotonic=monotonic)
    cache.put(client(), cache.generation)
    monotonic.now += TTL * 0.9
    assert cache.get("client-1") == client()
    monotonic.now += TTL * 0.2
    assert cache.get("client-1") is None
    assert len(cache) == 0  # the expired entry is gone


def test_size_is_bounded_and_the_oldest_read_goes() -> None:
    cache = ClientCache(ttl=60, max_size=3)
    for i in range(5):
        cache.put(client(f"c{i}"), cache.generation)
    assert len(cache) == 3
    assert [cache.get(f"c{i}") is not None for i in range(5)] == [False, False, True, True, True]


def test_a_read_older_than_an_invalidation_is_not_stored() -> None:
    cache = ClientCache(ttl=60)
    generation = cache.generation  # a read starts…
    cache.invalidate("client-1")  # …a write commits meanwhile…
    cache.put(client(), generation)  # …the read ends with a possibly older row
    assert cache.get("client-1") is None
    cache.put(client(), cache.generation)
    assert cache.get("client-1") == client()


def test_ttl_zero_turns_caching_off() -> None:
    cache = ClientCache(ttl=0)
    cache.put(client(), cache.generation)
    assert cache.get("client-1") is None and len(cache) == 0


def test_topics_drop_one_client_or_all() -> None:
    cache = ClientCache(ttl=60)
    for name in ("a", "b", "c"):
        cache.put(client(name), cache.generation)
    cache.invalidated("client:b")
    assert [cache.get(n) is not None for n in "abc"] == [True, False, True]
    cache.invalidated("keys")  # not ours: ignored
    assert len(cache) == 2
    cache.invalidated("*")
    assert len(cache) == 0


def test_unreliable_invalidation_shortens_new_entries() -> None:
    monotonic = Monotonic()
    cache = ClientCache(ttl=60, fallback_ttl=TTL, monotonic=monotonic)
    cache.set_reliable(False)
    cache.put(client(), cache.generation)
    monotonic.now += TTL * 1.5
    assert cache.get("client-1") is None  # the fallback TTL, not 60 s
    cache.set_reliable(True)
    cache.put(client(), cache.generation)
    monotonic.now += TTL * 1.5
    assert cache.get("client-1") == client()


# both SQL stores ------------------------------------------------------------------------


async def test_in_process_changes_take_effect_at_once(sql_store: Storage) -> None:
    await sql_store.save_client(client())
    assert await sql_store.get_client("client-1") == client()  # now cached
    rotated = client(secret_digest="sha256$" + "cd" * 32)
    await sql_store.save_client(rotated)
    assert await sql_store.get_client("client-1") == rotated
    assert await sql_store.delete_client("client-1") is True
    assert await sql_store.get_client("client-1") is None


async def test_changes_by_another_process_reach_the_cache_within_a_second(
    sql_backend: Storage,
) -> None:
    # A 60 s TTL: only an invalidation can make the change visible within the second.
    server, cli = with_ttl(sql_backend, 60), with_ttl(sql_backend, 60)
    await server.open()
    await cli.open()
    try:
        heard: list[str] = []
        assert isinstance(server, SQLiteStorage | PostgresStorage)
        server.add_invalidation_listener("client:", heard.append)
        await cli.save_client(client())

        async def creation_heard() -> bool:  # so that it cannot empty the cache later
            return bool(heard)

        await until(creation_heard, within=1.0, what="the creation")
        assert await server.get_client("client-1") == client()
        assert len(cache_of(server)) == 1
        rotated = client(secret_digest="sha256$" + "cd" * 32)
        await cli.save_client(rotated)  # e.g. `mintage client rotate-secret`

        async def rotated_seen() -> bool:
            return await server.get_client("client-1") == rotated

        await until(rotated_seen, within=1.0, what="the rotated secret")
        assert len(cache_of(server)) == 1  # cached again, the new row
        await cli.delete_client("client-1")

        async def deleted_seen() -> bool:
            return await server.get_client("client-1") is None

        await until(deleted_seen, within=1.0, what="the deletion")
    finally:
        await cli.close()
        await server.close()


async def test_unknown_ids_are_not_cached(sql_backend: Storage) -> None:
    server, other = with_ttl(sql_backend, 60), with_ttl(sql_backend, 60)
    await server.open()
    await other.open()
    try:
        for i in range(1000):
            assert await server.get_client(f"made-up-{i}") is None
        assert len(cache_of(server)) == 0  # a flood of unknown ids costs no memory
        assert await server.get_client("client-1") is None
        await other.save_client(client())
        assert await server.get_client("client-1") == client()  # visible at once
    finally:
        await other.close()
        await server.close()


async def test_closing_forgets_the_cache(sql_store: Storage) -> None:
    heard: list[str] = []
    assert isinstance(sql_store, SQLiteStorage | PostgresStorage)
    sql_store.add_invalidation_listener("client:", heard.append)
    await sql_store.save_client(client())
    if isinstance(sql_store, PostgresStorage):  # its own NOTIFY comes back too: let it pass

        async def echoed() -> bool:
            return len(heard) == 2

        await until(echoed, what="the echo")
    await sql_store.get_client("client-1")
    assert len(cache_of(sql_store)) == 1
    await sql_store.close()
    assert len(cache_of(sql_store)) == 0
    with pytest.raises(RuntimeError, match="not open"):
        await sql_store.get_client("client-1")
