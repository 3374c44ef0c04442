"""Cache invalidation (mintage.core.storage.InvalidationSource): the in-process hub, and
delivery across processes (PostgreSQL LISTEN/NOTIFY, SQLite PRAGMA data_version)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from mintage.core.storage import KEYS_TOPIC, InvalidationSource, Storage
from mintage.storage.invalidation import InvalidationHub
from mintage.storage.sql.pg_listener import channel_for
from mintage.storage.sql.postgres import PostgresStorage
from mintage.storage.sql.sqlite import SQLiteStorage
from mintage.storage.sql.sqlite_watch import DataVersionWatch
from mintage.testing.keys import key as signing_key
from mintage.testing.records import client
from polling import until


def sibling(store: Storage, **options: float) -> Storage:
    """Another store on the same database: what another process would open."""
    if isinstance(store, SQLiteStorage):
        return SQLiteStorage(store.database_url, **options)
    assert isinstance(store, PostgresStorage)
    return PostgresStorage(store.dsn, schema=store.schema, **options)


# the hub ---------------------------------------------------------------------------------


def test_topics_reach_the_listeners_whose_prefix_they_start_with() -> None:
    hub = InvalidationHub()
    clients: list[str] = []
    keys: list[str] = []
    everything: list[str] = []
    hub.add_listener("client:", clients.append)
    hub.add_listener("keys", keys.append)
    hub.add_listener("", everything.append)
    hub.dispatch("client:abc")
    hub.dispatch("keys")
    hub.dispatch("*")
    assert clients == ["client:abc", "*"]
    assert keys == ["keys", "*"]
    assert everything == ["client:abc", "keys", "*"]


def test_unsubscribed_and_failing_listeners() -> None:
    hub = InvalidationHub()
    seen: list[str] = []

    def broken(topic: str) -> None:
        raise RuntimeError("bug in a listener")

    hub.add_listener("keys", broken)
    remove = hub.add_listener("keys", seen.append)
    hub.dispatch("keys")  # the broken one is logged, the next one still runs
    assert seen == ["keys"]
    remove()
    remove()  # twice is harmless
    hub.dispatch("keys")
    assert seen == ["keys"]


def test_reliability_changes_flush_every_listener() -> None:
    hub = InvalidationHub()
    seen: list[str] = []
    states: list[bool] = []
    hub.add_listener("keys", seen.append)
    hub.on_reliability(states.append)
    hub.set_reliable(False)
    assert (hub.reliable, states, seen) == (False, [False], ["*"])
    hub.set_reliable(True)
    assert (hub.reliable, states, seen) == (True, [False, True], ["*", "*"])


# every store, in-process -----------------------------------------------------------------


async def test_own_changes_reach_own_listeners_at_once(store: Storage) -> None:
    assert isinstance(store, InvalidationSource)
    assert store.invalidations_reliable
    clients: list[str] = []
    keys: list[str] = []
    store.add_invalidation_listener("client:", clients.append)
    store.add_invalidation_listener("keys", keys.append)
    await store.save_client(client())
    await store.delete_client("client-1")
    await store.notify_invalidation("keys")
    # Own changes are announced before the call returns; PostgreSQL's NOTIFY may echo
    # them a moment later, which is harmless.
    assert clients[:2] == ["client:client-1", "client:client-1"]
    assert "keys" in keys
    assert all(t in ("client:client-1", "*") for t in clients)


# across processes ------------------------------------------------------------------------


async def test_another_process_reaches_listeners_within_a_second(sql_backend: Storage) -> None:
    server, other = sibling(sql_backend), sibling(sql_backend)
    await server.open()
    await other.open()
    try:
        assert isinstance(server, InvalidationSource)
        seen: list[str] = []
        server.add_invalidation_listener("client:", seen.append)
        await other.save_client(client())
        # PostgreSQL says which client; SQLite only that something changed ("*").
        expected = "*" if isinstance(server, SQLiteStorage) else "client:client-1"
        await until(lambda: expected in seen, within=1.0, what=f"{expected} heard")
    finally:
        await other.close()
        await server.close()


async def test_signing_key_changes_reach_other_processes(sql_backend: Storage) -> None:
    server, other = sibling(sql_backend), sibling(sql_backend)
    await server.open()
    await other.open()
    try:
        assert isinstance(server, InvalidationSource)
        seen: list[str] = []
        server.add_invalidation_listener(KEYS_TOPIC, seen.append)
        await other.save_signing_key(signing_key())
        expected = "*" if isinstance(server, SQLiteStorage) else KEYS_TOPIC
        await until(lambda: expected in seen, within=1.0, what=f"{expected} heard")
        seen.clear()
        assert await other.delete_signing_key("kid-1") is True
        await until(lambda: expected in seen, within=1.0, what=f"{expected} heard")
    finally:
        await other.close()
        await server.close()


async def test_postgres_notify_invalidation_reaches_other_instances(
    postgres_url: str, pg_schema: str
) -> None:
    server = PostgresStorage(postgres_url, schema=pg_schema)
    other = PostgresStorage(postgres_url, schema=pg_schema)
    await server.open()
    await other.open()
    try:
        keys: list[str] = []
        server.add_invalidation_listener("keys", keys.append)
        await other.notify_invalidation("keys")  # e.g. a key rotation at another instance
        await until(lambda: "keys" in keys, within=1.0, what="keys heard")
    finally:
        await other.close()
        await server.close()


async def test_postgres_channels_are_per_schema(postgres_url: str, pg_schema: str) -> None:
    assert channel_for(pg_schema) == f"mintage_invalidate:{pg_schema}"
    long = channel_for("s" * 60)
    assert len(long) <= 63 and long != channel_for("s" * 61)
    neighbour = f"{pg_schema}_n"
    conn = await asyncpg.connect(postgres_url)
    await conn.execute(f'CREATE SCHEMA "{neighbour}"')
    server = PostgresStorage(postgres_url, schema=pg_schema)
    other = PostgresStorage(postgres_url, schema=neighbour)
    try:
        await server.open()
        await other.open()
        assert server.channel != other.channel
        seen: list[str] = []
        server.add_invalidation_listener("", seen.append)
        await other.notify_invalidation("keys")  # the neighbour's, not ours
        await server.notify_invalidation("mine")  # delivered after it, in commit order
        await until(lambda: seen.count("mine") == 2, what="the echo")  # the local call and the echo
        assert "keys" not in seen
    finally:
        await other.close()
        await server.close()
        await conn.execute(f'DROP SCHEMA "{neighbour}" CASCADE')
        await conn.close()


async def test_postgres_lost_listener_flushes_shortens_and_recovers(
    postgres_url: str, pg_schema: str
) -> None:
    server = PostgresStorage(
        postgres_url, schema=pg_schema, client_cache_ttl=60, listen_check_interval=0.2
    )
    other = PostgresStorage(postgres_url, schema=pg_schema)
    await server.open()
    await other.open()
    admin = await asyncpg.connect(postgres_url)
    try:
        heard: list[str] = []
        server.add_invalidation_listener("client:", heard.append)
        await other.save_client(client())
        await until(lambda: "client:client-1" in heard, what="the creation")  # before caching it
        await server.get_client("client-1")
        cache = server._clients
        assert len(cache) == 1 and cache.ttl == 60
        # What the cache looked like at each change of reliability and each flush (``*``),
        # recorded when it happened: the loss may be over, and the long TTL back, by the
        # time this test looks.  The cache's own callbacks were registered first.
        events: list[tuple[str, object, float]] = []
        server._hub.on_reliability(lambda ok: events.append(("reliable", ok, cache.ttl)))
        server.add_invalidation_listener(
            "client:", lambda t: events.append((t, len(cache), cache.ttl)) if t == "*" else None
        )
        listener = server._listener
        assert listener is not None and listener.listening
        # This store's own listening connection: ``other`` listens on the same channel,
        # under the same application_name, so pg_stat_activity alone could name either.
        assert listener._conn is not None
        pid = listener._conn.get_server_pid()
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        # The loss is noticed: every cached client is dropped, new entries live 1 s.
        # Then it listens again, and the long TTL is back.
        recovered = ("reliable", True, 60)
        await until(lambda: recovered in events, within=15.0, what="the recovery")
        assert events[:2] == [("reliable", False, 1.0), ("*", 0, 1.0)]
        assert server.invalidations_reliable and cache.ttl == 60
        await server.get_client("client-1")
        await other.save_client(client(name="renamed"))
        renamed = client(name="renamed")

        async def renamed_seen() -> bool:
            return await server.get_client("client-1") == renamed

        await until(renamed_seen, within=1.0, what="the renamed client")
    finally:
        await admin.close()
        await other.close()
        await server.close()


# SQLite's watch --------------------------------------------------------------------------


async def test_sqlite_watch_fails_safe_and_recovers() -> None:
    hub = InvalidationHub()
    seen: list[str] = []
    hub.add_listener("client:", seen.append)
    versions = iter([1, 1, 2])
    failing = False

    def read() -> int:
        if failing:
            raise OSError("disk I/O error")
        return next(versions)

    watch = DataVersionWatch(read, hub, interval=60)
    watch.start()  # reads 1
    try:
        watch.check()  # 1 again: nothing changed
        assert seen == [] and hub.reliable
        failing = True
        watch.check()
        assert not hub.reliable and seen == ["*"]
        failing = False
        watch.check()  # 2: back, and everything is flushed once more
        assert hub.reliable and seen == ["*", "*"]
    finally:
        await watch.stop()


async def test_sqlite_watch_that_dies_marks_caches_unreliable() -> None:
    hub = InvalidationHub()
    watch = DataVersionWatch(lambda: 1, hub, interval=0.001)
    watch.start()
    task = watch._task
    assert task is not None
    task.cancel()  # as when its loop shuts down without closing the store
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not hub.reliable
