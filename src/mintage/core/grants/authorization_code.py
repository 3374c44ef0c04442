"""Authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5–4.6).

The code is looked up, judged, and only then consumed, in one atomic store call
(``consume_code``): of concurrent redemptions exactly one wins.  A code presented again
after it was redeemed was copied; RFC 6749 §4.1.2 has the server deny the request and
revoke the tokens issued from it, which is the code's token family.

Only a replay that would otherwise have been a valid redemption revokes: by the client
the code was issued to (authenticated), with the ``redirect_uri`` and the PKCE verifier
bound to it.  Anyone who merely saw the code (in a log, a referrer, a browser history)
gets ``invalid_grant`` and cannot make the server revoke the user's tokens (RFC 9700
§4.5: the verifier is what proves a redemption comes from the party that asked).

The first replay that revokes something is recorded (``code.replay_detected``); later
replays of the same code find the family already revoked, are refused all the same and
write nothing, so replaying a code cannot flood the audit table.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..audit import AuditEventType
from ..credentials import AUTHORIZATION_CODE_PREFIX, token_digest, well_formed
from ..errors import InvalidGrantError
from ..jwt_tokens import SignIn
from ..models import AuthorizationCode, Client
from ..params import require
from ..pkce import verify
from ..scope import parse_scope
from . import GrantContext, GrantRequest

_INVALID = "the authorization code is invalid, expired or already used"


def _check_redirect_uri(code: AuthorizationCode, client: Client, given: str | None) -> None:
    """RFC 6749 §4.1.3: required and identical when the authorization request had it."""
    if code.redirect_uri:
        if given != code.redirect_uri:
            raise InvalidGrantError("redirect_uri does not match the authorization request")
    elif given is not None and client.redirect_uris != (given,):
        # The request omitted it, so the client's only registered URI was used; a
        # token request may still name that one, and only that one.
        raise InvalidGrantError("redirect_uri does not match the authorization request")


def _offers_refresh(client: Client, scopes: tuple[str, ...]) -> bool:
    """Does the code's answer include a refresh token?

    Plain OAuth: whenever the client has the ``refresh_token`` grant.  OpenID Connect
    Core §11: a refresh token is offline access, so a sign-in (``openid``) gets one only
    when ``offline_access`` was granted too, which the client must be registered with
    (``scopes`` holds only what the client may have).
    """
    if "refresh_token" not in client.grant_types:
        return False
    return "openid" not in scopes or "offline_access" in scopes


class AuthorizationCodeGrant:
    grant_type: ClassVar[str] = "authorization_code"
    #: public clients redeem codes with PKCE instead of a secret (RFC 7636 §1)
    allows_public: ClassVar[bool] = True

    parameters: ClassVar[tuple[str, ...]] = ("code", "redirect_uri", "code_verifier")

    async def handle(self, request: GrantRequest) -> dict[str, Any]:
        client, params, ctx = request.client, request.params, request.ctx
        codes = ctx.codes
        presented = require(params, "code")
        if not well_formed(presented, AUTHORIZATION_CODE_PREFIX):
            raise InvalidGrantError(_INVALID)
        digest = token_digest(presented)
        now = ctx.clock()
        code = await codes.get_code(digest)
        # §4.1.3: the code must have been issued to this client.  A foreign client
        # learns nothing and the code is left untouched.
        if code is None or code.client_id != client.client.client_id:
            raise InvalidGrantError(_INVALID)
        # The request is judged as a redemption before a replay is: only a replay that
        # would otherwise have been valid revokes the code's tokens (§4.1.2).  A replay
        # by whoever merely saw the code fails here and leaves them alone.
        _check_redirect_uri(code, client.client, params.get("redirect_uri"))
        verify(params.get("code_verifier"), code.code_challenge, code.code_challenge_method)
        if code.consumed_at is not None:
            await _revoke_on_replay(code, ctx, now, concurrent=False)
            raise InvalidGrantError(_INVALID)
        if code.expires_at <= now:
            raise InvalidGrantError(_INVALID)
        # A scope since withdrawn from the client is not granted (as on refresh).
        scopes = tuple(s for s in parse_scope(code.scope or None) if s in client.client.scopes)
        refresh = _offers_refresh(client.client, scopes)
        # Tokens are stored before the code is consumed, as in the refresh grant: if
        # the store fails in between, the code is still unspent and a retry works.
        response = await ctx.issuer.issue(
            client.client,
            scopes,
            subject=code.subject,
            refresh=refresh,
            family_id=code.family_id,
            sign_in=SignIn(auth_time=code.auth_time, nonce=code.nonce),
        )
        won = await codes.consume_code(digest, now)
        if won is None:
            latest = await codes.get_code(digest)
            if latest is not None and latest.consumed_at is not None:
                # A concurrent redemption won: this one is a second use.
                await _revoke_on_replay(code, ctx, now, concurrent=True)
            else:
                for name in ("access_token", "refresh_token"):
                    if name in response:
                        await ctx.tokens.revoke_token(token_digest(response[name]), now)
            raise InvalidGrantError(_INVALID)
        # Recorded once the code is spent, not beside the token saves: a request that
        # loses the race above has issued nothing (see core/audit.py).
        if ctx.audit.token_issued:
            await ctx.audit.record(
                AuditEventType.TOKEN_ISSUED,
                ctx.origin,
                client_id=code.client_id,
                subject=code.subject,
                grant_type=self.grant_type,
                scope=response["scope"],
                family_id=code.family_id,
                refresh_token=refresh,
            )
        return response


async def _revoke_on_replay(
    code: AuthorizationCode, ctx: GrantContext, now: int, *, concurrent: bool
) -> None:
    """RFC 6749 §4.1.2: revoke the tokens issued from a replayed code, and say so once.

    ``revoke_family`` is one conditional write (``… WHERE revoked_at IS NULL``) in every
    store, so of any number of replays, across workers and instances, only those that
    found live tokens record an event: the first, and at most one per concurrent
    redemption that raced it (each may have stored its own tokens first).
    """
    revoked = await ctx.tokens.revoke_family(code.family_id, now)
    if not revoked:
        return
    await ctx.audit.record(
        AuditEventType.CODE_REPLAY_DETECTED,
        ctx.origin,
        client_id=code.client_id,
        subject=code.subject,
        family_id=code.family_id,
        revoked=revoked,
        concurrent=concurrent,
    )
