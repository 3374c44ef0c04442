"""Alembic migrations: idempotent, concurrency-safe, and producing exactly schema.py."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from mintage.core.models import Client, User
from mintage.core.storage import Storage
from mintage.storage.sql.migrate import sqlite_path, upgrade_schema, upgrade_schema_async
from mintage.storage.sql.postgres import PostgresStorage
from mintage.storage.sql.schema import metadata
from mintage.storage.sql.sqlite import SQLiteStorage

HEAD = "0004"
TABLES = {
    "alembic_version",
    "audit_events",
    "authorization_codes",
    "clients",
    "consents",
    "login_failures",
    "sessions",
    "signing_keys",
    "tokens",
    "users",
}

# Each child waits until a common start time, so their upgrades really overlap.
_CHILD = """
import sys, time
from mintage.storage.sql.migrate import upgrade_schema
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
upgrade_schema(sys.argv[1], schema=sys.argv[2] or None)
"""


def _diff(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _run_children(url: str, schema: str, count: int = 2) -> None:
    start = str(time.time() + 1.5)
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, url, schema, start], stderr=subprocess.PIPE)
        for _ in range(count)
    ]
    for child in children:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err.decode()


async def _pg_state(url: str, schema: str) -> tuple[set[str], list[str], list[Any]]:
    conn = await asyncpg.connect(url)
    try:
        tables = {
            r[0]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
            )
        }
        versions = [
            r[0] for r in await conn.fetch(f'SELECT version_num FROM "{schema}".alembic_version')
        ]
    finally:
        await conn.close()
    engine = create_async_engine(
        "postgresql+asyncpg://",
        async_creator=lambda: asyncpg.connect(url, server_settings={"search_path": schema}),
    )
    try:
        async with engine.connect() as sa_conn:
            diff = await sa_conn.run_sync(_diff)
    finally:
        await engine.dispose()
    return tables, versions, diff


def _sqlite_state(url: str) -> tuple[set[str], list[str], list[Any]]:
    db = sqlite3.connect(sqlite_path(url))
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        versions = [r[0] for r in db.execute("SELECT version_num FROM alembic_version")]
    finally:
        db.close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = _diff(conn)
    finally:
        engine.dispose()
    return tables, versions, diff


def test_sqlite_upgrade_twice_is_a_no_op_at_head(sqlite_url: str) -> None:
    upgrade_schema(sqlite_url)
    upgrade_schema(sqlite_url)
    assert _sqlite_state(sqlite_url) == (TABLES, [HEAD], [])


@pytest.mark.e2e  # child processes: e2e, not in `make quick`
def test_sqlite_upgrades_from_two_processes(sqlite_url: str) -> None:
    _run_children(sqlite_url, "")
    assert _sqlite_state(sqlite_url) == (TABLES, [HEAD], [])


def test_sqlite_upgrade_switches_to_wal(sqlite_url: str) -> None:
    upgrade_schema(sqlite_url)
    db = sqlite3.connect(sqlite_path(sqlite_url))
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///x.db?mode=ro", "mysql://x"]
)
def test_sqlite_url_must_name_a_file(url: str) -> None:
    with pytest.raises(ValueError, match="SQLite URL"):
        sqlite_path(url)


def test_postgres_upgrade_twice_is_a_no_op_at_head(postgres_url: str, pg_schema: str) -> None:
    upgrade_schema(postgres_url, schema=pg_schema)
    upgrade_schema(postgres_url, schema=pg_schema)
    assert asyncio.run(_pg_state(postgres_url, pg_schema)) == (TABLES, [HEAD], [])


def test_postgres_schema_may_come_from_the_url(postgres_url: str, pg_schema: str) -> None:
    # asyncpg passes unknown query parameters on as server settings.
    upgrade_schema(f"{postgres_url}?search_path={pg_schema}")
    assert asyncio.run(_pg_state(postgres_url, pg_schema)) == (TABLES, [HEAD], [])


async def test_postgres_concurrent_upgrades_in_one_process(
    postgres_url: str, pg_schema: str
) -> None:
    await asyncio.gather(*(upgrade_schema_async(postgres_url, schema=pg_schema) for _ in range(4)))
    assert await _pg_state(postgres_url, pg_schema) == (TABLES, [HEAD], [])


@pytest.mark.e2e  # child processes: e2e, not in `make quick`
def test_postgres_upgrades_from_two_processes(postgres_url: str, pg_schema: str) -> None:
    _run_children(postgres_url, pg_schema)
    assert asyncio.run(_pg_state(postgres_url, pg_schema)) == (TABLES, [HEAD], [])


def test_postgres_url_forms() -> None:
    from mintage.storage.sql.migrate import asyncpg_dsn

    assert asyncpg_dsn("postgresql+asyncpg://u@h/db") == "postgresql://u@h/db"
    assert asyncpg_dsn("postgres://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ValueError, match="postgresql://"):
        asyncpg_dsn("mysql://u@h/db")


# 0001 → head on a database that holds data ---------------------------------------------

_CLIENT_0001 = (
    "INSERT INTO clients (client_id, name, grant_types, scopes, redirect_uris, secret_digest,"
    " access_token_lifetime, refresh_token_lifetime, created_at) VALUES"
    " ('c1', 'Old ✓', 'authorization_code', 'read', 'https://app.example/cb', 'sha256$x',"
    " NULL, 600, 1000)"
)
_USER_0001 = (
    "INSERT INTO users (user_id, username, password_hash, created_at, claims) VALUES"
    " ('u1', 'alice', '$argon2id$hash', 1001, '{\"name\":\"Ålice\"}')"
)
_TOKEN_0001 = (
    "INSERT INTO tokens (digest, kind, client_id, scope, issued_at, expires_at, family_id,"
    " subject, revoked_at, consumed_at) VALUES"
    " ('t1', 'refresh_token', 'c1', 'read', 1002, 99999999999, 'f1', 'u1', NULL, NULL)"
)


async def _check_upgraded_data(store: Storage) -> None:
    """The rows written at 0001 are intact, with the new columns' defaults."""
    await store.open()
    try:
        assert await store.get_client("c1") == Client(
            client_id="c1",
            name="Old ✓",
            grant_types=("authorization_code",),
            scopes=("read",),
            redirect_uris=("https://app.example/cb",),
            secret_digest="sha256$x",
            refresh_token_lifetime=600,
            created_at=1000,
            require_pkce=True,
        )
        assert await store.get_user_by_username("alice") == User(
            user_id="u1",
            username="alice",
            password_hash="$argon2id$hash",
            created_at=1001,
            claims={"name": "Ålice"},
        )
        old = await store.get_token("t1")
        assert old is not None and old.subject == "u1" and old.revoked_at is None
        # and the new tables and columns work on the upgraded database
        assert await store.note_login_failure("a:key", 2000, 3000) == 1
        assert await store.revoke_for_subject("c1", "u1", 2000) == 1
        assert await store.list_consents("u1") == []
    finally:
        await store.close()


