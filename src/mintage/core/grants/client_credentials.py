"""Client credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..client_auth import AuthenticatedClient
from ..scope import granted_scope
from . import GrantContext


class ClientCredentialsGrant:
    """§4.4.2: only confidential clients; §4.4.3: no refresh token."""

    grant_type: ClassVar[str] = "client_credentials"
    allows_public: ClassVar[bool] = False

    async def exchange(
        self, client: AuthenticatedClient, params: dict[str, str], ctx: GrantContext
    ) -> dict[str, Any]:
        scopes = granted_scope(params.get("scope"), client.client.scopes)
        # RFC 9068 §2.2: with no resource owner, the subject is the client itself.
        return await ctx.issuer.issue(
            client.client,
            scopes,
            subject=client.client.client_id,
            refresh=False,
            audit_as=self.grant_type,
            origin=ctx.origin,
        )
