"""Records ↔ SQL rows, in one place for both stores.

A row is anything indexable by column position (``sqlite3``'s tuples, asyncpg's
``Record``), in the column order of :mod:`.queries`; parameters come out as tuples in
the same order.  See :mod:`.schema` for the encodings.

Flags (``require_pkce``) are bound as Python ``bool`` (asyncpg's ``BOOLEAN`` codec
wants exactly that; ``sqlite3`` stores it as 1/0) and read back through ``bool()``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import orjson

from ...core.models import (
    AuditEvent,
    AuthorizationCode,
    Client,
    Consent,
    LoginFailures,
    Session,
    SigningKey,
    Token,
    TokenKind,
    User,
)

__all__ = [
    "Row",
    "audit_event_from_row",
    "audit_event_params",
    "client_from_row",
    "client_params",
    "code_from_row",
    "code_params",
    "consent_from_row",
    "consent_params",
    "login_failures_from_row",
    "session_from_row",
    "session_params",
    "signing_key_from_row",
    "signing_key_params",
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
        require_pkce=bool(row[9]),
        access_token_format=row[10],
        post_logout_redirect_uris=_words(row[11]),
        resources=_words(row[12]),
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
        bool(client.require_pkce),
        client.access_token_format,
        " ".join(client.post_logout_redirect_uris),
        " ".join(client.resources),
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
        auth_time=row[10],
        successor=row[11],
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
        token.auth_time,
        token.successor,
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


def login_failures_from_row(row: Row) -> LoginFailures:
    return LoginFailures(key=row[0], failures=row[1], expires_at=row[2], locked_until=row[3])


def code_from_row(row: Row) -> AuthorizationCode:
    return AuthorizationCode(
        digest=row[0],
        client_id=row[1],
        redirect_uri=row[2],
        scope=row[3],
        subject=row[4],
        issued_at=row[5],
        expires_at=row[6],
        family_id=row[7],
        auth_time=row[8],
        code_challenge=row[9],
        code_challenge_method=row[10],
        nonce=row[11],
        consumed_at=row[12],
    )


def code_params(code: AuthorizationCode) -> tuple[Any, ...]:
    return (
        code.digest,
        code.client_id,
        code.redirect_uri,
        code.scope,
        code.subject,
        code.issued_at,
        code.expires_at,
        code.family_id,
        code.auth_time,
        code.code_challenge,
        code.code_challenge_method,
        code.nonce,
        code.consumed_at,
    )


def consent_from_row(row: Row) -> Consent:
    return Consent(user_id=row[0], client_id=row[1], scopes=_words(row[2]), granted_at=row[3])


def consent_params(consent: Consent) -> tuple[Any, ...]:
    return (consent.user_id, consent.client_id, " ".join(consent.scopes), consent.granted_at)


def session_from_row(row: Row) -> Session:
    return Session(digest=row[0], user_id=row[1], auth_time=row[2], expires_at=row[3])


def session_params(session: Session) -> tuple[Any, ...]:
    return (session.digest, session.user_id, session.auth_time, session.expires_at)


def signing_key_from_row(row: Row) -> SigningKey:
    return SigningKey(
        kid=row[0],
        alg=row[1],
        public_jwk=row[2],
        private_jwk_sealed=row[3],
        created_at=row[4],
        not_before=row[5],
        retired_at=row[6],
        publish_until=row[7],
    )


def signing_key_params(key: SigningKey) -> tuple[Any, ...]:
    return (
        key.kid,
        key.alg,
        key.public_jwk,
        key.private_jwk_sealed,
        key.created_at,
        key.not_before,
        key.retired_at,
        key.publish_until,
    )


def audit_event_from_row(row: Row) -> AuditEvent:
    """A listed event: the columns of ``queries.list_audit_events``, ``id`` first."""
    return AuditEvent(
        id=row[0],
        at=row[1],
        event=row[2],
        client_id=row[3],
        subject=row[4],
        ip=row[5],
        request_id=row[6],
        detail=orjson.loads(row[7]),
    )


def audit_event_params(event: AuditEvent) -> tuple[Any, ...]:
    """Parameters of ``record_audit_event`` (the store numbers the event).

    orjson, not ``json``: this runs on the token endpoint's hot path.  Keys sorted,
    so equal details are stored as equal text.
    """
    detail = event.detail if type(event.detail) is dict else dict(event.detail)
    return (
        event.at,
        event.event,
        event.client_id,
        event.subject,
        event.ip,
        event.request_id,
        orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode(),
    )
