"""Minting, storing and describing tokens (RFC 6749 §5.1).

Every grant ends here, so the response shape and the storage of digests live in one
place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .credentials import ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, mint, new_id, token_digest
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


class TokenIssuer:
    def __init__(self, tokens: TokenStore, lifetimes: Lifetimes, clock: Clock) -> None:
        self._tokens = tokens
        self._lifetimes = lifetimes
        self._clock = clock

    async def issue(
        self,
        client: Client,
        scopes: tuple[str, ...],
        *,
        subject: str | None,
        refresh: bool,
        family_id: str | None = None,
    ) -> dict[str, Any]:
        """Store and describe a new access token, and a refresh token when asked.

        ``family_id`` continues a refresh-token family on rotation; a new grant starts
        a new family.
        """
        now = self._clock()
        lifetimes = self._lifetimes.for_client(client)
        family = family_id or new_id()
        scope = format_scope(scopes)
        access = mint(ACCESS_TOKEN_PREFIX)
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetimes.access,
            "scope": scope,
        }

        def record(value: str, kind: TokenKind, lifetime: int) -> Token:
            return Token(
                digest=token_digest(value),
                kind=kind,
                client_id=client.client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + lifetime,
                family_id=family,
                subject=subject,
            )

        records = [record(access, TokenKind.ACCESS, lifetimes.access)]
        if refresh:
            refresh_token = mint(REFRESH_TOKEN_PREFIX)
            records.append(record(refresh_token, TokenKind.REFRESH, lifetimes.refresh))
            response["refresh_token"] = refresh_token
        # Saved side by side: a batching store (SQLite's group commit) commits both in
        # one transaction.  Should one write fail, the response is an error and the
        # other token, never sent, is unknown to anyone.
        if len(records) == 1:
            await self._tokens.save_token(records[0])  # no task to schedule: the hot path
        else:
            await asyncio.gather(*(self._tokens.save_token(r) for r in records))
        return response
