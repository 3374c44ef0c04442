"""Bearer token use at a protected resource (RFC 6750).

``BearerVerifier`` finds the token in a request (§2.1 header, §2.2 form body, §2.3 query
when enabled), checks it, and raises RFC 6750 §3.1 errors that carry their
``WWW-Authenticate`` challenge.  ``ResourceEndpoint`` is the origin's ``GET /resource``.
"""

from __future__ import annotations

from ..clock import Clock
from ..credentials import ACCESS_TOKEN_PREFIX, token_digest, well_formed
from ..errors import InsufficientScopeError, InvalidRequestError, InvalidTokenError, OAuthError
from ..http import OAuthRequest, OAuthResponse, json_response
from ..jose import looks_like_jws
from ..models import Token, TokenKind
from ..params import FORM, parse_form, query_params
from ..storage import TokenStore

_NO_CACHE = (("content-type", "application/json"), ("cache-control", "no-store"))


class BearerChallenge(OAuthError):
    """401 without an error code: the request carried no token at all (§3.1).

    §3.1: "If the request lacks any authentication information ..., the resource server
    SHOULD NOT include an error code or other error information", so neither the
    challenge nor the body names one.
    """

    error = "invalid_request"
    status_code = 401

    def body(self) -> dict[str, str]:
        return {}


def challenge(realm: str, exc: OAuthError | None, scope: str | None = None) -> str:
    """The ``WWW-Authenticate: Bearer`` value for an error (RFC 6750 §3)."""
    parts = [f'realm="{realm}"']
    if exc is not None and not isinstance(exc, BearerChallenge):
        parts.append(f'error="{exc.error}"')
        if exc.description:
            parts.append(f'error_description="{exc.description}"')
        if scope and isinstance(exc, InsufficientScopeError):
            parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


class BearerVerifier:
    def __init__(self, tokens: TokenStore, clock: Clock, *, allow_query: bool) -> None:
        self._tokens = tokens
        self._clock = clock
        self._allow_query = allow_query

    def extract(self, request: OAuthRequest) -> str:
        """The one token the request carries.  §2: "MUST NOT" use more than one method."""
        found: list[str] = []
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise InvalidRequestError("the Authorization header must be: Bearer <token>")
            found.append(value.strip())
        if request.method != "GET" and request.content_type == FORM and request.body:
            form = parse_form(request.body)
            if "access_token" in form:
                found.append(form["access_token"])
        if "access_token" in request.query:
            if not self._allow_query:
                raise InvalidRequestError(
                    "access tokens in the query string are disabled; use the Authorization header"
                )
            found.append(query_params(request.query)["access_token"])
        if not found:
            raise BearerChallenge("no access token was presented")
        if len(found) > 1:
            raise InvalidRequestError("present the access token by one method only")
        return found[0]

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
