"""SQLite store: stdlib ``sqlite3`` on one held connection, with group commit (DESIGN §6).

Why not a thread pool or aiosqlite: a select costs ~6 µs and an insert ~26 µs here, less
than the ~64 µs a thread hop would add.  So the methods call ``sqlite3`` directly on the
event loop; reads never await.

Group commit
------------
A commit costs more than the insert it commits (a WAL append, and a transaction's
bookkeeping), so the writes issued during one turn of the event loop share one
transaction:

- a write queues its statement and awaits a future; the first write of a batch schedules
  the commit with ``loop.call_soon``, so it runs on the next turn of the loop, after
  every write issued during the current turn has joined;
- the commit is one callback: ``BEGIN IMMEDIATE``, the queued statements in order,
  ``COMMIT``, then each future gets its statement's result (rowcount or rows);
- so every write method returns only once its data is committed, as
  :class:`~mintage.core.storage.TokenStore` requires.  If ``COMMIT`` fails, the batch is
  rolled back and every writer raises
  :class:`~mintage.core.errors.StorageUnavailableError` (503: nothing was stored).

The statements run back to back inside one callback, so they are serialised, and
``consume_token``'s ``UPDATE … RETURNING`` is still one atomic statement: of two
consumes in one batch the second sees the first's mark.  Other processes wait for the
write lock only while that callback runs (tens of µs per write), not for a whole turn of
the loop.  Reads never see uncommitted data: between callbacks the connection is never
inside a transaction, and a write is visible from the moment its commit ran, before its
writer resumes.  (The first design took the lock at the first write and ran each
statement at once; a second process then waited up to 0.7 s for the lock.)

A statement that fails on its own (a constraint, such as ``save_user`` with a taken
username) fails only its caller: SQLite undoes just that statement and the transaction
goes on for the others.  An error that may have ended or damaged the transaction (an
``OperationalError`` such as I/O or a full disk, or finding the transaction gone) rolls
the whole batch back: every write in it raises ``StorageUnavailableError``.
``delete_client``'s two statements run under a ``SAVEPOINT`` so that they take effect
together or not at all.  A writer cancelled before the commit ran is dropped from it.

Locks: the connection's ``busy_timeout`` is 0, so SQLite never sleeps on the event loop
waiting for a lock.  A commit that finds the write lock taken (another process or
connection on the same file) is retried with ``call_later`` back-off (1 ms doubling to
5 ms; writes keep joining the batch) for up to ``lock_timeout`` seconds (5), then its
writers raise ``StorageUnavailableError``.  A read can meet a lock only in rare moments
(another connection recovering the WAL); it then retries once with ``busy_timeout`` set
to ``lock_timeout``.  ``close()`` commits the pending batch before it closes.

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
from collections.abc import Collection, Iterable, Sequence
from types import TracebackType
from typing import Any

from ...core.errors import StorageUnavailableError
from ...core.models import (
    AuditEvent,
    AuthorizationCode,
    Client,
    Consent,
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
from .queries import list_audit_events, to_sqlite
from .rows import (
    audit_event_from_row,
    audit_event_params,
    client_from_row,
    client_params,
    code_from_row,
    code_params,
    consent_from_row,
    consent_params,
    session_from_row,
    session_params,
    signing_key_from_row,
    signing_key_params,
    token_from_row,
    token_params,
    user_from_row,
    user_params,
)
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

#: Errors after which SQLite has undone the failed statement alone; the transaction
#: goes on (checked with ``in_transaction`` too).  Binding errors (``OverflowError``,
#: ``ProgrammingError``) happen before the statement runs at all.
_STATEMENT_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    OverflowError,
)

#: The longest pause between two attempts at the write lock, in seconds.
_MAX_LOCK_PAUSE = 0.005


class _Unavailable:
    """Map "database is locked", I/O and similar errors to a 503 (DESIGN §2)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sqlite3.OperationalError):
            raise StorageUnavailableError(f"SQLite: {exc}") from exc


_UNAVAILABLE = _Unavailable()


_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _is_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds a lock (the primary result code, without extended bits)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY_CODES


def _unavailable(cause: BaseException) -> StorageUnavailableError:
    """A fresh error per waiter (one exception object must not be raised in many tasks)."""
    error = StorageUnavailableError(f"SQLite: the write was rolled back ({cause})")
    error.__cause__ = cause
    return error


