"""Fixtures for the storage contract suite: one ``store`` per backend.

The backends and their PostgreSQL pattern (a random schema per test, skipped when the
server is unreachable unless ``MINTAGE_REQUIRE_POSTGRES=1``) come from
``tests/backend_testkit.py``, which the HTTP suites share.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend_testkit import (  # noqa: F401 (fixtures, found by pytest through this import)
    BACKENDS,
    SQL_BACKENDS,
    make_store,
    pg_schema,
    postgres_url,
    sqlite_url,
)
from mintage.core.storage import Storage


@pytest.fixture(params=BACKENDS)
def any_backend(request: pytest.FixtureRequest) -> Storage:
    return make_store(request.param, request)


@pytest.fixture(params=SQL_BACKENDS)
def sql_backend(request: pytest.FixtureRequest) -> Storage:
    return make_store(request.param, request)


@pytest.fixture
async def store(any_backend: Storage) -> AsyncIterator[Storage]:
    """An opened, empty store of each backend: memory, SQLite, PostgreSQL."""
    await any_backend.open()
    try:
        yield any_backend
    finally:
        await any_backend.close()


@pytest.fixture
async def sql_store(sql_backend: Storage) -> AsyncIterator[Storage]:
    """An opened, empty SQLite or PostgreSQL store."""
    await sql_backend.open()
    try:
        yield sql_backend
    finally:
        await sql_backend.close()
