"""Token endpoint (RFC 6749 §3.2, §5)."""

from __future__ import annotations

from collections.abc import Iterable

from ..audit import Origin
from ..client_auth import ClientAuthenticator
from ..errors import (
    InvalidClientError,
    InvalidRequestError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from ..grants import Grant, GrantContext, GrantRequest
from ..http import OAuthRequest, OAuthResponse, json_response
from ..observe import NO_OBSERVER, EngineObserver
from ..params import body_params


class TokenEndpoint:
    """Dispatches to the grant registered for ``grant_type``.

    RFC 6749 §3.2: POST only.  §5.2: ``unsupported_grant_type`` for unknown grants,
    ``unauthorized_client`` when the client may not use a known one.
    """

    def __init__(
        self,
        grants: Iterable[Grant],
        authenticator: ClientAuthenticator,
        ctx: GrantContext,
        observer: EngineObserver = NO_OBSERVER,
    ) -> None:
        self.grants: dict[str, Grant] = {g.grant_type: g for g in grants}
        self._authenticator = authenticator
        self._ctx = ctx
        self._observer = observer

    async def __call__(self, request: OAuthRequest) -> OAuthResponse:
        await self._authenticator.admit(request)
        params = body_params(request)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise InvalidRequestError("missing parameter grant_type")
        authenticated = await self._authenticator.authenticate(request, params)
        grant = self.grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantTypeError(f"grant_type {grant_type} is not supported")
        # Before the client's grant list: a public client asking for a grant reserved to
        # confidential clients (§4.4 client_credentials) failed authentication, whatever
        # its registration says.
        if authenticated.method == "none" and not grant.allows_public:
            raise InvalidClientError(f"grant_type {grant_type} requires client authentication")
        if grant_type not in authenticated.client.grant_types:
            raise UnauthorizedClientError(f"this client may not use grant_type {grant_type}")
        ctx = self._ctx.from_origin(Origin(request.client_ip, request.request_id))
        # Only the parameters the grant reads: a grant (an application's own too) never
        # sees the client's credentials (``client_secret``), so it cannot leak them.
        declared = {name: params[name] for name in grant.parameters if name in params}
        body = await grant.handle(GrantRequest(authenticated, declared, ctx))
        self._observer.token_issued(grant_type, authenticated.client.client_id)
        return json_response(body)
