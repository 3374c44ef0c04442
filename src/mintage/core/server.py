"""The composition root of the engine: registries of grants and endpoints (docs/architecture.md §1).

Grants come from a :class:`~.grants.registry.GrantRegistry`: the built-in ones
(:func:`~.grants.registry.builtin_grants`) plus any an application registers.  The
endpoints served are those of ``core/paths.py`` that the configuration enables.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from .audience import Audiences
from .audit import Auditor
from .authorize_decision import AuthorizationDecider
from .bearer import challenge
from .client_auth import SUPPORTED_METHODS, ClientAuthenticator
from .client_throttle import ClientThrottle
from .clock import Clock, system_clock
from .consent import ConsentService
from .credentials import SecretHasher
from .endpoints.authorize import AuthorizeEndpoint
from .endpoints.introspection import IntrospectionEndpoint
from .endpoints.metadata import MetadataEndpoint, metadata_document
from .endpoints.resource import BearerVerifier, ResourceEndpoint
from .endpoints.revocation import RevocationEndpoint
from .endpoints.token import TokenEndpoint
from .errors import OAuthError, ServerError, StorageUnavailableError, TemporarilyUnavailableError
from .grants import GrantContext
from .grants.refresh_grace import RefreshGrace
from .grants.registry import GrantRegistry, builtin_grants
from .http import OAuthRequest, OAuthResponse, error_response
from .issuer import Lifetimes, TokenIssuer
from .jwt_tokens import JWTSigner
from .keyring import KeyRing
from .login import LoginService
from .login_throttle import LoginThrottle
from .observe import NO_OBSERVER, EngineObserver
from .oidc.discovery import JWKSEndpoint, openid_configuration
from .oidc.logout import EndSessionEndpoint
from .oidc.userinfo import UserinfoEndpoint
from .passwords import PasswordVerifier
from .paths import ENDPOINT_PATHS
from .ratelimit import (
    INTROSPECTION,
    NO_RATE_LIMITS,
    REVOCATION,
    TOKEN,
    RateLimiter,
)
from .sealing import Sealer, derive_key
from .sessions import SessionService
from .storage import (
    Storage,
)
from .stores import NO_KEYS, Absent, Stores, check_stores
from .users import StoreUserSource, UserSource

log = logging.getLogger("mintage")

#: HKDF purpose of the key that seals signing keys (see :mod:`.sealing`)
SIGNING_KEY_SEALING = "mintage signing-key sealing"
#: HKDF purpose of the key of the sign-in failure digests (see :mod:`.login`)
LOGIN_FAILURE_KEYS = "mintage sign-in failure keys"

Handler = Callable[[OAuthRequest], Awaitable[OAuthResponse]]

S = TypeVar("S")


def _given(store: S | None, concern: str) -> S:
    """The store of ``concern``, or a stand-in that fails loudly when called: only a
    feature that is off may lack its store (checked first, by ``check_stores``)."""
    return store if store is not None else cast(S, Absent(concern))


#: key of a :class:`ServerConfig` field's metadata naming the setting it comes from,
#: when not the setting of the same name (``None``: no setting)
SETTING = "setting"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What the engine needs from the settings, resolved once at start-up.

    Each field is filled from the setting of the same name (``mintage.settings``) by
    ``mintage.web.app.server_config``, or from the one its ``setting`` metadata names:
    a new engine setting is a field here and a field there, nothing else.
    """

    issuer: str = field(metadata={SETTING: "issuer_url"})
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 14 * 24 * 3600
    allow_query_access_token: bool = False
    revocation_allow_bare_token: bool = False
    resource_scopes: tuple[str, ...] = ()
    realm: str = field(default="mintage", metadata={SETTING: None})
    #: accept ``code_challenge_method=plain`` (RFC 7636 §4.2); S256 only by default
    allow_plain_pkce: bool = False
    #: lifetime of a signed-in browser session, in seconds
    session_lifetime: int = 8 * 3600
    #: ``opaque`` or ``jwt`` (RFC 9068) for clients registered without a format
    access_token_format: str = "opaque"
    access_token_signing_alg: str = "ES256"
    #: ``aud`` of JWT access tokens; ``None``: ``<issuer>/resource``
    access_token_audience: str | None = None
    id_token_lifetime: int = 3600
    #: seconds a new signing key is published before it signs (RFC 7517 rotation)
    key_publish_lead: int = 600
    #: seconds after a rotation in which a retry gets the same successor pair again
    #: (``core/grants/refresh_grace.py``); 0 is off
    refresh_grace_seconds: int = 0
    #: record ``token.issued`` and ``token.refreshed`` (the hot-path audit events)
    audit_token_issued: bool = False
    #: threads that verify passwords (0: one per CPU, see :mod:`.passwords`), and the
    #: verifications that may wait for one before sign-ins answer 503
    password_verify_threads: int = 0
    password_verify_queue: int = 32
    #: the authorization endpoint with its sign-in and consent pages, hence the
    #: ``authorization_code`` grant; off: a token-only server with no HTML at all
    pages_enabled: bool = True
    #: OpenID Connect Core §5.3 UserInfo
    userinfo_enabled: bool = True
    #: RP-Initiated Logout 1.0 (a page: needs ``pages_enabled``)
    logout_enabled: bool = True
    #: RFC 6749 §4.3 (RFC 9700 §2.4: MUST NOT be used; for migrations only)
    password_grant_enabled: bool = True
    #: the audit events (core/audit.py); off, no audit store is needed
    audit_enabled: bool = True

    @property
    def signing_algs(self) -> tuple[str, ...]:
        """RS256 for ID tokens (OpenID Connect Core §15.1), plus the access-token one."""
        return tuple(dict.fromkeys(("RS256", self.access_token_signing_alg)))

    @property
    def endpoints(self) -> dict[str, str]:
        """The endpoints served, by metadata field (``core/paths.py``)."""
        off: set[str] = set()
        if not self.pages_enabled:
            off.update(("authorization_endpoint", "end_session_endpoint"))
        if not self.logout_enabled:
            off.add("end_session_endpoint")
        if not self.userinfo_enabled:
            off.add("userinfo_endpoint")
        return {name: path for name, path in ENDPOINT_PATHS.items() if name not in off}

    @property
    def longest_token_lifetime(self) -> int:
        """How long a retired key must stay published, at least (see KeyRing)."""
        return max(self.access_token_lifetime, self.id_token_lifetime)


