"""Minting, storing and describing tokens (RFC 6749 §5.1).

Every grant ends here, so the response shape and the storage of digests live in one
place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .audit import AuditEventType, Auditor, Origin
from .clock import Clock
from .credentials import ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, mint, new_id, token_digest
from .jwt_tokens import JWTSigner, SignIn
from .models import Client, Token, TokenKind
from .scope import format_scope
from .storage import TokenStore


@dataclass(frozen=True, slots=True)
class Lifetimes:
    access: int
    refresh: int

    def for_client(self, client: Client) -> Lifetimes:
        return Lifetimes(
            client.access_token_lifetime or self.access,
            client.refresh_token_lifetime or self.refresh,
        )


#: access token formats a client may be registered with (``--access-token-format``)
ACCESS_TOKEN_FORMATS = ("opaque", "jwt")


class TokenIssuer:
    """``jwt`` signs RFC 9068 access tokens for clients whose format (or the server
    default, ``default_format``) is ``jwt``, and ID tokens; without it, every access
    token is opaque and no ID token is issued."""

    def __init__(
        self,
        tokens: TokenStore,
        lifetimes: Lifetimes,
        clock: Clock,
        *,
        jwt: JWTSigner | None = None,
        default_format: str = "opaque",
        audit: Auditor,
    ) -> None:
        self._tokens = tokens
        self._lifetimes = lifetimes
        self._clock = clock
        self._jwt = jwt
        self._default_format = default_format
        self._audit = audit

    async def issue(
        self,
        client: Client,
        scopes: tuple[str, ...],
        *,
        subject: str | None,
        refresh: bool,
        refresh_scopes: tuple[str, ...] | None = None,
        family_id: str | None = None,
        sign_in: SignIn | None = None,
        audit_as: str | None = None,
        origin: Origin | None = None,
    ) -> dict[str, Any]:
        """Store and describe a new access token, and a refresh token when asked.

        ``scopes`` are the access token's; the refresh token carries ``refresh_scopes``
        when given (RFC 6749 §6: a refresh that narrows the scope narrows the new access
        token only, and the new refresh token keeps the grant's scope).
        ``family_id`` continues a refresh-token family on rotation; a new grant starts
        a new family.  ``sign_in`` says how the user authenticated: with the ``openid``
        scope it adds an ID token (OpenID Connect Core §3.1.3.3, §12.2), and its
        ``auth_time`` is kept on the tokens for the ID tokens of later refreshes.
        ``audit_as`` (a grant type) records ``token.issued`` side by side with the token
        saves when ``audit_token_issued`` is on: a grant that must first spend something
        (a code, a refresh token) records its event itself, once that has succeeded.
        """
        now = self._clock()
        lifetimes = self._lifetimes.for_client(client)
        family = family_id or new_id()
        scope = format_scope(scopes)
        jwt = self._jwt
        if jwt is not None and (client.access_token_format or self._default_format) == "jwt":
            access = await jwt.access_token(
                client_id=client.client_id,
                subject=subject or client.client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + lifetimes.access,
                sign_in=sign_in,
            )
        else:
            access = mint(ACCESS_TOKEN_PREFIX)
        auth_time = sign_in.auth_time if sign_in is not None else None
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetimes.access,
            "scope": scope,
        }

        def record(value: str, kind: TokenKind, lifetime: int, scope: str = scope) -> Token:
            return Token(
                digest=token_digest(value),
                kind=kind,
                client_id=client.client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + lifetime,
                family_id=family,
                subject=subject,
                auth_time=auth_time,
            )

        records = [record(access, TokenKind.ACCESS, lifetimes.access)]
        if refresh:
            refresh_token = mint(REFRESH_TOKEN_PREFIX)
            granted = scope if refresh_scopes is None else format_scope(refresh_scopes)
            records.append(record(refresh_token, TokenKind.REFRESH, lifetimes.refresh, granted))
            response["refresh_token"] = refresh_token
        if jwt is not None and sign_in is not None and subject and "openid" in scopes:
            response["id_token"] = await jwt.id_token(
                client_id=client.client_id,
                subject=subject,
                issued_at=now,
                sign_in=sign_in,
                access_token=access,
            )
        if audit_as is not None and self._audit.token_issued:
            event = self._audit.event(
                AuditEventType.TOKEN_ISSUED,
                origin,
                client_id=client.client_id,
                subject=subject,
                grant_type=audit_as,
                scope=scope,
                family_id=family,
                refresh_token=refresh,
            )
            # All or none: no token is handed out unrecorded (see core/audit.py).
            audited = self._audit.audited
            if audited is not None:
                await audited.save_tokens_audited(records, event)
            else:
                writes = [self._tokens.save_token(r) for r in records]
                await asyncio.gather(*writes, self._audit.store.record_audit_event(event))
        elif len(records) == 1:
            await self._tokens.save_token(records[0])  # no task to schedule: the hot path
        else:
            # Saved side by side: a batching store (SQLite's group commit) commits both
            # in one transaction.  Should one write fail, the response is an error and
            # the other token, never sent, is unknown to anyone.
            await asyncio.gather(*(self._tokens.save_token(r) for r in records))
        return response
