"""The composition root of the engine: registries of grants and endpoints (DESIGN §1).

A new grant is a module in ``core/grants`` plus one line in :data:`GRANTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .client_auth import SUPPORTED_METHODS, ClientAuthenticator, ClientAuthError
from .clock import Clock, system_clock
from .consent import ConsentService
from .credentials import SecretHasher
from .endpoints.authorize import AuthorizeEndpoint
from .endpoints.introspection import IntrospectionEndpoint
from .endpoints.metadata import MetadataEndpoint, metadata_document
from .endpoints.resource import BearerVerifier, ResourceEndpoint, challenge
from .endpoints.revocation import RevocationEndpoint
from .endpoints.token import TokenEndpoint
from .errors import OAuthError, ServerError, StorageUnavailableError, TemporarilyUnavailableError
from .grants import Grant, GrantContext
from .grants.authorization_code import AuthorizationCodeGrant
from .grants.client_credentials import ClientCredentialsGrant
from .grants.password import PasswordGrant
from .grants.refresh_token import RefreshTokenGrant
from .http import OAuthRequest, OAuthResponse, error_response
from .issuer import Lifetimes, TokenIssuer
from .login import LoginService
from .sessions import SessionService
from .storage import Storage

log = logging.getLogger("mintage")

GRANTS: tuple[type[Grant], ...] = (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    PasswordGrant,
)

Handler = Callable[[OAuthRequest], Awaitable[OAuthResponse]]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What the engine needs from the settings, resolved once at start-up."""

    issuer: str
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 14 * 24 * 3600
    allow_query_access_token: bool = False
    revocation_allow_bare_token: bool = False
    resource_scopes: tuple[str, ...] = ()
    realm: str = "mintage"
    #: accept ``code_challenge_method=plain`` (RFC 7636 §4.2); S256 only by default
    allow_plain_pkce: bool = False
    #: lifetime of a signed-in browser session, in seconds
    session_lifetime: int = 8 * 3600


class AuthorizationServer:
    """Builds every endpoint from a config, a store, a pepper and a clock."""

    def __init__(
        self,
        config: ServerConfig,
        storage: Storage,
        pepper: bytes,
        clock: Clock = system_clock,
    ) -> None:
        self.config = config
        self.storage = storage
        self.clock = clock
        self.hasher = SecretHasher(pepper)
        authenticator = ClientAuthenticator(storage, self.hasher)
        issuer = TokenIssuer(
            storage, Lifetimes(config.access_token_lifetime, config.refresh_token_lifetime), clock
        )
        ctx = GrantContext(issuer=issuer, tokens=storage, users=storage, clock=clock, codes=storage)
        self.token = TokenEndpoint([g() for g in GRANTS], authenticator, ctx)
        #: the authorization endpoint (RFC 6749 §4.1.1)
        self.authorize = AuthorizeEndpoint(
            storage,
            storage,
            clock,
            issuer=config.issuer,
            allow_plain_pkce=config.allow_plain_pkce,
        )
        self.login = LoginService(storage, storage, clock)
        self.sessions = SessionService(storage, config.session_lifetime, clock)
        self.consent = ConsentService(storage, storage, clock)
        self.revocation = RevocationEndpoint(
            storage, authenticator, clock, allow_bare_token=config.revocation_allow_bare_token
        )
        self.introspection = IntrospectionEndpoint(storage, authenticator, clock, config.issuer)
        self.bearer = BearerVerifier(storage, clock, allow_query=config.allow_query_access_token)
        self.resource = ResourceEndpoint(self.bearer, config.resource_scopes)
        self.metadata = MetadataEndpoint(
            metadata_document(
                config.issuer,
                self.token.grants,
                SUPPORTED_METHODS,
                pkce_methods=("S256", "plain") if config.allow_plain_pkce else ("S256",),
            )
        )

    async def handle(self, endpoint: Handler, request: OAuthRequest) -> OAuthResponse:
        """Run an OAuth endpoint, mapping every failure to an RFC 6749 §5.2 error."""
        try:
            return await endpoint(request)
        except ClientAuthError as exc:
            return error_response(exc, basic_challenge=exc.basic)
        except OAuthError as exc:
            return error_response(exc)
        except StorageUnavailableError:
            log.warning("storage unavailable", extra={"path": request.path})
            return error_response(TemporarilyUnavailableError("storage is unavailable"))
        except Exception:
            log.exception("unexpected error", extra={"path": request.path})
            return error_response(ServerError())

    async def handle_resource(self, request: OAuthRequest) -> OAuthResponse:
        """Run the protected resource: :meth:`handle`, with RFC 6750 §3 challenges."""
        return await self.handle(self._resource_with_challenge, request)

    async def _resource_with_challenge(self, request: OAuthRequest) -> OAuthResponse:
        try:
            return await self.resource(request)
        except OAuthError as exc:
            if exc.status_code not in (400, 401, 403):
                raise
            response = error_response(exc)
            header = challenge(self.config.realm, exc, " ".join(self.resource.required))
            return OAuthResponse(
                response.status, response.body, (*response.headers, ("www-authenticate", header))
            )
