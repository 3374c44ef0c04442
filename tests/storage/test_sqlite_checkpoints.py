"""SQLite checkpoints run on a thread of their own, never inside a COMMIT on the loop."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable

from storage_records import token

from mintage.storage.sql.migrate import sqlite_path
from mintage.storage.sql.sqlite import SQLiteStorage

PAGE = 4096


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


async def write_many(store: SQLiteStorage, n: int, prefix: str = "t") -> None:
    for start in range(0, n, 100):
        await asyncio.gather(
            *(store.save_token(token(f"{prefix}{i}")) for i in range(start, min(start + 100, n)))
        )


async def test_commits_never_checkpoint(sqlite_url: str) -> None:
    """Past SQLite's default 1000-page threshold, the database file is still untouched:
    only the checkpointer (here: never within the test) copies the WAL into it."""
    store = SQLiteStorage(sqlite_url, checkpoint_interval=3600)
    await store.open()
    path = sqlite_path(sqlite_url)
    try:
        before = os.stat(path).st_size
        await write_many(store, 5000)
        assert os.stat(path + "-wal").st_size > 1000 * PAGE
        assert os.stat(path).st_size == before
    finally:
        await store.close()


async def test_the_checkpointer_copies_the_wal(sqlite_url: str) -> None:
    store = SQLiteStorage(sqlite_url, checkpoint_interval=0.02)
    await store.open()
    try:
        checkpointer = store._checkpointer
        assert checkpointer is not None and checkpointer.alive
        await write_many(store, 500)

        def caught_up() -> bool:
            last = checkpointer.last
            return last is not None and last[1] > 0 and last[1] == last[2]

        assert eventually(caught_up), checkpointer.last
        assert checkpointer.truncate_runs == 0
    finally:
        await store.close()


async def test_a_full_checkpoint_keeps_the_wal_short_under_steady_writes(
    sqlite_url: str,
) -> None:
    """PASSIVE alone never catches up with a steady stream of commits (14 MB of WAL
    here); a FULL round when the WAL is long lets the next write start it over."""
    store = SQLiteStorage(sqlite_url, checkpoint_interval=0.02)
    await store.open()
    wal = sqlite_path(sqlite_url) + "-wal"
    checkpointer = store._checkpointer
    assert checkpointer is not None
    checkpointer.full_above = 200
    largest = 0
    try:
        for start in range(0, 20_000, 100):
            await asyncio.gather(
                *(store.save_token(token(f"t{i}")) for i in range(start, start + 100))
            )
            largest = max(largest, os.stat(wal).st_size)
        assert checkpointer.full_runs > 0
        assert largest < 2000 * PAGE
    finally:
        await store.close()


async def test_a_large_wal_is_truncated(sqlite_url: str) -> None:
    store = SQLiteStorage(sqlite_url, checkpoint_interval=0.02, wal_truncate_above=PAGE)
    await store.open()
    wal = sqlite_path(sqlite_url) + "-wal"
    try:
        await write_many(store, 500)
        checkpointer = store._checkpointer
        assert checkpointer is not None
        assert eventually(lambda: checkpointer.truncate_runs > 0 and os.stat(wal).st_size == 0)
        await store.save_token(token("after"))  # the store goes on after a truncation
        assert await store.get_token("after") == token("after")
    finally:
        await store.close()


async def test_close_stops_and_joins_the_thread(sqlite_url: str) -> None:
    store = SQLiteStorage(sqlite_url, checkpoint_interval=0.01)
    await store.open()
    checkpointer = store._checkpointer
    assert checkpointer is not None and checkpointer.alive
    await store.close()
    assert not checkpointer.alive and store._checkpointer is None
    # Reopening starts a new one; a closed store leaves no thread behind.
    await store.open()
    assert store._checkpointer is not None and store._checkpointer is not checkpointer
    await store.close()
    assert "mintage-sqlite-checkpointer" not in {t.name for t in threading.enumerate()}
