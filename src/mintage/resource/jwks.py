"""The authorization server's signing keys, fetched from its JWKS and cached.

RFC 9068 §4 has the resource server validate the signature with the keys the issuer
publishes (``jwks_uri``, RFC 8414 §2).  Keys are looked up by ``kid`` only: keys named
inside a token (``jwk``, ``jku``, ``x5u`` headers) are never used, or anyone could sign.

Refreshing: an unknown ``kid`` triggers a refetch (the issuer rotated its keys), at most
once per ``min_refresh_interval`` so tokens with made-up ``kid`` values cannot make the
resource server hammer the authorization server; the set is also refetched once it is
older than ``max_age``, so a withdrawn key stops being accepted.  When a refetch fails,
the keys already known stay in use (availability), and a token whose key cannot be
checked gets a 503, never ``invalid_token``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key, import_key

from mintage.core.jws_algorithms import key_fits

from ._http import HTTP, log, request_json
from .errors import InvalidTokenError, OAuthError, ServerError, TemporarilyUnavailableError

Clock = Callable[[], float]

#: RFC 7518 §3.3: RSA keys of 2048 bits or more.
MIN_RSA_BITS = 2048

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _rsa_bits(data: Mapping[str, Any]) -> int:
    """The modulus size, read before import (joserfc would warn about small keys)."""
    n = data.get("n")
    if not isinstance(n, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except ValueError:
        return 0
    return int.from_bytes(raw, "big").bit_length()


def parse_jwks(document: Any, source: str) -> dict[str, list[Key]]:
    """The usable verification keys of a JWKS document (RFC 7517 §5), by ``kid``.

    Skipped, with a log line: keys without a ``kid`` (tokens name their key), symmetric
    keys, keys for encryption, keys that fail to import, RSA keys under 2048 bits, and
    any key published with its private part: a private key in a public document can
    sign for anyone.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        log.error("jwks: %s is not a JWK set", source)
        raise ServerError()
    keys: dict[str, list[Key]] = {}
    for data in document["keys"]:
        if not isinstance(data, dict):
            continue
        kid = data.get("kid")
        if not isinstance(kid, str) or not kid:
            log.info("jwks: %s: skipping a key without kid", source)
            continue
        if data.get("kty") not in ("RSA", "EC", "OKP"):
            log.info("jwks: %s: skipping key %r of type %r", source, kid, data.get("kty"))
            continue
        if _PRIVATE_MEMBERS & data.keys():
            log.error("jwks: %s publishes the PRIVATE part of key %r; not using it", source, kid)
            continue
        ops = data.get("key_ops")
        if data.get("use", "sig") != "sig" or (isinstance(ops, list) and "verify" not in ops):
            continue
        if data["kty"] == "RSA" and _rsa_bits(data) < MIN_RSA_BITS:
            log.warning("jwks: %s: key %r is an RSA key under %d bits", source, kid, MIN_RSA_BITS)
            continue
        try:
            key = import_key(data)
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("jwks: %s: key %r does not import: %s", source, kid, exc)
            continue
        keys.setdefault(kid, []).append(key)
    return keys


class JWKSCache:
    """One issuer's verification keys, refetched on unknown ``kid`` (rate-limited)."""

    def __init__(
        self,
        http: HTTP,
        jwks_uri: Callable[[], Awaitable[str]],
        *,
        clock: Clock = time.time,
        min_refresh_interval: float = 30.0,
        max_age: float = 600.0,
        retry_interval: float = 5.0,
    ) -> None:
        self._http = http
        self._jwks_uri = jwks_uri
        self._clock = clock
        self._min_refresh_interval = min_refresh_interval
        self._max_age = max_age
        self._retry_interval = min(retry_interval, min_refresh_interval)
        self._lock = asyncio.Lock()
        self._keys: dict[str, list[Key]] | None = None
        self._fetched_at = 0.0
        self._next_fetch_at = 0.0
        self._failure: OAuthError | None = None
        #: How many times the set was fetched (successfully or not): for tests and metrics.
        self.fetches = 0

    async def key(self, kid: str, alg: str) -> Key:
        """The key named ``kid`` that fits ``alg``.

        Raises :class:`InvalidTokenError` for a ``kid`` the issuer does not publish (after
        at most one refetch) or a key of the wrong type for ``alg``; 503 when the keys
        cannot be fetched.
        """
        now = self._clock()
        if self._keys is not None and now - self._fetched_at < self._max_age:
            candidates = self._keys.get(kid)
            if candidates is not None:
                return _pick(candidates, alg)
        async with self._lock:
            now = self._clock()
            fresh = self._keys is not None and now - self._fetched_at < self._max_age
            known = fresh and self._keys is not None and kid in self._keys
            if not known and now >= self._next_fetch_at:
                await self._refresh(now)
            if self._keys is not None and kid in self._keys:
                return _pick(self._keys[kid], alg)
            if self._failure is not None:
                if isinstance(self._failure, TemporarilyUnavailableError):
                    raise TemporarilyUnavailableError(self._failure.description)
                raise ServerError()
            raise InvalidTokenError("the access token is signed by an unknown key")

    async def _refresh(self, now: float) -> None:
        self.fetches += 1
        try:
            uri = await self._jwks_uri()
            status, document = await request_json(self._http.client, "GET", uri, "jwks")
            if status != 200:
                log.error("jwks: %s answered %d", uri, status)
                raise ServerError()
            keys = parse_jwks(document, uri)
        except OAuthError as exc:
            self._failure = exc
            self._next_fetch_at = now + self._retry_interval
            if self._keys is not None:
                log.warning("jwks: refresh failed; keeping the %d known key ids", len(self._keys))
            return
        self._keys = keys
        self._failure = None
        self._fetched_at = now
        self._next_fetch_at = now + self._min_refresh_interval


def _pick(candidates: list[Key], alg: str) -> Key:
    for key in candidates:
        if key_fits(key, alg):
            return key
    raise InvalidTokenError("the access token's algorithm does not match its key")
