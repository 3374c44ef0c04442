"""Token introspection (RFC 7662)."""

from __future__ import annotations

from typing import Any

from ..audience import Audiences
from ..client_auth import ClientAuthenticator
from ..clock import Clock
from ..errors import InvalidClientError
from ..http import OAuthRequest, OAuthResponse, json_response
from ..models import Client, Token, TokenKind
from ..params import body_params, require
from ..storage import TokenStore
from . import find_token

_INACTIVE = json_response({"active": False})


def _entitled(caller: Client, token: Token, audiences: Audiences) -> bool:
    """§4: "the authorization server MUST determine whether or not the protected resource
    is allowed to know the status of the token".  A client may learn about its own
    tokens; a resource server (a client with ``resources``) about the access tokens
    meant for it.  A refresh token is meant for no resource server: only its own client
    learns about it, so a resource server never takes one for a bearer token.
    """
    if token.client_id == caller.client_id:
        return True
    return token.kind is TokenKind.ACCESS and audiences.serves(caller, token)


class IntrospectionEndpoint:
    """§2.1: callers must authenticate; public clients may not introspect.

    §2.2: a token the caller is not entitled to know about (:func:`_entitled`) is
    inactive to it, as is one that is unknown, expired, revoked or rotated: the answer
    is ``{"active": false}`` and nothing else, so no detail leaks.
    """

    def __init__(
        self,
        tokens: TokenStore,
        authenticator: ClientAuthenticator,
        clock: Clock,
        issuer: str,
        audiences: Audiences,
    ) -> None:
        self._tokens = tokens
        self._authenticator = authenticator
        self._clock = clock
        self._issuer = issuer
        self._audiences = audiences

    async def __call__(self, request: OAuthRequest) -> OAuthResponse:
        await self._authenticator.admit(request)
        params = body_params(request)
        caller = await self._authenticator.authenticate(request, params)
        if caller.method == "none":
            raise InvalidClientError("introspection requires client authentication")
        value = require(params, "token")
        token = await find_token(self._tokens, value)
        now = self._clock()
        if (
            token is None
            or not token.is_active(now)
            or token.consumed_at is not None
            or not _entitled(caller.client, token, self._audiences)
        ):
            return _INACTIVE
        return json_response(self.describe(token))

    def describe(self, token: Token) -> dict[str, Any]:
        """§2.2: the answer for an active token the caller is entitled to know about.

        Also what :class:`mintage.resource.EngineVerifier` reads, so an API in the same
        process sees a token exactly as introspection would describe it.
        """
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
            body["token_type"] = "Bearer"
            body["aud"] = self._audiences.of(token)
        else:
            # §2.2 names token_type after RFC 6749 §7.1's access token types; a refresh
            # token is marked all the same, so that its client, the one caller that may
            # see it, cannot take it for an access token.
            body["token_type"] = "refresh_token"
        return body
