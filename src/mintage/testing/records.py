"""Sample records for the store contract: every field set, with non-ASCII text."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ..core.models import AuthorizationCode, Client, Consent, Session, Token, TokenKind, User
from ..core.stores import missing_methods

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
        access_token_format="jwt",
        post_logout_redirect_uris=("https://app.example/bye", "https://app.example/bye?é=1"),
        resources=("https://api.example/v1", "urn:example:ré:source"),
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
        auth_time=NOW - 500,
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


def code(digest: str = "code-1", **changes: object) -> AuthorizationCode:
    base = AuthorizationCode(
        digest=digest,
        client_id="client-1",
        redirect_uri="https://app.example/cb?x=1&y=%20",
        scope="openid profile",
        subject="user-1",
        issued_at=NOW - 5,
        expires_at=NOW + 60,
        family_id="family-1",
        auth_time=NOW - 30,
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
        nonce="n-0S6_WzA2Mj ünï",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def consent(user_id: str = "user-1", client_id: str = "client-1", **changes: object) -> Consent:
    base = Consent(
        user_id=user_id, client_id=client_id, scopes=("openid", "api:read"), granted_at=NOW
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def session(digest: str = "session-1", **changes: object) -> Session:
    base = Session(digest=digest, user_id="user-1", auth_time=NOW - 60, expires_at=NOW + 3600)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def requires(store: object, *protocols: type[Any]) -> None:
    """Skip the test unless ``store`` also implements ``protocols`` (a test that spans
    concerns, run only where one object serves them all)."""
    for protocol in protocols:
        missing = missing_methods(store, protocol)
        if missing:
            pytest.skip(f"the store is no {protocol.__name__} (lacks {', '.join(missing)})")
