"""Token introspection (RFC 7662)."""

from __future__ import annotations

from typing import Any

from ..client_auth import ClientAuthenticator
from ..clock import Clock
from ..errors import InvalidClientError
from ..http import OAuthRequest, OAuthResponse, json_response
from ..models import TokenKind
from ..params import body_params, require
from ..storage import TokenStore
from . import find_token

_INACTIVE = json_response({"active": False})


class IntrospectionEndpoint:
    """§2.1: callers must authenticate; public clients may not introspect.

    Any authenticated confidential client (typically a resource server) may introspect
    any token.  §2.2: an inactive token yields ``{"active": false}`` and nothing else,
    whatever the reason (unknown, expired, revoked, rotated), so no detail leaks.
    """

    def __init__(
        self, tokens: TokenStore, authenticator: ClientAuthenticator, clock: Clock, issuer: str
    ) -> None:
        self._tokens = tokens
        self._authenticator = authenticator
        self._clock = clock
        self._issuer = issuer

    async def __call__(self, request: OAuthRequest) -> OAuthResponse:
        await self._authenticator.admit(request)
        params = body_params(request)
        caller = await self._authenticator.authenticate(request, params)
        if caller.method == "none":
            raise InvalidClientError("introspection requires client authentication")
        value = require(params, "token")
        token = await find_token(self._tokens, value)
        now = self._clock()
        if token is None or not token.is_active(now) or token.consumed_at is not None:
            return _INACTIVE
        body: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "exp": token.expires_at,
            "iat": token.issued_at,
            "iss": self._issuer,
        }
        if token.subject is not None:
            body["sub"] = token.subject
        if token.kind is TokenKind.ACCESS:
            # RFC 7662 §2.2 token_type is an access token type (RFC 6749 §7.1).
            body["token_type"] = "Bearer"
        return json_response(body)
