"""Browser sessions of signed-in users: cookie values minted, digests stored, expiry."""

from __future__ import annotations

import pytest

from mintage.core.clock import FrozenClock
from mintage.core.credentials import SESSION_PREFIX, mint, token_digest, well_formed
from mintage.core.server import AuthorizationServer, ServerConfig
from mintage.core.sessions import SessionService
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PEPPER


@pytest.fixture
def sessions(engine: AuthorizationServer) -> SessionService:
    assert engine.sessions is not None
    return engine.sessions


async def test_session_round_trip(
    sessions: SessionService, store: MemoryStorage, clock: FrozenClock
) -> None:
    cookie = await sessions.create("user-1", auth_time=clock.now - 3)
    assert well_formed(cookie, SESSION_PREFIX)
    assert list(store.sessions) == [token_digest(cookie)]  # only the digest is kept
    session = await sessions.resolve(cookie)
    assert session is not None
    assert (session.user_id, session.auth_time) == ("user-1", clock.now - 3)
    assert session.expires_at == clock.now + 8 * 3600  # the default lifetime


async def test_session_expires(
    sessions: SessionService, store: MemoryStorage, clock: FrozenClock
) -> None:
    cookie = await sessions.create("user-1", clock.now)
    clock.advance(8 * 3600 - 1)
    assert await sessions.resolve(cookie) is not None
    clock.advance(1)
    assert await sessions.resolve(cookie) is None
    assert store.sessions == {}  # an expired session is forgotten


async def test_session_lifetime_is_configurable(store: MemoryStorage, clock: FrozenClock) -> None:
    engine = AuthorizationServer(
        ServerConfig(issuer="https://as.example", session_lifetime=60), store, PEPPER, clock
    )
    assert engine.sessions is not None
    cookie = await engine.sessions.create("u", clock.now)
    clock.advance(60)
    assert await engine.sessions.resolve(cookie) is None


async def test_session_end(sessions: SessionService, store: MemoryStorage) -> None:
    cookie = await sessions.create("user-1", 0)
    other = await sessions.create("user-1", 0)
    await sessions.end(cookie)
    assert await sessions.resolve(cookie) is None
    assert await sessions.resolve(other) is not None  # other browsers stay signed in
    await sessions.end(cookie)  # twice is fine
    await sessions.end("garbage")


async def test_unknown_or_malformed_cookies(sessions: SessionService) -> None:
    await sessions.create("user-1", 0)
    for value in ("", "garbage", mint(SESSION_PREFIX), mint("mint_at_"), "mint_ss_" + "x" * 49):
        assert await sessions.resolve(value) is None
