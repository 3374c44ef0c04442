"""The three stores for tests that run over each backend: memory, SQLite, PostgreSQL.

PostgreSQL comes from ``MINTAGE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``).  When it is unreachable its tests are
skipped, unless ``MINTAGE_REQUIRE_POSTGRES=1`` (set in CI), which makes them fail.  Each
PostgreSQL test gets its own schema ``test_<random>``, dropped afterwards.

The fixtures are imported by ``tests/storage/conftest.py`` and by modules elsewhere that
need a real store (``from backend_testkit import pg_schema, postgres_url, sqlite_url``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from mintage.core.storage import Storage
from mintage.storage.memory import MemoryStorage
from mintage.storage.sql.postgres import PostgresStorage
from mintage.storage.sql.sqlite import SQLiteStorage

POSTGRES_URL = os.environ.get(
    "MINTAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("MINTAGE_REQUIRE_POSTGRES") == "1"

BACKENDS = ["memory", "sqlite", "postgresql"]
SQL_BACKENDS = ["sqlite", "postgresql"]

T = TypeVar("T")


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a loop of its own, even from inside a loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _probe(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except Exception as exc:  # any failure to connect means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def _ddl(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The server URL, after checking once that it answers."""
    error = run_blocking(_probe(POSTGRES_URL))
    if error is not None:
        reason = f"PostgreSQL not reachable at {redacted(POSTGRES_URL)} ({error})"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason}; MINTAGE_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(f"{reason}; set MINTAGE_TEST_POSTGRES_URL to test against PostgreSQL")
    return POSTGRES_URL


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh, empty schema for one test; dropped with everything in it afterwards."""
    schema = f"test_{secrets.token_hex(6)}"
    run_blocking(_ddl(postgres_url, f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        run_blocking(_ddl(postgres_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mintage.db'}"


def make_store(backend: str, request: pytest.FixtureRequest) -> Storage:
    """An unopened store; only sync fixtures are looked up, so no loop is needed."""
    if backend == "memory":
        return MemoryStorage()
    if backend == "sqlite":
        return SQLiteStorage(request.getfixturevalue("sqlite_url"))
    url = request.getfixturevalue("postgres_url")
    return PostgresStorage(url, schema=request.getfixturevalue("pg_schema"))
