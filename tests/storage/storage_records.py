"""Sample records for the storage suites: every field set, with non-ASCII text."""

from __future__ import annotations

import dataclasses

from mintage.core.models import Client, Token, TokenKind, User

NOW = 1_750_000_000


def client(client_id: str = "client-1", **changes: object) -> Client:
    base = Client(
        client_id=client_id,
        name="Éclair ✓ 客户端",
        grant_types=("authorization_code", "refresh_token"),
        scopes=("openid", "profile", "api:read"),
        redirect_uris=("https://app.example/cb", "http://127.0.0.1:8765/cb?x=1&y=%20"),
        secret_digest="sha256$" + "ab" * 32,
        access_token_lifetime=600,
        refresh_token_lifetime=86_400,
        created_at=NOW - 100,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def token(digest: str = "digest-1", **changes: object) -> Token:
    base = Token(
        digest=digest,
        kind=TokenKind.REFRESH,
        client_id="client-1",
        scope="openid profile",
        issued_at=NOW - 10,
        expires_at=NOW + 3600,
        family_id="family-1",
        subject="user-1",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def user(user_id: str = "user-1", **changes: object) -> User:
    base = User(
        user_id=user_id,
        username="alice",
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        created_at=NOW - 1000,
        claims={"name": "Ålice Ünicode 😀", "email": "alice@example.com"},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