class _Batch:
    """The writes queued during one turn of a loop, and the callback that commits them.

    ``writes`` holds ``(future, op, sql, params)``; the future gets the write's result.
    """

    __slots__ = ("deadline", "handle", "loop", "pause", "writes")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.writes: list[tuple[asyncio.Future[Any], int, str, Any]] = []
        self.handle: asyncio.Handle | None = None
        self.deadline: float | None = None  # set when the write lock was first refused
        self.pause = 0.001


# What a queued write returns: its rowcount, its rows (RETURNING), or the rowcounts of
# several statements run together under a SAVEPOINT, or run in a row without one; or
# the rows of a first statement, the second one run only when there were some.
_ROWCOUNT, _ROWS, _TOGETHER, _IN_A_ROW, _ROWS_THEN = 0, 1, 2, 3, 4


def _execute(db: sqlite3.Connection, op: int, sql: str, params: Any) -> Any:
    if op == _ROWCOUNT:
        return db.execute(sql, params).rowcount
    if op == _ROWS:
        # fetchall() steps the statement to its end: a half-read RETURNING statement
        # would make the COMMIT fail.
        return db.execute(sql, params).fetchall()
    if op == _IN_A_ROW:
        return [db.execute(one_sql, one_params).rowcount for one_sql, one_params in params]
    if op == _ROWS_THEN:
        (first, first_params), (then, then_params) = params
        rows = db.execute(first, first_params).fetchall()
        if rows:
            db.execute(then, then_params)
        return rows
    db.execute("SAVEPOINT together")
    try:
        counts = [db.execute(one_sql, one_params).rowcount for one_sql, one_params in params]
    except Exception:
        if db.in_transaction:
            db.execute("ROLLBACK TO together")
            db.execute("RELEASE together")
        raise
    db.execute("RELEASE together")
    return counts


