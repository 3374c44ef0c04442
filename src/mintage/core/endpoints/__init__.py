"""Endpoints of the engine: each takes an OAuthRequest and returns an OAuthResponse."""

from __future__ import annotations

from ..credentials import (
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    looks_like_jws,
    token_digest,
    well_formed,
)
from ..models import Token
from ..storage import TokenStore


async def find_token(tokens: TokenStore, value: str) -> Token | None:
    """The stored token for a presented value; malformed values never reach the store.

    A JWT access token (RFC 9068) is found by the digest of the whole JWT, like an
    opaque one: a JWT altered in any byte (``alg: none``, another ``kid``, a forged
    signature) has another digest and is unknown."""
    if not (
        well_formed(value, ACCESS_TOKEN_PREFIX)
        or well_formed(value, REFRESH_TOKEN_PREFIX)
        or looks_like_jws(value)
    ):
        return None
    return await tokens.get_token(token_digest(value))
