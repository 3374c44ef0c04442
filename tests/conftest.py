"""Shared fixtures for the core, HTTP and flow suites.

``make_server(storage=None, **settings_overrides)`` builds a Mintage app on the in-memory
store with a frozen clock, runs its lifespan, and returns an ``oauth_testkit.Server``;
``server`` is one with default settings; ``engine`` is a bare core
:class:`~mintage.core.server.AuthorizationServer` for tests without HTTP.

Every test gets a marker for its kind from its directory (:data:`KIND_BY_DIRECTORY`),
unless its module names one itself, and ``pg``/``redis`` when it needs that server; the
markers are registered in ``pyproject.toml`` and ``make quick`` selects by them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mintage.core import passwords
from mintage.core.clock import FrozenClock
from mintage.core.server import AuthorizationServer, ServerConfig
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PEPPER, MakeServer, Server, password_hash, server_factory

TESTS = Path(__file__).parent

#: the kind of test each directory of tests/ holds: ``unit`` runs in process without a
#: server, ``http`` drives the ASGI app in process, ``e2e`` starts real processes,
#: ``browser`` drives Chromium, ``interop`` runs other implementations (Node)
KIND_BY_DIRECTORY = {
    "core": "unit",
    "cli": "unit",
    "docs": "unit",
    "storage": "unit",
    "packaging": "unit",
    "http": "http",
    "flows": "http",
    "resource": "http",
    "e2e": "e2e",
    "bench": "e2e",
    "browser": "browser",
    "interop": "interop",
}
KINDS = frozenset(KIND_BY_DIRECTORY.values())
#: fixtures that reach a real PostgreSQL server or Redis
PG_FIXTURES = frozenset({"postgres_url", "pg_schema", "postgres_deployment", "pg_cluster"})
REDIS_FIXTURES = frozenset({"redis_prefix"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(kind) for kind in KINDS):
            directory = item.path.relative_to(TESTS).parts[0]
            item.add_marker(KIND_BY_DIRECTORY.get(directory, "unit"))
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if fixtures & PG_FIXTURES or any(str(v).startswith("postgres") for v in params):
            item.add_marker("pg")
        if fixtures & REDIS_FIXTURES:
            item.add_marker("redis")


@pytest.fixture(autouse=True, scope="session")
def _dummy_hash_as_cheap_as_the_users() -> Iterator[None]:
    """Unknown usernames are checked against a dummy hash that costs what a user's hash
    costs (``mintage.core.passwords``).  Test users get cheap hashes
    (``oauth_testkit.password_hash``), so the dummy is made the same way: otherwise
    each unknown-user sign-in would spend a full Argon2id verification (~150 ms)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_dummy_hash", lambda: password_hash("mintage dummy password"))
        yield


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    async with server_factory() as make:
        yield make


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    return await make_server()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def engine(store: MemoryStorage, clock: FrozenClock) -> AuthorizationServer:
    """The protocol engine alone: memory store, frozen clock, default lifetimes."""
    return AuthorizationServer(ServerConfig(issuer="https://as.example"), store, PEPPER, clock)