class SQLiteStorage(InvalidationHubMixin):
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

    # the only places that touch the connection
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SQLiteStorage is not open: await store.open() first")
        return self._db

    def _read_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        db = self._conn()
        try:
            return db.execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise StorageUnavailableError(f"SQLite: {exc}") from exc
        return self._read_waiting(db, sql, params).fetchone()

    def _read_all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        db = self._conn()
        try:
            return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise StorageUnavailableError(f"SQLite: {exc}") from exc
        return self._read_waiting(db, sql, params).fetchall()

    def _read_waiting(
        self, db: sqlite3.Connection, sql: str, params: tuple[Any, ...]
    ) -> sqlite3.Cursor:
        """The rare read that met a lock: once more, letting SQLite wait for it."""
        with _UNAVAILABLE:
            db.execute(f"PRAGMA busy_timeout={int(self.lock_timeout * 1000)}")
            try:
                return db.execute(sql, params)
            finally:
                db.execute("PRAGMA busy_timeout=0")

    # group commit
    def _enqueue(self, op: int, sql: str, params: Any) -> asyncio.Future[Any]:
        """Queue a write in the running loop's batch; the future resolves after COMMIT."""
        if self._db is None:
            raise RuntimeError("SQLiteStorage is not open: await store.open() first")
        loop = asyncio.get_running_loop()
        batch = self._batch
        if batch is None or batch.loop is not loop:
            if batch is not None:
                self._abandon(batch)
            batch = self._batch = _Batch(loop)
            batch.handle = loop.call_soon(self._tick, batch)
        waiter = loop.create_future()
        batch.writes.append((waiter, op, sql, params))
        return waiter

    async def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one statement in the next group commit; the rows it changed."""
        changed: int = await self._enqueue(_ROWCOUNT, sql, params)
        return changed

    async def _write_returning(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """:meth:`_write` for ``… RETURNING``: the rows it returned."""
        rows: list[Any] = await self._enqueue(_ROWS, sql, params)
        return rows

    async def _write_together(self, *statements: tuple[str, tuple[Any, ...]]) -> list[int]:
        """Several statements in the next group commit, all or none (a SAVEPOINT)."""
        counts: list[int] = await self._enqueue(_TOGETHER, "", statements)
        return counts

    async def _write_in_a_row(self, *statements: tuple[str, tuple[Any, ...]]) -> list[int]:
        """Several statements, one after the other in the next group commit, without
        :meth:`_write_together`'s SAVEPOINT (which costs as much as an insert): an
        outage still rolls back the whole batch, but a statement that fails on its own
        (a constraint) leaves the ones before it in place."""
        counts: list[int] = await self._enqueue(_IN_A_ROW, "", statements)
        return counts

    def _tick(self, batch: _Batch) -> None:
        """The scheduled commit; while another connection holds the write lock, it
        retries later (new writes keep joining) until ``lock_timeout`` has passed."""
        if self._batch is not batch or self._db is None:
            return
        if self._commit(self._db, batch):
            return
        now = time.monotonic()
        if batch.deadline is None:
            batch.deadline = now + self.lock_timeout
        elif now >= batch.deadline:
            self._end(batch)
            self._fail(batch, StorageUnavailableError("SQLite: database is locked"), ())
            return
        batch.handle = batch.loop.call_later(batch.pause, self._tick, batch)
        batch.pause = min(batch.pause * 2, _MAX_LOCK_PAUSE)

    def _end(self, batch: _Batch) -> None:
        """Detach ``batch``: writes from now on go to a new one."""
        if self._batch is batch:
            self._batch = None
        if batch.handle is not None:
            batch.handle.cancel()

    def _commit(self, db: sqlite3.Connection, batch: _Batch) -> bool:
        """Run the batch's statements in one transaction and wake their writers.

        ``False`` (and the batch untouched) if another connection holds the write lock.
        """
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                return False
            self._end(batch)
            self._fail(batch, exc, ())
            return True
        self._end(batch)
        outcomes: list[tuple[asyncio.Future[Any], Any, Exception | None]] = []
        for waiter, op, sql, params in batch.writes:
            if waiter.done():
                continue  # its writer was cancelled: the write never happens
            try:
                outcomes.append((waiter, _execute(db, op, sql, params), None))
            except Exception as exc:
                if isinstance(exc, _STATEMENT_ERRORS) and db.in_transaction:
                    outcomes.append((waiter, None, exc))  # only this statement undone
                    continue
                self._rollback(db)
                self._fail(batch, exc, outcomes)
                return True
        try:
            db.execute("COMMIT")
        except Exception as exc:
            self._rollback(db)
            self._fail(batch, exc, outcomes)
            return True
        for waiter, result, error in outcomes:
            with contextlib.suppress(RuntimeError):  # that writer's loop is closed
                if error is None:
                    waiter.set_result(result)
                else:
                    waiter.set_exception(error)
        return True

    @staticmethod
    def _rollback(db: sqlite3.Connection) -> None:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")

    @staticmethod
    def _fail(
        batch: _Batch,
        cause: BaseException,
        outcomes: Iterable[tuple[asyncio.Future[Any], Any, Exception | None]],
    ) -> None:
        """Nothing of ``batch`` was committed: every writer raises StorageUnavailableError,
        except those whose own statement had failed, which raise that error."""
        own = {id(waiter): error for waiter, _, error in outcomes if error is not None}
        for waiter, _, _, _ in batch.writes:
            if not waiter.done():
                with contextlib.suppress(RuntimeError):
                    waiter.set_exception(own.get(id(waiter)) or _unavailable(cause))

    def _abandon(self, batch: _Batch) -> None:
        """A batch left by a loop that stopped before its commit ran: commit it now if
        the lock is free, else fail it (nobody is waiting on that loop any more)."""
        self._end(batch)
        if self._db is not None and not self._commit(self._db, batch):
            self._fail(batch, StorageUnavailableError("SQLite: database is locked"), ())

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
        for sql in (Q.purge_expired, Q.purge_expired_codes, Q.purge_expired_sessions):
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
    async def note_login_failure(self, user_id: str) -> int:
        rows = await self._write_returning(Q.note_login_failure, (user_id,))
        return int(rows[0][0]) if rows else 0

    async def lock_user(self, user_id: str, until: int) -> None:
        await self._write(Q.lock_user, (user_id, until))

    async def clear_login_failures(self, user_id: str) -> None:
        await self._write(Q.clear_login_failures, (user_id,))

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
