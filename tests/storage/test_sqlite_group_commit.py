"""SQLite group commit: the writes of one event-loop turn share one transaction, and
each still returns only once its data is committed (see mintage.storage.sql.sqlite)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from mintage.core.errors import StorageUnavailableError
from mintage.storage.sql.migrate import sqlite_path
from mintage.storage.sql.sqlite import SQLiteStorage
from mintage.testing.records import NOW, client, token, user


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[SQLiteStorage]:
    s = SQLiteStorage(sqlite_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def spy(sqlite_url: str) -> Iterator[sqlite3.Connection]:
    """A second connection: it sees only committed data."""
    db = sqlite3.connect(sqlite_path(sqlite_url), isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def statements(store: SQLiteStorage) -> list[str]:
    """Every statement the store's connection runs from now on."""
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def digests(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT digest FROM tokens")}


class FailingConnection:
    """The store's connection, but ``execute`` raises ``error`` for statements that
    start with ``prefix`` (after running them, when ``after`` is set)."""

    def __init__(
        self, real: sqlite3.Connection, prefix: str, error: Exception, *, after: bool = False
    ) -> None:
        self.real, self.prefix, self.error, self.after = real, prefix, error, after
        self.armed = True

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if self.armed and sql.startswith(self.prefix):
            if self.after:
                self.real.execute(sql, params)
            raise self.error
        return self.real.execute(sql, params)

    @property
    def in_transaction(self) -> bool:
        return self.real.in_transaction

    def close(self) -> None:
        self.real.close()


async def test_concurrent_writes_share_one_commit(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    seen = statements(store)
    await asyncio.gather(*(store.save_token(token(f"t{i}")) for i in range(200)))
    # Every await has returned: all 200 rows are committed, visible to another connection.
    assert digests(spy) == {f"t{i}" for i in range(200)}
    assert seen.count("COMMIT") == 1
    assert seen.count("BEGIN IMMEDIATE") == 1
    assert store._conn().in_transaction is False


async def test_sequential_writes_each_commit(store: SQLiteStorage, spy: sqlite3.Connection) -> None:
    seen = statements(store)
    for i in range(3):
        await store.save_token(token(f"t{i}"))
        assert f"t{i}" in digests(spy)
    assert seen.count("COMMIT") == 3


async def test_write_returns_only_after_the_commit(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    task = asyncio.create_task(store.save_token(token()))
    await asyncio.sleep(0)  # the task has run its INSERT and waits for the commit
    assert store._batch is not None and not task.done()
    assert digests(spy) == set()  # not committed yet, so not returned yet
    await task
    assert digests(spy) == {"digest-1"}


async def test_reads_see_only_committed_writes(store: SQLiteStorage) -> None:
    """Queued writes run inside the commit callback: a read never meets an open
    transaction, and sees a write once its commit ran."""
    save = asyncio.create_task(store.save_token(token()))
    await asyncio.sleep(0)
    assert store._batch is not None and store._conn().in_transaction is False
    assert await store.get_token("digest-1") is None
    await save
    assert await store.get_token("digest-1") == token()


async def test_two_consumes_in_one_batch_have_one_winner(store: SQLiteStorage) -> None:
    await store.save_token(token())
    seen = statements(store)
    results = await asyncio.gather(*(store.consume_token("digest-1", NOW) for _ in range(10)))
    assert [r for r in results if r is not None] == [token()]
    assert seen.count("COMMIT") == 1


async def test_a_cancelled_writer_is_dropped_from_the_batch(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    gone = asyncio.create_task(store.save_token(token("gone")))
    kept = asyncio.create_task(store.save_token(token("kept")))
    await asyncio.sleep(0)
    gone.cancel()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert digests(spy) == {"kept"}


async def test_a_failing_write_fails_only_its_caller(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    await store.save_user(user("user-1", username="alice"))
    await store.save_token(token("old"))
    seen = statements(store)
    results = await asyncio.gather(
        store.save_token(token("a")),
        store.save_user(user("user-2", username="alice")),  # taken: IntegrityError
        store.save_token(token("old")),  # duplicate primary key: IntegrityError
        store.consume_token("old", NOW),
        store.save_token(token("b")),
        return_exceptions=True,
    )
    assert results[0] is None and results[4] is None
    assert isinstance(results[1], ValueError) and "taken" in str(results[1])
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert results[3] == token("old")
    assert seen.count("COMMIT") == 1
    assert digests(spy) == {"old", "a", "b"}
    assert spy.execute("SELECT consumed_at FROM tokens WHERE digest = 'old'").fetchone() == (NOW,)
    assert spy.execute("SELECT user_id FROM users").fetchall() == [("user-1",)]


async def test_a_failed_commit_fails_every_writer_and_the_store_recovers(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    real = store._conn()
    failing = FailingConnection(real, "COMMIT", sqlite3.OperationalError("disk I/O error"))
    store._db = failing  # type: ignore[assignment]
    results = await asyncio.gather(
        *(store.save_token(token(f"t{i}")) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, StorageUnavailableError) for r in results), results
    assert len({id(r) for r in results}) == 5  # one exception object per caller
    assert real.in_transaction is False  # rolled back
    assert digests(spy) == set()
    failing.armed = False
    await store.save_token(token("after"))
    assert digests(spy) == {"after"}


async def test_an_error_that_may_end_the_transaction_rolls_the_batch_back(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    real = store._conn()
    store._db = FailingConnection(  # type: ignore[assignment]
        real, "UPDATE", sqlite3.OperationalError("database or disk is full")
    )
    results = await asyncio.gather(
        store.save_token(token("a")),
        store.revoke_token("a", NOW),  # the UPDATE fails: the whole batch goes
        store.save_token(token("b")),  # queued after it: never run
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [StorageUnavailableError] * 3
    assert real.in_transaction is False
    assert digests(spy) == set()
    store._db = real
    await store.save_token(token("c"))
    assert digests(spy) == {"c"}


async def test_delete_client_is_all_or_nothing_inside_a_batch(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    await store.save_client(client("c1"))
    await store.save_token(token("t1", client_id="c1"))
    real = store._conn()
    # The second statement (the client row) fails after the tokens were deleted.
    store._db = FailingConnection(  # type: ignore[assignment]
        real, "DELETE FROM clients", sqlite3.IntegrityError("constraint failed")
    )
    results = await asyncio.gather(
        store.save_token(token("t2", client_id="c2")),
        store.delete_client("c1"),
        return_exceptions=True,
    )
    store._db = real
    assert results[0] is None
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert digests(spy) == {"t1", "t2"}  # t1 is back: the SAVEPOINT was rolled back
    assert await store.delete_client("c1") is True
    assert digests(spy) == {"t2"}


async def test_close_commits_the_pending_batch(sqlite_url: str, spy: sqlite3.Connection) -> None:
    s = SQLiteStorage(sqlite_url)
    await s.open()
    tasks = [asyncio.create_task(s.save_token(token(f"t{i}"))) for i in range(3)]
    await asyncio.sleep(0)
    assert s._batch is not None
    await s.close()
    assert await asyncio.gather(*tasks) == [None, None, None]
    assert digests(spy) == {"t0", "t1", "t2"}


async def test_gathered_writes_survive_close_and_open(sqlite_url: str) -> None:
    first = SQLiteStorage(sqlite_url)
    await first.open()
    await asyncio.gather(
        first.save_client(client()),
        first.save_user(user()),
        *(first.save_token(token(f"t{i}")) for i in range(50)),
    )
    await first.close()
    second = SQLiteStorage(sqlite_url)
    await second.open()
    try:
        assert await second.get_client("client-1") == client()
        assert await second.get_user("user-1") == user()
        assert all([await second.get_token(f"t{i}") == token(f"t{i}") for i in range(50)])
    finally:
        await second.close()


async def test_waiting_for_another_writer_does_not_block_the_loop(
    store: SQLiteStorage, spy: sqlite3.Connection
) -> None:
    spy.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    beat = asyncio.create_task(ticker())
    asyncio.get_running_loop().call_later(0.2, spy.execute, "COMMIT")
    try:
        await asyncio.gather(*(store.save_token(token(f"t{i}")) for i in range(10)))
    finally:
        beat.cancel()
    assert ticks >= 10  # the loop kept running while the writes waited
    assert digests(spy) == {f"t{i}" for i in range(10)}


_CRASH_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from mintage.core.models import Token, TokenKind
    from mintage.storage.sql.sqlite import SQLiteStorage

    async def main() -> None:
        store = SQLiteStorage(sys.argv[1])
        await store.open()

        async def one(n: int) -> None:
            digest = f"crash-{n}"
            await store.save_token(Token(
                digest=digest, kind=TokenKind.ACCESS, client_id="c", scope="s",
                issued_at=1, expires_at=2**40, family_id="f", subject=None))
            sys.stdout.write(digest + "\\n")
            sys.stdout.flush()

        n = 0
        while True:
            await asyncio.gather(*(one(n + k) for k in range(16)))
            n += 16

    asyncio.run(main())
    """
)


@pytest.mark.e2e  # a child process: e2e, not in `make quick`
def test_saved_tokens_survive_sigkill(sqlite_url: str, tmp_path: Any) -> None:
    """Every token whose save returned (and so could have been sent) is in the file
    after the process is killed mid-stream; the file is intact."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH_SCRIPT, sqlite_url],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    printed: list[str] = []
    try:
        for raw in proc.stdout:
            printed.append(raw.decode().strip())
            if len(printed) == 2000:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        rest = proc.stdout.read().decode()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Lines written before the kill; a torn last line (no newline) proves nothing.
    lines = rest.split("\n")
    printed += [line for line in lines[:-1] if line]
    assert len(printed) >= 2000
    db = sqlite3.connect(sqlite_path(sqlite_url))
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in db.execute("SELECT digest FROM tokens")}
    finally:
        db.close()
    assert set(printed) <= stored
