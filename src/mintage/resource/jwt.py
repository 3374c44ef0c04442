"""Local verification of JWT access tokens (RFC 9068 §4).

Nothing is asked of the authorization server per request: the signature is checked with
its published keys (cached, see :mod:`.jwks`) and the claims against this resource
server's configuration.  The price: a token revoked at the authorization server stays
valid here until its ``exp`` (use short lifetimes, or :class:`IntrospectionVerifier`
where revocation must take effect at once; docs/resource-servers.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jws import extract_compact, validate_compact

from mintage.core.credentials import looks_like_jws
from mintage.core.jws_algorithms import ALGORITHM_KEYS, SIGNING_ALGS, AllowListRegistry

from ._http import DEFAULT_TIMEOUT, HTTP, log
from .discovery import Discovery, normalize_issuer
from .errors import InvalidTokenError, ServerError
from .jwks import JWKSCache
from .token import AccessToken, ClaimError, access_token_from_claims, numeric_date
from .verifier import check_syntax

Clock = Callable[[], float]

#: RFC 9068 §2.2 lists these as REQUIRED in a JWT access token.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
#: What Mintage signs with (RS256 for ID tokens, the configured access-token algorithm).
DEFAULT_ALGORITHMS = SIGNING_ALGS
#: RFC 9068 §4: ``typ`` is ``at+jwt``; RFC 7515 §4.1.9 allows the full media type too.
_AT_JWT = frozenset({"at+jwt", "application/at+jwt"})


def default_audience(issuer: str) -> str:
    """Mintage's default resource indicator: ``{issuer}/resource``."""
    return f"{normalize_issuer(issuer)}/resource"


class JWTVerifier:
    """Verifies RFC 9068 JWT access tokens with the issuer's JWKS.

    Checks, in order (RFC 9068 §4): a JWS in compact form; ``alg`` in the allow-list
    (never ``none`` or ``HS*``); ``typ`` ``at+jwt``; no ``crit``; a ``kid`` the issuer
    publishes, of the key type ``alg`` needs; the signature; the required claims; ``iss``
    equal to the issuer; the configured audience in ``aud``; ``exp``, ``nbf`` and ``iat``
    against the clock, with ``leeway`` seconds of tolerance for clock skew.

    ``jwks_uri`` defaults to the one the issuer's metadata names (RFC 8414).  ``http``
    (an ``httpx.AsyncClient``, left open) or ``transport`` (wrapped in a client this
    verifier owns and :meth:`aclose` closes) let an app or a test choose how the
    authorization server is reached.
    """

    def __init__(
        self,
        issuer: str,
        *,
        audience: str | None = None,
        jwks_uri: str | None = None,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 30.0,
        required_claims: Iterable[str] = REQUIRED_CLAIMS,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = time.time,
        min_refresh_interval: float = 30.0,
        jwks_max_age: float = 600.0,
        discovery: Discovery | None = None,
    ) -> None:
        self.issuer = normalize_issuer(issuer)
        self.audience = audience if audience is not None else default_audience(issuer)
        self.algorithms = tuple(algorithms)
        unknown = [a for a in self.algorithms if a not in ALGORITHM_KEYS]
        if unknown or not self.algorithms:
            raise ValueError(
                f"unsupported algorithms {unknown}: choose from {sorted(ALGORITHM_KEYS)}"
            )
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self.leeway = leeway
        self.required_claims = tuple(required_claims)
        self._http = HTTP(http, transport, timeout)
        self._clock = clock
        self.discovery = discovery or Discovery(self.issuer, self._http, clock=clock)
        self._jwks_uri = jwks_uri
        self.keys = JWKSCache(
            self._http,
            self._resolve_jwks_uri,
            clock=clock,
            min_refresh_interval=min_refresh_interval,
            max_age=jwks_max_age,
        )
        self._registry = AllowListRegistry(algorithms=self.algorithms, strict_check_header=False)

    async def _resolve_jwks_uri(self) -> str:
        if self._jwks_uri is None:
            uri = (await self.discovery.metadata()).jwks_uri
            if uri is None:
                log.error("jwt: the metadata of %s names no jwks_uri", self.issuer)
                raise ServerError()
            self._jwks_uri = uri
        return self._jwks_uri

    async def verify(self, token: str) -> AccessToken:
        """The verified token, or :class:`InvalidTokenError` (401) / 503 / 500."""
        check_syntax(token)
        if not looks_like_jws(token):
            raise InvalidTokenError("the access token is not a JWT")
        try:
            obj = extract_compact(token.encode("ascii"), registry=self._registry)
        except (JoseError, ValueError):
            raise InvalidTokenError("the access token is malformed") from None
        header = obj.protected
        if not isinstance(header, dict):
            raise InvalidTokenError("the access token is malformed")
        alg = self._check_header(header)
        key = await self.keys.key(header["kid"], alg)
        try:
            valid = validate_compact(obj, key, registry=self._registry)
        except (JoseError, ValueError):
            valid = False
        if not valid:
            raise InvalidTokenError("the access token's signature is invalid")
        try:
            claims = json.loads(obj.payload)
        except (TypeError, ValueError):
            raise InvalidTokenError("the access token's claims are not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidTokenError("the access token's claims are not a JSON object")
        return self._check_claims(claims)

    def _check_header(self, header: Mapping[str, Any]) -> str:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidTokenError("the access token's signing algorithm is not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _AT_JWT:
            # RFC 9068 §4: reject anything else, so an ID token or another JWT signed by
            # the same keys cannot pass as an access token.
            raise InvalidTokenError("the token is not a JWT access token (typ at+jwt)")
        if "crit" in header:
            # RFC 7515 §4.1.11: extensions we do not understand must be refused.
            raise InvalidTokenError("the access token uses unsupported critical headers")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("the access token names no signing key (kid)")
        return alg

    def _check_claims(self, claims: dict[str, Any]) -> AccessToken:
        for name in self.required_claims:
            if claims.get(name) is None:
                raise InvalidTokenError(f"the access token has no {name} claim")
        try:
            token = access_token_from_claims(claims, "jwt")
            not_before = numeric_date(claims, "nbf")
        except ClaimError as exc:
            raise InvalidTokenError(str(exc)) from None
        if token.issuer is not None and token.issuer != self.issuer:
            raise InvalidTokenError("the access token was issued by another issuer")
        if "aud" in claims and self.audience not in token.audience:
            # RFC 9068 §4: the resource server MUST check that ``aud`` names it.
            raise InvalidTokenError("the access token is meant for another audience")
        now = self._clock()
        if token.expires_at is not None and now >= token.expires_at + self.leeway:
            raise InvalidTokenError("the access token has expired")
        if not_before is not None and now + self.leeway < not_before:
            raise InvalidTokenError("the access token is not valid yet")
        if token.issued_at is not None and token.issued_at > now + self.leeway:
            raise InvalidTokenError("the access token is issued in the future")
        return token

    async def aclose(self) -> None:
        await self._http.aclose()
