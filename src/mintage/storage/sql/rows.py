"""Records ↔ SQL rows, in one place for both stores.

A row is anything indexable by column position (``sqlite3``'s tuples, asyncpg's
``Record``), in the column order of :mod:`.queries`; parameters come out as tuples in
the same order.  See :mod:`.schema` for the encodings.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ...core.models import Client, Token, TokenKind, User

__all__ = [
    "Row",
    "client_from_row",
    "client_params",
    "token_from_row",
    "token_params",
    "user_from_row",
    "user_params",
]


class Row(Protocol):
    def __getitem__(self, index: int, /) -> Any: ...


# A dict lookup is cheaper than the enum's own value lookup on the hot path.
_KINDS: dict[str, TokenKind] = {kind.value: kind for kind in TokenKind}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def client_from_row(row: Row) -> Client:
    return Client(
        client_id=row[0],
        name=row[1],
        grant_types=_words(row[2]),
        scopes=_words(row[3]),
        redirect_uris=_words(row[4]),
        secret_digest=row[5],
        access_token_lifetime=row[6],
        refresh_token_lifetime=row[7],
        created_at=row[8],
    )


def client_params(client: Client) -> tuple[Any, ...]:
    return (
        client.client_id,
        client.name,
        " ".join(client.grant_types),
        " ".join(client.scopes),
        " ".join(client.redirect_uris),
        client.secret_digest,
        client.access_token_lifetime,
        client.refresh_token_lifetime,
        client.created_at,
    )


def token_from_row(row: Row) -> Token:
    return Token(
        digest=row[0],
        kind=_KINDS[row[1]],
        client_id=row[2],
        scope=row[3],
        issued_at=row[4],
        expires_at=row[5],
        family_id=row[6],
        subject=row[7],
        revoked_at=row[8],
        consumed_at=row[9],
    )


def token_params(token: Token) -> tuple[Any, ...]:
    return (
        token.digest,
        token.kind.value,
        token.client_id,
        token.scope,
        token.issued_at,
        token.expires_at,
        token.family_id,
        token.subject,
        token.revoked_at,
        token.consumed_at,
    )


def user_from_row(row: Row) -> User:
    return User(
        user_id=row[0],
        username=row[1],
        password_hash=row[2],
        created_at=row[3],
        claims=json.loads(row[4]),
    )


def user_params(user: User) -> tuple[Any, ...]:
    return (
        user.user_id,
        user.username,
        user.password_hash,
        user.created_at,
        json.dumps(user.claims, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
    )
