"""Bearer token use at a protected resource (RFC 6750).

``BearerVerifier`` finds the token in a request (:mod:`mintage.core.bearer`: §2.1
header, §2.2 form body, §2.3 query when enabled), checks it, and raises RFC 6750 §3.1
errors, which ``AuthorizationServer`` answers with their ``WWW-Authenticate`` challenge
(:func:`mintage.core.bearer.challenge`).  ``ResourceEndpoint`` is the origin's ``GET /resource``.
"""

from __future__ import annotations

from ..bearer import bearer_token
from ..clock import Clock
from ..credentials import ACCESS_TOKEN_PREFIX, looks_like_jws, token_digest, well_formed
from ..errors import InsufficientScopeError, InvalidTokenError
from ..http import OAuthRequest, OAuthResponse, json_response
from ..models import Token, TokenKind
from ..params import FORM, parse_form
from ..storage import TokenStore

_NO_CACHE = (("content-type", "application/json"), ("cache-control", "no-store"))


class BearerVerifier:
    def __init__(self, tokens: TokenStore, clock: Clock, *, allow_query: bool) -> None:
        self._tokens = tokens
        self._clock = clock
        self._allow_query = allow_query

    def extract(self, request: OAuthRequest) -> str:
        """The one token the request carries (:func:`~mintage.core.bearer.bearer_token`);
        §2.2: a form body counts on a request with a body."""
        header = request.headers.get("authorization")
        form = None
        if request.method != "GET" and request.content_type == FORM and request.body:
            form = parse_form(request.body)
        return bearer_token(
            () if header is None else (header,), request.query, form, allow_query=self._allow_query
        )

    async def verify(self, request: OAuthRequest, required: tuple[str, ...] = ()) -> Token:
        token = await self.lookup(self.extract(request))
        if required:
            granted = token.scope.split()
            if any(s not in granted for s in required):
                raise InsufficientScopeError("the access token lacks the required scope")
        return token

    async def lookup(self, value: str) -> Token:
        """The active access token stored for ``value``, or :class:`InvalidTokenError`.

        Also what :class:`mintage.resource.EngineVerifier` asks, for an API in the same
        process as the engine.
        """
        # A JWT access token is checked against its stored record (see find_token): that
        # record carries revocation, which the signature alone cannot tell.
        if not (well_formed(value, ACCESS_TOKEN_PREFIX) or looks_like_jws(value)):
            raise InvalidTokenError("the access token is malformed")
        token = await self._tokens.get_token(token_digest(value))
        if (
            token is None
            or token.kind is not TokenKind.ACCESS
            or not token.is_active(self._clock())
        ):
            raise InvalidTokenError("the access token is invalid, expired or revoked")
        return token


class ResourceEndpoint:
    """The origin's protected resource: says who the token speaks for."""

    def __init__(self, verifier: BearerVerifier, required: tuple[str, ...]) -> None:
        self._verifier = verifier
        self.required = required

    async def __call__(self, request: OAuthRequest) -> OAuthResponse:
        token = await self._verifier.verify(request, self.required)
        return json_response(
            {
                "client_id": token.client_id,
                "sub": token.subject,
                "scope": token.scope,
                "exp": token.expires_at,
            },
            headers=_NO_CACHE,
        )
