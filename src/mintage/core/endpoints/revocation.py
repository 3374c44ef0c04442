"""Token revocation (RFC 7009)."""

from __future__ import annotations

from ..audit import AuditEventType, Auditor, Origin
from ..client_auth import ClientAuthenticator
from ..clock import Clock
from ..http import OAuthRequest, OAuthResponse
from ..models import TokenKind
from ..params import body_params, require
from ..storage import TokenStore
from . import find_token

_OK = OAuthResponse(200, b"", (("cache-control", "no-store"),))


class RevocationEndpoint:
    """§2.1: confidential clients authenticate; the token must be theirs.

    ``token_type_hint`` only speeds a lookup elsewhere: our token prefixes already say
    the type, and the hint is never trusted (§2.1: the server "MUST" search further).
    §2.2: unknown, invalid or foreign tokens answer 200 and change nothing, so a client
    cannot probe which tokens exist.  Revoking a refresh token revokes its whole family,
    access tokens included (§2.1 "SHOULD also invalidate all access tokens based on the
    same authorization grant").

    With ``allow_bare_token`` (the origin's behaviour), a request carrying no client
    identification at all revokes the token it names: possession proves the right to
    give it up, but anyone who finds a token can then also revoke it.
    """

    def __init__(
        self,
        tokens: TokenStore,
        authenticator: ClientAuthenticator,
        clock: Clock,
        audit: Auditor,
        *,
        allow_bare_token: bool,
    ) -> None:
        self._tokens = tokens
        self._authenticator = authenticator
        self._clock = clock
        self._audit = audit
        self._allow_bare = allow_bare_token

    async def __call__(self, request: OAuthRequest) -> OAuthResponse:
        await self._authenticator.admit(request)
        params = body_params(request)
        value = require(params, "token")
        client_id: str | None = None
        if not (self._allow_bare and not self._authenticator.presented(request, params)):
            client_id = (await self._authenticator.authenticate(request, params)).client.client_id
        token = await find_token(self._tokens, value)
        if token is None or (client_id is not None and token.client_id != client_id):
            return _OK
        now = self._clock()
        if token.kind is TokenKind.REFRESH:
            revoked = await self._tokens.revoke_family(token.family_id, now)
        else:
            revoked = int(await self._tokens.revoke_token(token.digest, now))
        if revoked:  # a token revoked before changes nothing and is not an event
            await self._audit.record(
                AuditEventType.TOKEN_REVOKED,
                Origin.of(request),
                client_id=token.client_id,
                subject=token.subject,
                token_type=token.kind.value,
                family_id=token.family_id,
                revoked=revoked,
                authenticated=client_id is not None,
            )
        return _OK
