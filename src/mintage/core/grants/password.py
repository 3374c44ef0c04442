"""Resource owner password credentials grant (RFC 6749 §4.3).

Omitted by OAuth 2.1 and RFC 9700 §2.4 ("MUST NOT be used"): Mintage serves it only to
clients that have ``password`` listed explicitly, for migrations from legacy systems.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..client_auth import AuthenticatedClient
from ..errors import InvalidGrantError, TooManyRequestsError
from ..login import LoginFailed, LoginLocked, LoginService, LoginThrottled
from ..models import User
from ..params import require
from ..scope import granted_scope
from . import GrantContext, GrantRequest


class PasswordGrant:
    grant_type: ClassVar[str] = "password"
    allows_public: ClassVar[bool] = True

    parameters: ClassVar[tuple[str, ...]] = ("username", "password", "scope")

    async def handle(self, request: GrantRequest) -> dict[str, Any]:
        client, params, ctx = request.client, request.params, request.ctx
        username = require(params, "username")
        password = require(params, "password")
        scopes = granted_scope(params.get("scope"), client.client.scopes)
        user = await _sign_in(ctx.login, username, password, client, ctx)
        # A refresh token only helps a client that may redeem it (RFC 6749 §4.3.3).
        refresh = "refresh_token" in client.client.grant_types
        return await ctx.issuer.issue(
            client.client,
            scopes,
            subject=user.user_id,
            refresh=refresh,
            audit_as=self.grant_type,
            origin=ctx.origin,
        )


async def _sign_in(
    login: LoginService,
    username: str,
    password: str,
    client: AuthenticatedClient,
    ctx: GrantContext,
) -> User:
    """The sign-in page's checks, lock-out included (RFC 6749 §10.10): the token
    endpoint must not be a way around them.  A full password pool raises
    ``TemporarilyUnavailableError`` (503 with ``Retry-After``) through this, as is."""
    try:
        return await login.authenticate(
            username,
            password,
            client_ip=ctx.origin.ip if ctx.origin else None,
            origin=ctx.origin,
            client_id=client.client.client_id,
            audit_detail={"grant_type": PasswordGrant.grant_type},
            record_success=False,
        )
    except LoginThrottled as exc:
        raise TooManyRequestsError(
            "too many sign-in attempts", retry_after=exc.retry_after
        ) from None
    except LoginLocked:
        # The same answer as a wrong password: a distinct one would confirm that the
        # account exists (unknown usernames lock out on the same schedule anyway).
        raise InvalidGrantError("invalid username or password") from None
    except LoginFailed:
        raise InvalidGrantError("invalid username or password") from None