class AuthorizationServer:
    """Builds every endpoint from a config, its stores, a pepper and a clock.

    ``storage`` is one object serving every concern (a bundled store), or
    :class:`~mintage.core.stores.Stores` naming one per concern; the stores the enabled
    features need are checked here (:class:`~mintage.core.errors.StoreConfigurationError`).
    ``observer`` is told what the engine did (tokens issued), for metrics.
    ``users`` is where users sign in from (:mod:`.users`): an application's own user
    source, or by default Mintage's own ``users`` table in the users store.
    ``grants`` are served by the token endpoint; by default the built-in ones that
    ``config`` enables (:meth:`builtin_grants`).
    """

    def __init__(
        self,
        config: ServerConfig,
        storage: Stores | Storage,
        pepper: bytes,
        clock: Clock = system_clock,
        *,
        key_encryption_key: bytes | None = None,
        limiter: RateLimiter = NO_RATE_LIMITS,
        observer: EngineObserver = NO_OBSERVER,
        users: UserSource | None = None,
        grants: GrantRegistry | None = None,
    ) -> None:
        self.config = config
        #: the endpoints served, by metadata field (RFC 8414 §2)
        self.endpoints = config.endpoints
        stores = storage if isinstance(storage, Stores) else Stores.of(storage)
        # An application's own user source stands in for the users store.
        check_stores(stores, config, provided=frozenset({"users"}) if users else frozenset())
        #: the store of each concern, as given
        self.stores = stores
        clients = _given(stores.clients, "clients")
        tokens = _given(stores.tokens, "tokens")
        #: who signs in: an application's own user source, or Mintage's users table
        self.users: UserSource = users or StoreUserSource(_given(stores.users, "users"))
        codes = _given(stores.codes, "codes")
        self.clock = clock
        self.hasher = SecretHasher(pepper)
        #: counts requests for the rate limits (``mintage.ratelimits`` builds one)
        self.limiter = limiter

        def authenticator(endpoint: str) -> ClientAuthenticator:
            return ClientAuthenticator(clients, self.hasher, ClientThrottle(limiter, endpoint))

        # Signing keys are sealed with the key-encryption key, or by default with a key
        # derived from the server secret (never the secret itself: HKDF with a purpose).
        sealer = Sealer(derive_key(key_encryption_key or pepper, SIGNING_KEY_SEALING))
        #: the signing keys (RFC 7517): JWT access tokens and ID tokens
        self.keys = KeyRing(
            stores.keys if stores.keys is not None else NO_KEYS,
            sealer,
            clock,
            algs=config.signing_algs,
            publish_lead=config.key_publish_lead,
        )
        #: who access tokens are meant for (RFC 9068 §3 ``aud``)
        self.audiences = Audiences(config.access_token_audience or f"{config.issuer}/resource")
        self.jwt = JWTSigner(
            self.keys,
            issuer=config.issuer,
            access_token_alg=config.access_token_signing_alg,
            audience=self.audiences.default,
            id_token_lifetime=config.id_token_lifetime,
        )
        #: records audit events (core/audit.py)
        self.audit = Auditor(
            stores.audit if config.audit_enabled else None,
            clock,
            token_issued=config.audit_token_issued,
            tokens=tokens,
        )
        issuer = TokenIssuer(
            tokens,
            Lifetimes(config.access_token_lifetime, config.refresh_token_lifetime),
            clock,
            jwt=self.jwt,
            default_format=config.access_token_format,
            audit=self.audit,
        )
        #: sign-in checks and lock-out, for the login page and the password grant
        self.login = LoginService(
            self.users,
            _given(stores.login_attempts, "login_attempts"),
            clock,
            LoginThrottle(limiter),
            key=derive_key(pepper, LOGIN_FAILURE_KEYS),
            verifier=PasswordVerifier(config.password_verify_threads, config.password_verify_queue),
            audit=self.audit,
        )
        grace = config.refresh_grace_seconds
        ctx = GrantContext(
            issuer=issuer,
            tokens=tokens,
            users=self.users,
            clock=clock,
            codes=codes,
            audit=self.audit,
            refresh_grace=RefreshGrace(pepper, grace) if grace else None,
            login=self.login,
        )
        registry = grants if grants is not None else self.builtin_grants(config)
        self.token = TokenEndpoint(registry, authenticator(TOKEN), ctx, observer)
        #: the authorization endpoint (RFC 6749 §4.1.1)
        self.authorize = AuthorizeEndpoint(
            clients,
            codes,
            clock,
            issuer=config.issuer,
            allow_plain_pkce=config.allow_plain_pkce,
        )
        self.sessions = SessionService(
            _given(stores.sessions, "sessions"), config.session_lifetime, clock
        )
        self.consent = ConsentService(
            _given(stores.consents, "consents"),
            _given(stores.subject_tokens, "subject_tokens"),
            clock,
            self.audit,
        )
        #: what an authorization request needs next: sign-in, consent, a code, an error
        self.decider = AuthorizationDecider(self.authorize, self.consent, clock)
        self.revocation = RevocationEndpoint(
            tokens,
            authenticator(REVOCATION),
            clock,
            self.audit,
            allow_bare_token=config.revocation_allow_bare_token,
        )
        self.introspection = IntrospectionEndpoint(
            tokens, authenticator(INTROSPECTION), clock, config.issuer, self.audiences
        )
        self.bearer = BearerVerifier(tokens, clock, allow_query=config.allow_query_access_token)
        self.resource = ResourceEndpoint(self.bearer, config.resource_scopes)
        #: OpenID Connect Core §5.3
        self.userinfo = UserinfoEndpoint(self.bearer, self.users)
        #: RFC 7517 §5
        self.jwks = JWKSEndpoint(self.keys)
        #: OpenID Connect RP-Initiated Logout 1.0
        self.end_session = EndSessionEndpoint(clients, self.keys, issuer=config.issuer)
        # One document at both well-known URLs: RFC 8414 §2 allows the OpenID Provider
        # fields, and clients that know only one of the two find everything.
        self.metadata = MetadataEndpoint(
            openid_configuration(
                metadata_document(
                    config.issuer,
                    self.endpoints,
                    self.token.grants,
                    SUPPORTED_METHODS,
                    pkce_methods=("S256", "plain") if config.allow_plain_pkce else ("S256",),
                ),
                id_token_algs=("RS256",),
            )
        )

    @staticmethod
    def builtin_grants(config: ServerConfig) -> GrantRegistry:
        """The built-in grants ``config`` enables; register an application's own on it."""
        return builtin_grants(
            authorization_code=config.pages_enabled, password=config.password_grant_enabled
        )

    async def key_publish_window(self) -> int:
        """How long a replaced signing key must stay published: the longest lifetime of
        a token it may have signed (the server's, or a client's own longer one)."""
        clients = await _given(self.stores.clients, "clients").list_clients()
        return max(
            [self.config.longest_token_lifetime, *(c.access_token_lifetime or 0 for c in clients)]
        )

    def close(self) -> None:
        """Release what the engine started: the password threads (a later sign-in
        starts them again)."""
        self.login.verifier.close()

    async def handle(self, endpoint: Handler, request: OAuthRequest) -> OAuthResponse:
        """Run an OAuth endpoint, mapping every failure to an RFC 6749 §5.2 error."""
        try:
            return await endpoint(request)
        except OAuthError as exc:
            return error_response(exc)
        except StorageUnavailableError:
            log.warning(
                "storage unavailable",
                extra={"path": request.path, "request_id": request.request_id},
            )
            return error_response(TemporarilyUnavailableError("storage is unavailable"))
        except Exception:
            log.exception(
                "unexpected error", extra={"path": request.path, "request_id": request.request_id}
            )
            return error_response(ServerError())

    async def handle_resource(self, request: OAuthRequest) -> OAuthResponse:
        """Run the protected resource: :meth:`handle`, with RFC 6750 §3 challenges."""
        return await self.handle(self._resource_with_challenge, request)

    async def handle_userinfo(self, request: OAuthRequest) -> OAuthResponse:
        """Run UserInfo: :meth:`handle`, with RFC 6750 §3 challenges (Core §5.3.3)."""
        return await self.handle(self._userinfo_with_challenge, request)

    async def _resource_with_challenge(self, request: OAuthRequest) -> OAuthResponse:
        return await self._bearer_challenge(self.resource, self.resource.required, request)

    async def _userinfo_with_challenge(self, request: OAuthRequest) -> OAuthResponse:
        return await self._bearer_challenge(self.userinfo, self.userinfo.required, request)

    async def _bearer_challenge(
        self, endpoint: Handler, required: tuple[str, ...], request: OAuthRequest
    ) -> OAuthResponse:
        try:
            return await endpoint(request)
        except OAuthError as exc:
            if exc.status_code not in (400, 401, 403):
                raise
            response = error_response(exc)
            header = challenge(self.config.realm, exc, " ".join(required))
            return OAuthResponse(
                response.status,
                response.body,
                (*response.headers, ("www-authenticate", header)),
                response.error,
            )
