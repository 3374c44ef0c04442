"""SQLite store: stdlib ``sqlite3`` on one held connection (DESIGN §6).

Why not a thread pool or aiosqlite: a select costs ~6 µs and an insert ~26 µs here, less
than the ~64 µs a thread hop would add.  So the ``async`` methods call ``sqlite3``
directly and never await, which also makes each method atomic on its event loop.

Durability: the connection runs in autocommit mode (``isolation_level=None``); every
write is committed before its method returns, as :class:`~mintage.core.storage.TokenStore`
requires.  With ``journal_mode=WAL`` and ``synchronous=NORMAL`` a committed write
survives a crash of the *process* (the WAL is in the OS page cache), but not a crash of
the operating system or a power loss: the last transactions before such an event may be
rolled back, because WAL is fsynced only at checkpoints.  Use PostgreSQL, or accept that
window, where that matters.

Several worker processes may share one file: SQLite's locks serialise writers, and
``busy_timeout`` makes a writer wait (up to 5 s, blocking its event loop) rather than
fail; a lock still held after that surfaces as
:class:`~mintage.core.errors.StorageUnavailableError` (503).

Every write goes through :meth:`SQLiteStorage._write` or
:meth:`SQLiteStorage._write_returning`: a later group commit (one transaction and one
WAL sync for all writes of an event-loop tick, each caller awaiting the commit) can
replace those two without touching the methods.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType
from typing import Any

from ...core.errors import StorageUnavailableError
from ...core.models import Client, Token, User
from .migrate import sqlite_path, upgrade_schema
from .queries import SQLITE as Q
from .rows import (
    client_from_row,
    client_params,
    token_from_row,
    token_params,
    user_from_row,
    user_params,
)

__all__ = ["SQLiteStorage"]

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


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


class SQLiteStorage:
    """Implements :class:`~mintage.core.storage.Storage` on a SQLite file.

    ``database_url`` is ``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.path = sqlite_path(database_url)
        self._db: sqlite3.Connection | None = None

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

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.execute("PRAGMA optimize")
            db.close()

    async def ping(self) -> bool:
        try:
            return self._read_one(Q.ping, ()) is not None
        except (sqlite3.Error, StorageUnavailableError, RuntimeError):
            return False

    # the only places that touch the connection
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SQLiteStorage is not open: await store.open() first")
        return self._db

    def _read_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with _UNAVAILABLE:
            return self._conn().execute(sql, params).fetchone()

    def _read_all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with _UNAVAILABLE:
            return self._conn().execute(sql, params).fetchall()

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one autocommitted statement; the number of rows it changed."""
        with _UNAVAILABLE:
            return self._conn().execute(sql, params).rowcount

    def _write_returning(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        # fetchall() steps the statement to its end: only then is the autocommit
        # transaction committed (a half-read RETURNING statement would hold it open).
        with _UNAVAILABLE:
            return self._conn().execute(sql, params).fetchall()

    # clients
    async def get_client(self, client_id: str) -> Client | None:
        row = self._read_one(Q.get_client, (client_id,))
        return None if row is None else client_from_row(row)

    async def save_client(self, client: Client) -> None:
        self._write(Q.save_client, client_params(client))

    async def delete_client(self, client_id: str) -> bool:
        db = self._conn()
        with _UNAVAILABLE:
            # IMMEDIATE takes the write lock up front; no await inside, so no other
            # method of this store runs in between.
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(Q.delete_client_tokens, (client_id,))
                deleted = db.execute(Q.delete_client, (client_id,)).rowcount
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return deleted > 0

    async def list_clients(self) -> list[Client]:
        return [client_from_row(row) for row in self._read_all(Q.list_clients, ())]

    # tokens
    async def save_token(self, token: Token) -> None:
        self._write(Q.save_token, token_params(token))

    async def get_token(self, digest: str) -> Token | None:
        row = self._read_one(Q.get_token, (digest,))
        return None if row is None else token_from_row(row)

    async def consume_token(self, digest: str, now: int) -> Token | None:
        """One ``UPDATE … RETURNING``: exactly one winner, also across processes
        sharing the file (RFC 9700 §4.14)."""
        rows = self._write_returning(Q.consume_token, (digest, now))
        return token_from_row(rows[0]) if rows else None

    async def revoke_token(self, digest: str, now: int) -> bool:
        return self._write(Q.revoke_token, (digest, now)) > 0

    async def revoke_family(self, family_id: str, now: int) -> int:
        return self._write(Q.revoke_family, (family_id, now))

    async def purge_expired(self, now: int, batch_size: int) -> int:
        return self._write(Q.purge_expired, (now, batch_size))

    # users
    async def get_user_by_username(self, username: str) -> User | None:
        row = self._read_one(Q.get_user_by_username, (username,))
        return None if row is None else user_from_row(row)

    async def get_user(self, user_id: str) -> User | None:
        row = self._read_one(Q.get_user, (user_id,))
        return None if row is None else user_from_row(row)

    async def save_user(self, user: User) -> None:
        try:
            self._write(Q.save_user, user_params(user))
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"username {user.username!r} is taken") from exc
