"""SQLite's group commit writes an audit event with the token it describes (the audit
contract itself is :class:`mintage.testing.AuditStoreContract`)."""

from __future__ import annotations

import asyncio
import sqlite3

from mintage.storage.sql.migrate import sqlite_path
from mintage.storage.sql.sqlite import SQLiteStorage
from mintage.testing.audit import event
from mintage.testing.records import token


async def test_sqlite_commits_an_event_with_the_token_it_describes(sqlite_url: str) -> None:
    """Group commit: recorded in the same loop turn as a token save, or through the
    fast path, the event is written by the token's transaction (one COMMIT for both)."""
    store = SQLiteStorage(sqlite_url)
    await store.open()
    try:
        seen: list[str] = []
        store._conn().set_trace_callback(seen.append)
        await asyncio.gather(store.save_token(token()), store.record_audit_event(event()))
        assert seen.count("COMMIT") == 1
        assert sum(s.startswith("INSERT INTO audit_events") for s in seen) == 1
        seen.clear()
        await store.save_tokens_audited([token("t2"), token("t3")], event())
        assert seen.count("COMMIT") == 1
        assert not any(s.startswith("SAVEPOINT") for s in seen)  # it costs an insert
        assert sum(s.startswith("INSERT INTO") for s in seen) == 3
    finally:
        await store.close()
    spy = sqlite3.connect(sqlite_path(sqlite_url))
    try:
        assert spy.execute("SELECT count(*) FROM audit_events").fetchone() == (2,)
    finally:
        spy.close()
