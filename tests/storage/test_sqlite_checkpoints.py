"""SQLite checkpoints run on a thread of their own, never inside a COMMIT on the loop."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading

from mintage.storage.sql.migrate import sqlite_path
from mintage.storage.sql.sqlite import SQLiteStorage
from mintage.testing.records import token
from polling import until

PAGE = 4096


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

        await until(caught_up, what="the checkpointer caught up")
        assert checkpointer.truncate_runs == 0
    finally:
        await store.close()


async def test_checkpoints_keep_the_wal_short_under_steady_writes(sqlite_url: str) -> None:
    """20 000 commits would leave 14 MB of WAL without checkpoints; with rounds between
    them the WAL file is reused from its start and stays short.

    The writer is paced by the checkpointer, not by the clock: a batch of commits
    starts only once a round has begun since the previous batch began, so a loaded
    machine that starves the checkpointer's thread slows the writes with it."""
    store = SQLiteStorage(sqlite_url, checkpoint_interval=0.02)
    await store.open()
    wal = sqlite_path(sqlite_url) + "-wal"
    checkpointer = store._checkpointer
    assert checkpointer is not None
    largest = 0
    try:
        for start in range(0, 20_000, 100):
            rounds = checkpointer.passive_runs
            await asyncio.gather(
                *(store.save_token(token(f"t{i}")) for i in range(start, start + 100))
            )
            largest = max(largest, os.stat(wal).st_size)
            await until(
                lambda: checkpointer.passive_runs != rounds,  # noqa: B023 (awaited here)
                within=10,
                what="a checkpointer round",
            )
        assert largest < 2000 * PAGE
    finally:
        await store.close()


async def test_a_long_wal_gets_a_full_checkpoint_and_is_reused(sqlite_url: str) -> None:
    """A round that finds more than ``full_above`` frames in the WAL runs FULL (which,
    unlike PASSIVE, waits for writers, so a steady stream cannot keep it from
    finishing); the next writes start the WAL over instead of growing it."""
    store = SQLiteStorage(sqlite_url, checkpoint_interval=3600)  # rounds run by hand
    await store.open()
    wal = sqlite_path(sqlite_url) + "-wal"
    checkpointer = store._checkpointer
    assert checkpointer is not None
    checkpointer.full_above = 200
    db = sqlite3.connect(sqlite_path(sqlite_url), isolation_level=None)
    try:
        await write_many(store, 3000, prefix="a")
        checkpointer.checkpoint(db)
        assert checkpointer.full_runs == 1 and checkpointer.last is not None
        busy, frames, done = checkpointer.last
        assert busy == 0 and frames > 200 and done == frames
        size = os.stat(wal).st_size
        await write_many(store, 1000, prefix="b")
        assert os.stat(wal).st_size <= size
        checkpointer.checkpoint(db)
        assert checkpointer.last is not None and checkpointer.last[1] < frames  # started over
    finally:
        db.close()
        await store.close()


async def test_a_large_wal_is_truncated(sqlite_url: str) -> None:
    store = SQLiteStorage(sqlite_url, checkpoint_interval=0.02, wal_truncate_above=PAGE)
    await store.open()
    wal = sqlite_path(sqlite_url) + "-wal"
    try:
        await write_many(store, 500)
        checkpointer = store._checkpointer
        assert checkpointer is not None
        await until(
            lambda: checkpointer.truncate_runs > 0 and os.stat(wal).st_size == 0,
            what="the WAL truncated",
        )
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
