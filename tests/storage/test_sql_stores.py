"""What the SQL stores promise beyond the shared contract: durability, lifecycle,
cross-connection atomicity, and outages reported as StorageUnavailableError."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from mintage.core.errors import StorageUnavailableError
from mintage.core.storage import Storage
from mintage.storage import open_storage
from mintage.storage.sql.migrate import sqlite_path
from mintage.storage.sql.postgres import PostgresStorage
from mintage.storage.sql.sqlite import SQLiteStorage
from mintage.testing.records import NOW, client, token, user

# lifecycle (both SQL stores) ------------------------------------------------------------


async def test_ping_is_false_before_open_and_after_close(sql_backend: Storage) -> None:
    assert await sql_backend.ping() is False
    await sql_backend.open()
    assert await sql_backend.ping() is True
    await sql_backend.open()  # a second open is harmless
    await sql_backend.close()
    assert await sql_backend.ping() is False
    await sql_backend.close()  # so is a second close


async def test_calls_before_open_say_so(sql_backend: Storage) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await sql_backend.get_token("x")


def _twin(store: Storage) -> Storage:
    """A second store on the same database: another connection, or another pool."""
    if isinstance(store, SQLiteStorage):
        return SQLiteStorage(store.database_url)
    assert isinstance(store, PostgresStorage)
    return PostgresStorage(store.dsn, schema=store.schema)


async def test_fifty_concurrent_consumes_across_two_stores(sql_backend: Storage) -> None:
    """Two stores racing for one token, 25 calls each: exactly one winner."""
    other = _twin(sql_backend)
    await sql_backend.open()
    await other.open()
    try:
        await sql_backend.save_token(token())
        stores = [sql_backend, other] * 25
        results = await asyncio.gather(*(s.consume_token("digest-1", NOW) for s in stores))
        assert [r for r in results if r is not None] == [token()]
    finally:
        await other.close()
        await sql_backend.close()


def test_open_storage_picks_the_class(sqlite_url: str) -> None:
    assert isinstance(open_storage(sqlite_url), SQLiteStorage)
    assert isinstance(open_storage("postgresql://u@h/db"), PostgresStorage)
    assert isinstance(open_storage("postgres://u@h/db"), PostgresStorage)


# SQLite ---------------------------------------------------------------------------------


async def test_sqlite_reopened_file_keeps_every_record(sqlite_url: str) -> None:
    first = SQLiteStorage(sqlite_url)
    await first.open()
    await first.save_client(client())
    await first.save_token(token())
    await first.save_user(user())
    await first.consume_token("digest-1", NOW)
    await first.close()

    second = SQLiteStorage(sqlite_url)
    await second.open()
    try:
        assert await second.get_client("client-1") == client()
        assert await second.get_token("digest-1") == token(consumed_at=NOW)
        assert await second.get_user("user-1") == user()
    finally:
        await second.close()


async def test_sqlite_writes_are_committed_when_the_method_returns(sqlite_url: str) -> None:
    """TokenStore.save_token: durable before the token is sent to the client."""
    store = SQLiteStorage(sqlite_url)
    await store.open()
    spy = sqlite3.connect(sqlite_path(sqlite_url))
    try:
        await store.save_token(token())
        assert spy.execute("SELECT consumed_at FROM tokens").fetchall() == [(None,)]
        await store.consume_token("digest-1", NOW)
        assert spy.execute("SELECT consumed_at FROM tokens").fetchall() == [(NOW,)]
        await store.save_client(client())
        await store.delete_client("client-1")
        assert spy.execute("SELECT count(*) FROM tokens").fetchone() == (0,)
        assert store._conn().in_transaction is False
    finally:
        spy.close()
        await store.close()


async def test_sqlite_connection_settings(sqlite_url: str) -> None:
    store = SQLiteStorage(sqlite_url)
    await store.open()
    try:
        db = store._conn()
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        # SQLite never waits for a lock on the event loop; writes wait in asyncio.
        assert db.execute("PRAGMA busy_timeout").fetchone() == (0,)
        assert store.lock_timeout == 5.0
        assert db.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)  # a thread does it
    finally:
        await store.close()


def test_sqlite_consume_from_many_threads_and_connections(sqlite_url: str) -> None:
    """Separate connections (as separate worker processes have) still give one winner."""
    stores = [SQLiteStorage(sqlite_url) for _ in range(8)]
    for s in stores:
        asyncio.run(s.open())
    asyncio.run(stores[0].save_token(token()))
    barrier = threading.Barrier(len(stores))

    def race(s: SQLiteStorage) -> object:
        barrier.wait()
        return asyncio.run(s.consume_token("digest-1", NOW))

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(race, stores))
        assert [r for r in results if r is not None] == [token()]
    finally:
        for s in stores:
            asyncio.run(s.close())


async def test_sqlite_locked_database_is_unavailable(sqlite_url: str) -> None:
    store = SQLiteStorage(sqlite_url, lock_timeout=0.05)
    await store.open()
    blocker = sqlite3.connect(sqlite_path(sqlite_url), isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StorageUnavailableError):
            await store.save_token(token())
        blocker.execute("ROLLBACK")
        await store.save_token(token())  # recovers once the lock is gone
    finally:
        blocker.close()
        await store.close()


# PostgreSQL outages ---------------------------------------------------------------------


class _Proxy:
    """A TCP relay to PostgreSQL that the test can cut, like a network failure."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.transport.abort()
        await self.server.wait_closed()


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[tuple[_Proxy, str]]:
    from urllib.parse import urlsplit

    parts = urlsplit(postgres_url)
    relay = _Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await relay.start()
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = f"{netloc[0]}@" if len(netloc) == 2 else ""
    yield relay, parts._replace(netloc=f"{userinfo}127.0.0.1:{port}").geturl()
    if relay.server is not None and relay.server.is_serving():
        await relay.cut()


async def test_postgres_outage_raises_storage_unavailable(
    proxy: tuple[_Proxy, str], pg_schema: str
) -> None:
    relay, url = proxy
    store = PostgresStorage(url, schema=pg_schema, connect_timeout=2)
    await store.open()
    try:
        await store.save_token(token())
        assert await store.get_token("digest-1") == token()
        await relay.cut()
        with pytest.raises(StorageUnavailableError):
            await store.consume_token("digest-1", NOW)
        with pytest.raises(StorageUnavailableError):
            await store.get_token("digest-1")
        assert await store.ping() is False
    finally:
        await store.close()


async def test_postgres_unreachable_at_open(postgres_url: str) -> None:
    store = PostgresStorage("postgresql://postgres@127.0.0.1:1/test", connect_timeout=2)
    with pytest.raises(StorageUnavailableError):
        await store.open()
    assert await store.ping() is False


async def test_postgres_pool_sends_no_reset_query(postgres_url: str, pg_schema: str) -> None:
    """One round trip per call: releasing a connection sends nothing (no RESET ALL)."""
    store = PostgresStorage(postgres_url, schema=pg_schema, min_size=1, max_size=1)
    await store.open()
    sent: list[str] = []
    try:
        async with store._p().acquire() as conn:
            conn.add_query_logger(lambda record: sent.append(record.query))
        await store.save_token(token())
        assert await store.get_token("digest-1") == token()
        await store.save_client(client())
        assert await store.delete_client("client-1") is True  # one statement, too
        assert await store.get_token("digest-1") is None
        assert len(sent) == 5, sent
        assert not any("RESET" in q or "UNLISTEN" in q for q in sent)
    finally:
        await store.close()
