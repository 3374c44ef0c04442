"""Refresh token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..audit import AuditEventType
from ..client_auth import AuthenticatedClient
from ..credentials import REFRESH_TOKEN_PREFIX, token_digest, well_formed
from ..errors import InvalidGrantError
from ..jwt_tokens import SignIn
from ..models import Token, TokenKind
from ..params import require
from ..scope import narrowed_scope, parse_scope
from . import GrantContext, GrantRequest

_INVALID = "the refresh token is invalid, expired or revoked"


class RefreshTokenGrant:
    """Each refresh token works once; its successor continues the same family.

    Presenting a rotated (consumed) token again means it was copied: RFC 9700 §4.14.2
    has the server revoke the whole family, so both the attacker's and the victim's
    tokens stop working and the user must authorise again.
    """

    grant_type: ClassVar[str] = "refresh_token"
    allows_public: ClassVar[bool] = True

    parameters: ClassVar[tuple[str, ...]] = ("refresh_token", "scope")

    async def handle(self, request: GrantRequest) -> dict[str, Any]:
        client, params, ctx = request.client, request.params, request.ctx
        presented = require(params, "refresh_token")
        if not well_formed(presented, REFRESH_TOKEN_PREFIX):
            raise InvalidGrantError(_INVALID)
        digest = token_digest(presented)
        now = ctx.clock()
        token = await ctx.tokens.get_token(digest)
        if token is None or token.kind is not TokenKind.REFRESH:
            raise InvalidGrantError(_INVALID)
        # §6: the token is bound to the client it was issued to.  A foreign client
        # learns nothing, and the token is left untouched.
        if token.client_id != client.client.client_id:
            raise InvalidGrantError(_INVALID)
        # Reuse is detected before anything else about the request is judged: a replay
        # with, say, a wider scope is still a replay and must revoke the family.
        if token.consumed_at is not None:
            retried = await _grace_reply(token, presented, client, params, ctx, now)
            if retried is not None:
                return retried
            await _revoke_on_reuse(token, ctx, now, concurrent=False)
            raise InvalidGrantError(_INVALID)
        if not token.is_active(now):
            raise InvalidGrantError(_INVALID)
        # Check the scope before consuming, so a bad request does not burn the token.
        # A grant of no scope is stored as "", which is no scope, not an empty token.
        # A scope since withdrawn from the client does not survive a refresh.
        original = tuple(s for s in parse_scope(token.scope or None) if s in client.client.scopes)
        # §6: a narrower scope narrows the new access token only.  The new refresh token
        # keeps the grant's scope, so a later refresh without ``scope`` gets it all back.
        scopes = narrowed_scope(params.get("scope"), original)
        # Successors are stored before the parent is consumed: if the store fails
        # between the two writes, the parent is still unspent and the client's retry
        # succeeds, instead of looking like reuse and costing the user the grant
        # (docs/architecture.md §2).  Successors of a request that then loses are never sent out.
        # OpenID Connect Core §12.2: a refresh of an ``openid`` grant returns a new ID
        # token, with the original sign-in's auth_time (and no nonce).
        sign_in = None if token.auth_time is None else SignIn(auth_time=token.auth_time)
        response = await ctx.issuer.issue(
            client.client,
            scopes,
            subject=token.subject,
            refresh=True,
            refresh_scopes=original,
            family_id=token.family_id,
            sign_in=sign_in,
        )
        # The grace window keeps this response, sealed, in the same statement.
        sealed = None
        if ctx.refresh_grace is not None:
            sealed = ctx.refresh_grace.seal(presented, digest, response)
        won, recorded = await _consume(token, digest, now, response["scope"], sealed, ctx)
        if won is None:
            # Lost a race to a concurrent use, or revoked/expired meanwhile.
            latest = await ctx.tokens.get_token(digest)
            retried = None
            if latest is not None and latest.consumed_at is not None:
                # A concurrent second use is reuse too, unless the grace window
                # answers it with the winner's response.
                retried = await _grace_reply(latest, presented, client, params, ctx, now)
                if retried is None:
                    await _revoke_on_reuse(token, ctx, now, concurrent=True)
                    raise InvalidGrantError(_INVALID)
            # This request's own successors are never sent out.
            for value in (response["access_token"], response["refresh_token"]):
                await ctx.tokens.revoke_token(token_digest(value), now)
            if retried is None:
                raise InvalidGrantError(_INVALID)
            return retried
        # The winner answers 200 even if a concurrent reuse has meanwhile revoked the
        # family (its successors included): exactly one redemption succeeds, and the
        # reuse rule still leaves no live token behind.  Recorded only now that the
        # rotation has happened (see core/audit.py), unless the store did it with the
        # consume.
        if ctx.audit.token_issued and not recorded:
            await ctx.audit.record(
                AuditEventType.TOKEN_REFRESHED,
                ctx.origin,
                client_id=token.client_id,
                subject=token.subject,
                scope=response["scope"],
                family_id=token.family_id,
            )
        return response


async def _consume(
    token: Token, digest: str, now: int, scope: str, sealed: str | None, ctx: GrantContext
) -> tuple[Token | None, bool]:
    """Spend the presented token (keeping ``sealed``, the grace window's copy of the
    response); with a store that can, record ``token.refreshed`` in the same write,
    only if this call won.  Returns the token and whether the event was recorded."""
    audited = ctx.audit.audited
    if not ctx.audit.token_issued or audited is None:
        if sealed is None:
            return await ctx.tokens.consume_token(digest, now), False
        return await ctx.tokens.consume_token(digest, now, sealed), False
    event = ctx.audit.event(
        AuditEventType.TOKEN_REFRESHED,
        ctx.origin,
        client_id=token.client_id,
        subject=token.subject,
        scope=scope,
        family_id=token.family_id,
    )
    return await audited.consume_token_audited(digest, now, event, sealed), True


async def _revoke_on_reuse(token: Token, ctx: GrantContext, now: int, *, concurrent: bool) -> None:
    """RFC 9700 §4.14.2: revoke the family of a reused refresh token, and say so once.

    Only a reuse that revoked something is recorded (see the code grant's
    ``_revoke_on_replay``): replaying a rotated token again and again is refused every
    time, but writes one event, not one per replay.
    """
    revoked = await ctx.tokens.revoke_family(token.family_id, now)
    if not revoked:
        return
    await ctx.audit.record(
        AuditEventType.REFRESH_REUSE_DETECTED,
        ctx.origin,
        client_id=token.client_id,
        subject=token.subject,
        family_id=token.family_id,
        revoked=revoked,
        concurrent=concurrent,
    )


async def _grace_reply(
    token: Token,
    presented: str,
    client: AuthenticatedClient,
    params: Mapping[str, str],
    ctx: GrantContext,
    now: int,
) -> dict[str, Any] | None:
    """The rotation's response again when the grace window is on and this is a retry
    of it (see :mod:`.refresh_grace`); ``None`` means reuse."""
    if ctx.refresh_grace is None:
        return None
    replayed = await ctx.refresh_grace.replay(
        token, presented, client.client, params.get("scope"), ctx.tokens, now
    )
    if replayed is not None:
        # Not reuse, but a second use all the same: if it was not the client's own
        # retry, the other holder now has the same pair.
        await ctx.audit.record(
            AuditEventType.REFRESH_GRACE_REPLAYED,
            ctx.origin,
            client_id=token.client_id,
            subject=token.subject,
            family_id=token.family_id,
        )
    return replayed
