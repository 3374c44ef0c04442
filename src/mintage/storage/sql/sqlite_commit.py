"""Group commit for the SQLite store: one transaction per turn of the event loop.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from ...core.errors import StorageUnavailableError

__all__ = ["GroupCommit"]

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
    """Map "database is locked", I/O and similar errors to a 503 (docs/architecture.md §2)."""

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


class GroupCommit:
    """The connection's reads and the queued writes of :class:`.sqlite.SQLiteStorage`.

    The store sets ``_db`` (the one connection, or ``None`` while closed), ``_batch``
    and ``lock_timeout``.
    """

    _db: sqlite3.Connection | None
    _batch: _Batch | None
    lock_timeout: float

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