def test_sqlite_upgrade_from_0001_keeps_data(sqlite_url: str) -> None:
    upgrade_schema(sqlite_url, revision="0001")
    db = sqlite3.connect(sqlite_path(sqlite_url))
    try:
        assert [r[0] for r in db.execute("SELECT version_num FROM alembic_version")] == ["0001"]
        with db:
            for sql in (_CLIENT_0001, _USER_0001, _TOKEN_0001):
                db.execute(sql)
    finally:
        db.close()
    upgrade_schema(sqlite_url)
    assert _sqlite_state(sqlite_url) == (TABLES, [HEAD], [])
    asyncio.run(_check_upgraded_data(SQLiteStorage(sqlite_url)))


async def test_postgres_upgrade_from_0001_keeps_data(postgres_url: str, pg_schema: str) -> None:
    await upgrade_schema_async(postgres_url, schema=pg_schema, revision="0001")
    conn = await asyncpg.connect(postgres_url, server_settings={"search_path": pg_schema})
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == "0001"
        for sql in (_CLIENT_0001, _USER_0001, _TOKEN_0001):
            await conn.execute(sql)
    finally:
        await conn.close()
    await upgrade_schema_async(postgres_url, schema=pg_schema)
    assert await _pg_state(postgres_url, pg_schema) == (TABLES, [HEAD], [])
    await _check_upgraded_data(PostgresStorage(postgres_url, schema=pg_schema))
