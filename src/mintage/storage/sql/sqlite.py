"""SQLite store: stdlib ``sqlite3`` on one held connection, with group commit.

The choice among drivers: docs/architecture.md §6.

Why not a thread pool or aiosqlite: a select costs ~6 µs and an insert ~26 µs here, less
than the ~64 µs a thread hop would add.  So the methods call ``sqlite3`` directly on the
event loop; reads never await.

Writes go through the group commit of :mod:`.sqlite_commit`: the writes of one turn of
the event loop share one transaction, and each returns only once it is committed.

Durability (``journal_mode=WAL``, ``synchronous=NORMAL``), exactly:

- **crash of the process** (kill -9, OOM, a bug): every write whose method returned is
  kept.  ``COMMIT`` has ``write()``-n the batch to the WAL file before any writer
  resumes, so the data is in the operating system's page cache, which reaches the disk
  whatever happens to the process; the next open replays the WAL.
- **crash of the operating system, or power loss**: the file stays consistent, but the
  transactions committed since the WAL was last synced may be rolled back (all of them
  after the first one missing: the WAL's checksums make recovery stop there).  The WAL
  is fsynced at each checkpoint, which the background checkpointer runs every
  ``checkpoint_interval`` (0.25 s) when there is something to copy: so the writes of
  roughly the last quarter of a second, plus the time a checkpoint takes, can be lost
  (tokens already sent to clients, which then fail as unknown; revocations; codes and
  refresh tokens consumed, which become usable once more until they expire).  Use PostgreSQL
  (``synchronous_commit=on``) where that window matters.

Checkpoints never run on the event loop: ``wal_autocheckpoint=0`` on the serving
connection, and a daemon thread with its own connection checkpoints the WAL
(:mod:`.checkpointer`); ``close()`` stops and joins it (closing the last connection
then checkpoints once more, at shutdown).

Several worker processes may share one file: SQLite's locks serialise their batches.
Caches: ``get_client`` is cached (:mod:`.client_cache`); commits by other processes
(the CLI, other workers) empty it within 0.25 s (:mod:`.sqlite_watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Collection, Sequence
from typing import Any

from ...core.errors import StorageUnavailableError
from ...core.models import (
    AuditEvent,
    AuthorizationCode,
    Client,
    Consent,
    LoginFailures,
    Session,
    SigningKey,
    Token,
    User,
)
from ...core.storage import CLIENT_TOPIC, KEYS_TOPIC
from ..invalidation import InvalidationHub, InvalidationHubMixin
from .checkpointer import Checkpointer
from .client_cache import ClientCache
from .migrate import sqlite_path, upgrade_schema
from .queries import SQLITE as Q
from .queries import get_login_failures, list_audit_events, to_sqlite
from .rows import (
    audit_event_from_row,
    audit_event_params,
    client_from_row,
    client_params,
    code_from_row,
    code_params,
    consent_from_row,
    consent_params,
    login_failures_from_row,
    session_from_row,
    session_params,
    signing_key_from_row,
    signing_key_params,
    token_from_row,
    token_params,
    user_from_row,
    user_params,
)
from .sqlite_commit import _ROWS_THEN, GroupCommit, _Batch
from .sqlite_watch import DataVersionWatch

__all__ = ["SQLiteStorage"]

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    # Never wait for a lock inside SQLite: that would block the event loop (see above).
    "PRAGMA busy_timeout=0",
    "PRAGMA foreign_keys=ON",
    # Checkpoints run on a thread of their own (see .checkpointer), not in a COMMIT.
    "PRAGMA wal_autocheckpoint=0",
)


class SQLiteStorage(GroupCommit, InvalidationHubMixin):
    """Implements :class:`~mintage.core.storage.Storage` and
    :class:`~mintage.core.storage.InvalidationSource` on a SQLite file.

    ``database_url`` is ``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``.
    ``lock_timeout`` is how long a write waits for another connection's write lock
    before raising ``StorageUnavailableError``.  ``checkpoint_interval`` and
    ``wal_truncate_above`` tune the background checkpoints (:mod:`.checkpointer`).
    ``get_client`` is served from a cache (:mod:`.client_cache`) that this process's
    writes and, every ``watch_interval`` seconds, other processes' commits empty
    (:mod:`.sqlite_watch`); ``client_cache_ttl`` (30 s) is only its safety net.
    """

    def __init__(
        self,
        database_url: str,
        *,
        lock_timeout: float = 5.0,
        checkpoint_interval: float = 0.25,
        wal_truncate_above: int = 64 * 1024 * 1024,
        client_cache_ttl: float = 30.0,
        client_cache_fallback_ttl: float = 1.0,
        watch_interval: float = 0.25,
    ) -> None:
        self.database_url = database_url
        self.path = sqlite_path(database_url)
        self.lock_timeout = lock_timeout
        self.checkpoint_interval = checkpoint_interval
        self.wal_truncate_above = wal_truncate_above
        self._db: sqlite3.Connection | None = None
        self._batch: _Batch | None = None
        self._checkpointer: Checkpointer | None = None
        self._hub = InvalidationHub()
        self._clients = ClientCache(client_cache_ttl, fallback_ttl=client_cache_fallback_ttl)
        self._hub.add_listener(CLIENT_TOPIC, self._clients.invalidated)
        self._hub.on_reliability(self._clients.set_reliable)
        self._watch = DataVersionWatch(self._data_version, self._hub, watch_interval)

    # lifecycle
    async def open(self) -> None:
        """Migrate the schema (Alembic owns it), then open the one connection."""
        if self._db is not None:
            return
        upgrade_schema(self.database_url)
        db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, cached_statements=64
        )
        for pragma in _PRAGMAS:
            db.execute(pragma)
        self._db = db
        self._checkpointer = Checkpointer(
            self.path, interval=self.checkpoint_interval, truncate_above=self.wal_truncate_above
        )
        self._checkpointer.start()
        self._watch.start()

    async def close(self) -> None:
        """Commit the pending batch (its writers are woken), then close the connection."""
        db = self._db
        if db is None:
            return
        await self._watch.stop()
        batch = self._batch
        if batch is not None:
            if batch.handle is not None:
                batch.handle.cancel()
            deadline = time.monotonic() + self.lock_timeout
            while not self._commit(db, batch):
                if time.monotonic() >= deadline:
                    self._end(batch)
                    self._fail(batch, StorageUnavailableError("SQLite: database is locked"), ())
                    break
                await asyncio.sleep(batch.pause)
        self._db = None
        self._clients.clear()
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        with contextlib.suppress(sqlite3.Error):
            db.execute("PRAGMA optimize")
        db.close()

    def pool_stats(self) -> dict[str, int]:
        """For metrics: writes queued for the next group commit (a lasting non-zero value
        means the write lock is contended, e.g. by another process)."""
        batch = self._batch
        return {"pending_writes": len(batch.writes) if batch is not None else 0}

    async def ping(self) -> bool:
        try:
            return self._read_one(Q.ping, ()) is not None
        except (sqlite3.Error, StorageUnavailableError, RuntimeError):
            return False

    def _data_version(self) -> int:
        row = self._read_one("PRAGMA data_version", ())
        return int(row[0])

    # clients
    async def get_client(self, client_id: str) -> Client | None:
        client = self._clients.get(client_id)
        if client is not None:
            return client
        generation = self._clients.generation
        row = self._read_one(Q.get_client, (client_id,))
        if row is None:
            return None  # unknown ids are not cached (see .client_cache)
        client = client_from_row(row)
        self._clients.put(client, generation)
        return client

    async def save_client(self, client: Client) -> None:
        try:
            await self._write(Q.save_client, client_params(client))
        finally:
            self._hub.dispatch(CLIENT_TOPIC + client.client_id)

    async def delete_client(self, client_id: str) -> bool:
        try:
            *_, deleted = await self._write_together(
                (Q.delete_client_tokens, (client_id,)),
                (Q.delete_client_codes, (client_id,)),
                (Q.delete_client_consents, (client_id,)),
                (Q.delete_client, (client_id,)),
            )
        finally:
            self._hub.dispatch(CLIENT_TOPIC + client_id)
        return deleted > 0

    async def list_clients(self) -> list[Client]:
        return [client_from_row(row) for row in self._read_all(Q.list_clients, ())]

    # invalidation (InvalidationSource)
    async def notify_invalidation(self, topic: str) -> None:
        """Tell this process's listeners.  Other processes notice the commit that
        made the change by themselves (:mod:`.sqlite_watch`), as ``*``."""
        self._hub.dispatch(topic)

    # tokens
    async def save_token(self, token: Token) -> None:
        await self._write(Q.save_token, token_params(token))

    async def save_tokens_audited(self, tokens: Sequence[Token], event: AuditEvent) -> None:
        """One queued write (no task per statement) in the next group commit.  A
        failure of either raises, so the tokens are never handed out unrecorded; a
        token left behind by an event that failed on its own is known to nobody."""
        await self._write_in_a_row(
            *((Q.save_token, token_params(token)) for token in tokens),
            (Q.record_audit_event, audit_event_params(event)),
        )

    async def get_token(self, digest: str) -> Token | None:
        row = self._read_one(Q.get_token, (digest,))
        return None if row is None else token_from_row(row)

    async def consume_token(
        self, digest: str, now: int, successor: str | None = None
    ) -> Token | None:
        """One ``UPDATE … RETURNING``: exactly one winner, also across processes
        sharing the file (RFC 9700 §4.14)."""
        rows = await self._write_returning(Q.consume_token, (digest, now, successor))
        return token_from_row(rows[0]) if rows else None

    async def consume_token_audited(
        self, digest: str, now: int, event: AuditEvent, successor: str | None = None
    ) -> Token | None:
        """:meth:`consume_token` and, if it won, the event, in one queued write."""
        statements = (
            (Q.consume_token, (digest, now, successor)),
            (Q.record_audit_event, audit_event_params(event)),
        )
        rows: list[Any] = await self._enqueue(_ROWS_THEN, "", statements)
        return token_from_row(rows[0]) if rows else None

    async def revoke_token(self, digest: str, now: int) -> bool:
        return await self._write(Q.revoke_token, (digest, now)) > 0

    async def revoke_family(self, family_id: str, now: int) -> int:
        return await self._write(Q.revoke_family, (family_id, now))

    async def purge_expired(self, now: int, batch_size: int) -> int:
        """One table per group commit, so no transaction deletes more than
        ``batch_size`` rows (the write lock stays short)."""
        deleted = 0
        for sql in (
            Q.purge_expired,
            Q.purge_expired_codes,
            Q.purge_expired_sessions,
            Q.purge_expired_login_failures,
        ):
            deleted += await self._write(sql, (now, batch_size))
        return deleted

    async def revoke_for_subject(self, client_id: str, subject: str, now: int) -> int:
        return await self._write(Q.revoke_for_subject, (client_id, subject, now))

    # authorization codes
    async def save_code(self, code: AuthorizationCode) -> None:
        await self._write(Q.save_code, code_params(code))

    async def get_code(self, digest: str) -> AuthorizationCode | None:
        row = self._read_one(Q.get_code, (digest,))
        return None if row is None else code_from_row(row)

    async def consume_code(self, digest: str, now: int) -> AuthorizationCode | None:
        """One ``UPDATE … RETURNING``, as :meth:`consume_token` (RFC 6749 §4.1.2)."""
        rows = await self._write_returning(Q.consume_code, (digest, now))
        return code_from_row(rows[0]) if rows else None

    # consents
    async def get_consent(self, user_id: str, client_id: str) -> Consent | None:
        row = self._read_one(Q.get_consent, (user_id, client_id))
        return None if row is None else consent_from_row(row)

    async def save_consent(self, consent: Consent) -> None:
        await self._write(Q.save_consent, consent_params(consent))

    async def delete_consent(self, user_id: str, client_id: str) -> bool:
        return await self._write(Q.delete_consent, (user_id, client_id)) > 0

    async def list_consents(self, user_id: str) -> list[Consent]:
        return [consent_from_row(row) for row in self._read_all(Q.list_consents, (user_id,))]

    # sessions
    async def save_session(self, session: Session) -> None:
        await self._write(Q.save_session, session_params(session))

    async def get_session(self, digest: str) -> Session | None:
        row = self._read_one(Q.get_session, (digest,))
        return None if row is None else session_from_row(row)

    async def delete_session(self, digest: str) -> bool:
        return await self._write(Q.delete_session, (digest,)) > 0

    # sign-in lock-out
    async def note_login_failure(self, key: str, now: int, expires_at: int) -> int:
        """One upsert in the next group commit: failures noted in one turn of the loop
        are counted one after the other, in one transaction."""
        rows = await self._write_returning(Q.note_login_failure, (key, now, expires_at))
        return int(rows[0][0])

    async def lock_login(self, key: str, until: int) -> None:
        await self._write(Q.lock_login, (key, until))

    async def get_login_failures(self, keys: Sequence[str], now: int) -> list[LoginFailures]:
        sql = to_sqlite(get_login_failures(len(keys)))
        return [login_failures_from_row(row) for row in self._read_all(sql, (now, *keys))]

    async def clear_login_failures(self, key: str) -> None:
        await self._write(Q.clear_login_failures, (key,))

    # users
    async def get_user_by_username(self, username: str) -> User | None:
        row = self._read_one(Q.get_user_by_username, (username,))
        return None if row is None else user_from_row(row)

    async def get_user(self, user_id: str) -> User | None:
        row = self._read_one(Q.get_user, (user_id,))
        return None if row is None else user_from_row(row)

    async def save_user(self, user: User) -> None:
        try:
            await self._write(Q.save_user, user_params(user))
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"username {user.username!r} is taken") from exc

    # signing keys (RFC 7517)
    async def list_signing_keys(self) -> list[SigningKey]:
        return [signing_key_from_row(row) for row in self._read_all(Q.list_signing_keys, ())]

    async def save_signing_key(self, key: SigningKey) -> None:
        try:
            await self._write(Q.save_signing_key, signing_key_params(key))
        finally:
            self._hub.dispatch(KEYS_TOPIC)

    async def delete_signing_key(self, kid: str) -> bool:
        try:
            return await self._write(Q.delete_signing_key, (kid,)) > 0
        finally:
            self._hub.dispatch(KEYS_TOPIC)

    # audit events
    async def record_audit_event(self, event: AuditEvent) -> None:
        """Queued like any write: recorded beside a token save in the same turn of the
        loop, it is committed in the same transaction."""
        await self._write(Q.record_audit_event, audit_event_params(event))

    async def list_audit_events(
        self,
        *,
        events: Collection[str] | None = None,
        client_id: str | None = None,
        subject: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 50,
    ) -> list[AuditEvent]:
        sql, params = list_audit_events(
            events=events,
            client_id=client_id,
            subject=subject,
            since=since,
            until=until,
            limit=limit,
        )
        return [audit_event_from_row(row) for row in self._read_all(to_sqlite(sql), params)]

    async def purge_audit_events(self, before: int, batch_size: int) -> int:
        return await self._write(Q.purge_audit_events, (before, batch_size))
