"""Grant types of the token endpoint, one module each (RFC 6749 §4, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ..audit import Auditor, Origin
from ..client_auth import AuthenticatedClient
from ..clock import Clock
from ..issuer import TokenIssuer
from ..login import LoginService
from ..storage import AuthorizationCodeStore, TokenStore
from ..users import UserSource
from .refresh_grace import RefreshGrace


@dataclass(frozen=True, slots=True)
class GrantContext:
    """What grants may use: the issuer, the stores and the auditor, nothing more.

    The token endpoint hands each request a copy with its ``origin`` (for audit events).
    """

    issuer: TokenIssuer
    tokens: TokenStore
    users: UserSource
    clock: Clock
    codes: AuthorizationCodeStore
    audit: Auditor
    #: the sign-in service (lock-out, sign-in rate limits) for the password grant
    login: LoginService
    #: the refresh grace window, when on (``refresh_grace_seconds``)
    refresh_grace: RefreshGrace | None = None
    origin: Origin | None = None

    def from_origin(self, origin: Origin) -> GrantContext:
        """This context for one request."""
        return GrantContext(
            self.issuer,
            self.tokens,
            self.users,
            self.clock,
            self.codes,
            self.audit,
            self.login,
            self.refresh_grace,
            origin,
        )


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """One access token request (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6, §4.5) as a grant
    sees it: the authenticated client, the request's parameters that the grant declared
    (:attr:`Grant.parameters`; never the client's credentials), and the context."""

    client: AuthenticatedClient
    params: Mapping[str, str]
    ctx: GrantContext


class Grant(Protocol):
    """A grant handler, registered by its ``grant_type`` (RFC 6749 §4; an extension
    grant's is an absolute URI, §4.5).

    A client uses a grant only when it is registered with it (RFC 6749 §10.1), so a new
    grant is usable by no client until one lists it.
    """

    grant_type: ClassVar[str]
    #: may public clients (``none`` authentication) use it?
    allows_public: ClassVar[bool]
    #: the token request parameters it reads; only these reach :meth:`handle`
    parameters: ClassVar[tuple[str, ...]]

    async def handle(self, request: GrantRequest) -> dict[str, Any]:
        """Validate the request and return the token response body (RFC 6749 §5.1),
        or raise an :class:`~mintage.core.errors.OAuthError` (§5.2)."""
        ...
