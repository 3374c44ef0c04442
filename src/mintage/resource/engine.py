"""Verification by the authorization server in the same process: no HTTP at all.

An API that embeds Mintage (``mintage.create_app()`` mounted in the same Starlette or
FastAPI app, README "Embedding") has the engine at hand, so it need not discover the
issuer's URLs, hold introspection credentials or make a request per token::

    auth = mintage.create_app(settings)
    verifier = verifier_for_app(auth)
    app = BearerAuthMiddleware(host_app, verifier, prefixes=["/api"])

The check is the one Mintage's own ``/resource`` makes (RFC 6750: the stored record of
the token, opaque or JWT, active and not revoked), and the token is described as RFC 7662
introspection would describe it to a resource server.  Revocation is seen at once, and
where Mintage is mounted (``/auth``) does not matter: no URL is involved.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mintage.core.errors import StorageUnavailableError

from .errors import InvalidTokenError, TemporarilyUnavailableError
from .token import AccessToken, access_token_from_claims
from .verifier import check_syntax

if TYPE_CHECKING:
    from mintage.core.server import AuthorizationServer

# The kit's logger (as in _http.py, which this module does not import: no httpx here).
log = logging.getLogger("mintage.resource")


class EngineVerifier:
    """Checks tokens with an :class:`~mintage.core.server.AuthorizationServer` in this
    process (the engine of ``mintage.create_app()``; :func:`verifier_for_app` finds it).

    ``audience`` is this API's identifier (RFC 9068 §3 ``aud``), by default the engine's
    own default audience, ``{issuer}/resource``: a token meant for another audience is
    ``invalid_token``.  A store that cannot be reached is 503
    ``temporarily_unavailable``, never a verdict on the token.
    """

    def __init__(self, server: AuthorizationServer, *, audience: str | None = None) -> None:
        self._server = server
        self.issuer = server.config.issuer
        self.audience = audience if audience is not None else server.audiences.default

    async def verify(self, token: str) -> AccessToken:
        """The verified token, or :class:`InvalidTokenError` (401) / 503."""
        check_syntax(token)
        try:
            record = await self._server.bearer.lookup(token)
        except StorageUnavailableError:
            log.warning("engine: the authorization server's store is unavailable")
            raise TemporarilyUnavailableError(
                "the authorization server is unavailable; retry later"
            ) from None
        verified = access_token_from_claims(self._server.introspection.describe(record), "engine")
        if self.audience not in verified.audience:
            raise InvalidTokenError("the access token is meant for another audience")
        return verified

    async def aclose(self) -> None:
        """Nothing to release: the app that owns the engine closes its store."""


def verifier_for_app(app: object, *, audience: str | None = None) -> EngineVerifier:
    """An :class:`EngineVerifier` for the app ``mintage.create_app()`` returned.

    The app need not be started yet: the engine is found now, its store is used only
    once a token arrives (after the host app's lifespan has opened it).
    """
    mintage_state = getattr(getattr(app, "state", None), "mintage", None)
    server = getattr(mintage_state, "server", None)
    if server is None:
        raise TypeError(f"{app!r} is not an app built by mintage.create_app()")
    return EngineVerifier(server, audience=audience)
