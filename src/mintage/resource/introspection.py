"""Verification by asking the authorization server (RFC 7662 token introspection).

Works for every token, opaque (``mint_at_...``) or JWT, and sees revocation as soon as
the authorization server does, at the cost of one HTTP round trip per token per cache
window.  Answers are cached for at most ``cache_ttl`` seconds and never past the token's
``exp``, keyed by the token's SHA-256 digest: the token itself is never kept.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import httpx

from mintage.core.credentials import ACCESS_TOKEN_PREFIX, well_formed

from ._http import DEFAULT_TIMEOUT, HTTP, log, request_json
from .discovery import Discovery, normalize_issuer
from .errors import InvalidTokenError, ServerError
from .jwt import default_audience
from .token import AccessToken, ClaimError, access_token_from_claims
from .verifier import check_syntax

Clock = Callable[[], float]

# Mintage's own credentials carry a prefix and a checksum (core/credentials.py): a
# refresh token, client secret or mistyped token is refused without a round trip.
_MINTAGE_PREFIX = "mint_"


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1 ``client_secret_basic``: both parts form-urlencoded first."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class IntrospectionCache:
    """A bounded map from token digest to answer (a token, or ``None`` for inactive)."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[bytes, tuple[float, AccessToken | None]] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, now: float) -> tuple[bool, AccessToken | None]:
        """``(hit, answer)``."""
        entry = self._entries.get(digest)
        if entry is None:
            return False, None
        until, answer = entry
        if now >= until:
            del self._entries[digest]
            return False, None
        return True, answer

    def put(self, digest: bytes, answer: AccessToken | None, now: float) -> None:
        until = now + self.ttl
        if answer is not None and answer.expires_at is not None:
            until = min(until, answer.expires_at)
        if until <= now or self.ttl <= 0:
            return
        self._entries[digest] = (until, answer)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class IntrospectionVerifier:
    """Verifies tokens with the issuer's RFC 7662 introspection endpoint.

    The resource server authenticates as a confidential client (``client_secret_basic``,
    RFC 7662 §2.1) that serves the tokens' audience, or Mintage answers ``active: false``
    for tokens of other clients (RFC 7662 §4); register one with ``mintage client create
    --grant-type client_credentials --resource <audience>``.  ``{"active": false}``
    becomes ``invalid_token``; an active answer is refused too when its ``token_type`` is
    not ``Bearer`` (a refresh token), its ``iss`` is another issuer, or its ``aud`` does
    not name ``audience`` (checked only when the answer carries ``aud``).  An
    authorization server that cannot be reached or answers 5xx gives a 503
    ``temporarily_unavailable``, never ``invalid_token``: clients must not throw away
    good tokens.  Refused introspection credentials are a misconfiguration of this
    resource server: 500, and an error in the log.

    Inactive answers are cached as well (same bound), so a client retrying a dead token
    does not cost a round trip each time.
    """

    def __init__(
        self,
        issuer: str,
        *,
        client_id: str,
        client_secret: str,
        introspection_endpoint: str | None = None,
        audience: str | None = None,
        cache_ttl: float = 30.0,
        cache_size: int = 10_000,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = time.time,
        discovery: Discovery | None = None,
    ) -> None:
        self.issuer = normalize_issuer(issuer)
        self.audience = audience if audience is not None else default_audience(issuer)
        self._authorization = basic_authorization(client_id, client_secret)
        self._endpoint = introspection_endpoint
        self.cache = IntrospectionCache(cache_ttl, cache_size)
        self._http = HTTP(http, transport, timeout)
        self._clock = clock
        self.discovery = discovery or Discovery(self.issuer, self._http, clock=clock)

    async def _resolve_endpoint(self) -> str:
        if self._endpoint is None:
            endpoint = (await self.discovery.metadata()).introspection_endpoint
            if endpoint is None:
                log.error("introspection: the metadata of %s names no endpoint", self.issuer)
                raise ServerError()
            self._endpoint = endpoint
        return self._endpoint

    async def verify(self, token: str) -> AccessToken:
        """The verified token, or :class:`InvalidTokenError` (401) / 503 / 500."""
        check_syntax(token)
        if token.startswith(_MINTAGE_PREFIX) and not well_formed(token, ACCESS_TOKEN_PREFIX):
            raise InvalidTokenError("the access token is invalid, expired or revoked")
        digest = hashlib.sha256(token.encode("ascii")).digest()
        hit, answer = self.cache.get(digest, self._clock())
        if not hit:
            answer = await self._introspect(token)
            self.cache.put(digest, answer, self._clock())
        if answer is None:
            raise InvalidTokenError("the access token is invalid, expired or revoked")
        return answer

    async def _introspect(self, token: str) -> AccessToken | None:
        endpoint = await self._resolve_endpoint()
        status, body = await request_json(
            self._http.client,
            "POST",
            endpoint,
            "introspection",
            data={"token": token, "token_type_hint": "access_token"},
            headers={"authorization": self._authorization},
        )
        if status != 200:
            # 400/401/403: the authorization server refused *us* (credentials, request),
            # which says nothing about the token.
            log.error("introspection: %s answered %d; check client_id/secret", endpoint, status)
            raise ServerError()
        if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
            log.error("introspection: %s answered without a boolean 'active'", endpoint)
            raise ServerError()
        if not body["active"]:
            return None
        return self._read(body)

    def _read(self, body: dict[str, Any]) -> AccessToken | None:
        """An active answer, or ``None`` when it is not an access token for us."""
        try:
            token = access_token_from_claims(body, "introspection")
        except ClaimError as exc:
            log.error("introspection: malformed answer: %s", exc)
            raise ServerError() from None
        token_type = body.get("token_type")
        if isinstance(token_type, str) and token_type.lower() != "bearer":
            return None
        if token.issuer is not None and token.issuer != self.issuer:
            return None
        if token.audience and self.audience not in token.audience:
            return None
        return token

    async def aclose(self) -> None:
        await self._http.aclose()
