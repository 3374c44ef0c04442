"""Browser sessions of signed-in users.

The cookie value is a minted credential (``mint_ss_…``, 256 random bits with a
checksum); the store keeps only its SHA-256 digest (docs/architecture.md §4), so a database dump
yields no usable session.
"""

from __future__ import annotations

from .clock import Clock
from .credentials import SESSION_PREFIX, mint, token_digest, well_formed
from .models import Session
from .storage import SessionStore


class SessionService:
    def __init__(self, store: SessionStore, lifetime: int, clock: Clock) -> None:
        self._store = store
        self._lifetime = lifetime
        self._clock = clock

    async def create(self, user_id: str, auth_time: int) -> str:
        """Start a session; returns the cookie value (store it nowhere else)."""
        cookie = mint(SESSION_PREFIX)
        await self._store.save_session(
            Session(
                digest=token_digest(cookie),
                user_id=user_id,
                auth_time=auth_time,
                expires_at=self._clock() + self._lifetime,
            )
        )
        return cookie

    async def resolve(self, cookie: str) -> Session | None:
        """The live session for a cookie value; ``None`` if unknown, malformed or expired."""
        if not well_formed(cookie, SESSION_PREFIX):
            return None
        digest = token_digest(cookie)
        session = await self._store.get_session(digest)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            await self._store.delete_session(digest)
            return None
        return session

    async def end(self, cookie: str) -> None:
        """Sign out: forget the session (a no-op for unknown values)."""
        if well_formed(cookie, SESSION_PREFIX):
            await self._store.delete_session(token_digest(cookie))
