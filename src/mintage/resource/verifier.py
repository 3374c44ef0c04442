"""The one interface every verifier offers, and the verifier that picks between two.

A verifier turns the bearer token string into an :class:`~.token.AccessToken` or raises
an RFC 6750 §3.1 error (see :mod:`mintage.resource.errors`)::

    token = await verifier.verify(value)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from mintage.core.credentials import looks_like_jws

from .errors import InvalidTokenError
from .token import AccessToken

if TYPE_CHECKING:
    import httpx

#: Longer values are refused before any parsing or network call.
MAX_TOKEN_LENGTH = 8192

# RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def check_syntax(token: str) -> None:
    """Refuse a value that cannot be a bearer token (RFC 6750 §2.1 ``b64token``)."""
    if len(token) > MAX_TOKEN_LENGTH or not _B64TOKEN.fullmatch(token):
        raise InvalidTokenError("the access token is malformed")


@runtime_checkable
class TokenVerifier(Protocol):
    """Checks a bearer token; raises RFC 6750 errors (401, 503 ...), never returns None."""

    async def verify(self, token: str) -> AccessToken: ...

    async def aclose(self) -> None: ...


class CombinedVerifier:
    """JWS-shaped tokens go to ``jwt``; anything else (opaque ``mint_at_...`` tokens) to
    ``introspection`` (RFC 7662).  Either may be ``None``; a token neither can check is
    ``invalid_token``.  :meth:`aclose` closes both, and ``owned_http`` when given (the
    client :func:`~mintage.resource.verifier_for_issuer` shares between them)."""

    def __init__(
        self,
        jwt: TokenVerifier | None,
        introspection: TokenVerifier | None,
        *,
        owned_http: httpx.AsyncClient | None = None,
    ) -> None:
        if jwt is None and introspection is None:
            raise ValueError("give at least one verifier")
        self.jwt = jwt
        self.introspection = introspection
        self._owned_http = owned_http

    async def verify(self, token: str) -> AccessToken:
        check_syntax(token)
        if self.jwt is not None and looks_like_jws(token):
            return await self.jwt.verify(token)
        if self.introspection is not None:
            return await self.introspection.verify(token)
        raise InvalidTokenError("the access token is not a JWT")

    async def aclose(self) -> None:
        for verifier in (self.jwt, self.introspection):
            if verifier is not None:
                await verifier.aclose()
        if self._owned_http is not None:
            await self._owned_http.aclose()
