"""Human passwords: Argon2id (RFC 9106), hashed off the event loop.

A hash costs tens of milliseconds by design, so it runs in a worker thread.  Unknown
users are checked against a dummy hash so a failed login takes the same time whether or
not the user exists.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2-cffi defaults: Argon2id, RFC 9106 low-memory profile


@functools.cache
def _dummy_hash() -> str:
    # Made on first use, not at import: every CLI command would pay for it otherwise.
    return _hasher.hash("mintage dummy password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work verification; ``password_hash=None`` means "no such user"."""
    return await asyncio.to_thread(_verify, password_hash, password)
