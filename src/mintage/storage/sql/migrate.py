"""Bring a database to the newest schema with the Alembic scripts shipped in the package.

Called by every store's ``open()`` and by ``mintage db upgrade``, so it must be cheap and
harmless at head, and safe when several workers start at once:

- PostgreSQL: a session-level ``pg_advisory_lock`` serialises concurrent upgrades; the
  second process reads ``alembic_version`` only after the first released the lock, and
  finds nothing to do.  The connection is asyncpg's (the one PostgreSQL driver we ship),
  through SQLAlchemy's ``postgresql+asyncpg`` dialect and ``run_sync``.
- SQLite: the whole upgrade runs in one ``BEGIN IMMEDIATE`` transaction (SQLite's DDL is
  transactional), which takes the database's write lock before the version is read.

No ``alembic.ini`` is needed: the configuration is built here.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    import asyncpg

__all__ = ["upgrade_schema", "upgrade_schema_async"]

_MIGRATIONS = Path(__file__).with_name("migrations")

#: Key of the advisory lock: "mintage" in ASCII, fixed so every version agrees.
ADVISORY_LOCK_KEY = 0x6D696E74616765


def upgrade_schema(database_url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Migrate ``sqlite:///path`` or ``postgresql://…`` to the newest revision.

    ``schema`` (PostgreSQL only) sets ``search_path``, so the tables land in that schema.
    ``revision`` stops at an older revision (tests of the migrations use it).
    Blocking; from a running event loop use :func:`upgrade_schema_async` instead.
    """
    if database_url.startswith("sqlite:"):
        _upgrade_sqlite(sqlite_path(database_url), revision)
    else:
        asyncio.run(upgrade_schema_async(database_url, schema=schema, revision=revision))


async def upgrade_schema_async(
    database_url: str, *, schema: str | None = None, revision: str = "head"
) -> None:
    """:func:`upgrade_schema` for callers on an event loop.

    SQLite is migrated in place: a few milliseconds on a file, done once at start-up.
    """
    if database_url.startswith("sqlite:"):
        _upgrade_sqlite(sqlite_path(database_url), revision)
    else:
        await _upgrade_postgres(asyncpg_dsn(database_url), schema, revision)


def sqlite_path(database_url: str) -> str:
    """The file of ``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``."""
    prefix = "sqlite:///"
    path = database_url[len(prefix) :] if database_url.startswith(prefix) else ""
    if not path or path == ":memory:" or "?" in path:
        raise ValueError(
            "SQLite URL must name a file: sqlite:///relative.db or sqlite:////abs/path.db "
            "(use memory:// for a throw-away store)"
        )
    return path


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql://…`` as asyncpg wants it (SQLAlchemy's ``+asyncpg`` suffix removed)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError("PostgreSQL URL must start with postgresql://")
    return "postgresql://" + rest


def server_settings(schema: str | None) -> dict[str, str] | None:
    """Connection settings that put a store (and its migrations) into ``schema``."""
    return {"search_path": schema} if schema else None


def _alembic_upgrade(connection: Connection, revision: str = "head") -> None:
    config = Config()
    # ConfigParser interpolation: a '%' in the install path must be doubled.
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _enable_wal(dbapi_connection: Any, wait: float = 30.0) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another process holds the file.

    Switching a new file to WAL needs an exclusive lock, and SQLite may answer "database
    is locked" at once, without calling the busy handler, when several processes (the
    workers of ``mintage serve --workers N``) start on one new file together.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _upgrade_sqlite(path: str, revision: str = "head") -> None:
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        # WAL before the first table exists; it cannot change inside a transaction.
        _enable_wal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.begin() as conn:
            _alembic_upgrade(conn, revision)
    finally:
        engine.dispose()


async def _upgrade_postgres(dsn: str, schema: str | None, revision: str = "head") -> None:
    # Imported here: the asyncio extension needs greenlet, which only migrations use, and
    # asyncpg comes with the `mintage[postgres]` extra.
    import asyncpg
    from sqlalchemy.ext.asyncio import create_async_engine

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, server_settings=server_settings(schema))

    engine = create_async_engine("postgresql+asyncpg://", async_creator=connect, poolclass=NullPool)
    lock = text("SELECT pg_advisory_lock(:key)").bindparams(key=ADVISORY_LOCK_KEY)
    unlock = text("SELECT pg_advisory_unlock(:key)").bindparams(key=ADVISORY_LOCK_KEY)
    try:
        async with engine.connect() as conn:
            await conn.execute(lock)
            await conn.commit()  # session-level lock: outlives this transaction
            try:
                await conn.run_sync(_alembic_upgrade, revision)
                await conn.commit()
            finally:
                # Best effort: closing the connection (NullPool) releases the lock too,
                # and a failure here must not hide the migration's own error.
                with contextlib.suppress(Exception):
                    await conn.execute(unlock)
                    await conn.commit()
    finally:
        await engine.dispose()
