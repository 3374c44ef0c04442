"""Client credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..scope import granted_scope
from . import GrantRequest


class ClientCredentialsGrant:
    """§4.4.2: only confidential clients; §4.4.3: no refresh token."""

    grant_type: ClassVar[str] = "client_credentials"
    allows_public: ClassVar[bool] = False

    parameters: ClassVar[tuple[str, ...]] = ("scope",)

    async def handle(self, request: GrantRequest) -> dict[str, Any]:
        client, params, ctx = request.client, request.params, request.ctx
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
