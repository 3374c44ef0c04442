"""Shared fixtures for the core, HTTP and flow suites.

``make_server(storage=None, **settings_overrides)`` builds a Mintage app on the in-memory
store with a frozen clock, runs its lifespan, and returns an ``oauth_testkit.Server``;
``server`` is one with default settings; ``engine`` is a bare core
:class:`~mintage.core.server.AuthorizationServer` for tests without HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mintage.core.clock import FrozenClock
from mintage.core.server import AuthorizationServer, ServerConfig
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PEPPER, MakeServer, Server, server_factory


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
