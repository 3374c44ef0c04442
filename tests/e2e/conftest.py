"""Fixtures for the end-to-end suite: deployments on SQLite and PostgreSQL, and a
throw-away PostgreSQL cluster that outage tests may stop.

PostgreSQL deployments use the shared server (``MINTAGE_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``) with a schema of their own, named in the
URL (``?search_path=…``, which asyncpg passes on as a server setting), dropped
afterwards.  Without a reachable server, or without ``initdb``/``pg_ctl`` for the
throw-away cluster, those tests skip, unless ``MINTAGE_REQUIRE_POSTGRES=1`` (CI), which
makes them fail instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from deployment import Deployment
from pg_cluster import REQUIRE_POSTGRES, ClusterUnavailable, PgCluster

POSTGRES_URL = os.environ.get(
    "MINTAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _unavailable(reason: str) -> None:
    """Skip, or fail when CI requires PostgreSQL."""
    if REQUIRE_POSTGRES:
        pytest.fail(f"{reason}; MINTAGE_REQUIRE_POSTGRES=1 requires it")
    pytest.skip(reason)


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, f"sqlite:///{tmp_path / 'mintage.db'}")
    yield deployment
    deployment.stop_all()


@pytest.fixture
def postgres_deployment(tmp_path: Path) -> Iterator[Deployment]:
    """A deployment on the shared server, in a fresh schema dropped afterwards."""
    schema = f"test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_execute(POSTGRES_URL, f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to connect means "not reachable"
        _unavailable(f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}: {exc})")
    separator = "&" if "?" in POSTGRES_URL else "?"
    deployment = Deployment(tmp_path, f"{POSTGRES_URL}{separator}search_path={schema}")
    try:
        yield deployment
    finally:
        deployment.stop_all()
        asyncio.run(_execute(POSTGRES_URL, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """Each test once on SQLite and once on PostgreSQL."""
    found: Deployment = request.getfixturevalue(f"{request.param}_deployment")
    return found


@pytest.fixture(scope="module")
def pg_cluster_of_module() -> Iterator[PgCluster]:
    """One throw-away cluster per test module (``initdb`` takes a second or two)."""
    try:
        cluster = PgCluster()
    except ClusterUnavailable as exc:
        _unavailable(f"cannot run a throw-away PostgreSQL cluster: {exc}")
    try:
        cluster.create()
    except ClusterUnavailable as exc:
        cluster.destroy()
        _unavailable(f"cannot run a throw-away PostgreSQL cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_cluster(pg_cluster_of_module: PgCluster) -> PgCluster:
    """The module's throw-away cluster, running (a test before may have stopped it)."""
    if not pg_cluster_of_module.running():
        pg_cluster_of_module.start()
    return pg_cluster_of_module


@pytest.fixture
def pg_cluster_deployment(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[Deployment]:
    """A deployment on the throw-away cluster, in a schema of its own."""
    schema = f"test_{secrets.token_hex(6)}"
    asyncio.run(_execute(pg_cluster.url, f'CREATE SCHEMA "{schema}"'))
    deployment = Deployment(tmp_path, f"{pg_cluster.url}?search_path={schema}")
    yield deployment
    deployment.stop_all()
