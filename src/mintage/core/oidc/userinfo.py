"""The UserInfo endpoint (OpenID Connect Core §5.3)."""

from __future__ import annotations

from ..endpoints.resource import BearerVerifier
from ..errors import InvalidTokenError
from ..http import OAuthRequest, OAuthResponse, json_response
from ..users import UserSource
from .claims import released_claims

_NO_STORE = (("content-type", "application/json"), ("cache-control", "no-store"))


class UserinfoEndpoint:
    """§5.3.1: GET or POST with a Bearer access token carrying the ``openid`` scope.

    §5.3.3: errors are RFC 6750 §3's: no token → 401 challenge, a token without
    ``openid`` → 403 ``insufficient_scope``, a token that speaks for no user (a
    ``client_credentials`` token) → 401 ``invalid_token``.
    """

    required = ("openid",)

    def __init__(self, verifier: BearerVerifier, users: UserSource) -> None:
        self._verifier = verifier
        self._users = users

    async def __call__(self, request: OAuthRequest) -> OAuthResponse:
        token = await self._verifier.verify(request, self.required)
        user = await self._users.get_user(token.subject) if token.subject else None
        if user is None:
            raise InvalidTokenError("the access token does not speak for a user")
        claims = released_claims(user, await self._users.claims(user), token.scope.split())
        return json_response(claims, headers=_NO_STORE)
