"""Grant types of the token endpoint, one module each (RFC 6749 §4, §6)."""

from __future__ import annotations

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


class Grant(Protocol):
    """A grant handler, registered by its ``grant_type``."""

    grant_type: ClassVar[str]
    #: may public clients (``none`` authentication) use it?
    allows_public: ClassVar[bool]
    #: does it need the client to list the grant explicitly? (all do: RFC 6749 §10.1)

    async def exchange(
        self, client: AuthenticatedClient, params: dict[str, str], ctx: GrantContext
    ) -> dict[str, Any]:
        """Validate the request and return the token response body (RFC 6749 §5.1)."""
        ...
