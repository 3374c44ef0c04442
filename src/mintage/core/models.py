"""Plain records that flow between the engine and the stores.

Stores hold digests, never the credential itself (RFC 9700 §4.14, DESIGN §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class TokenKind(StrEnum):
    ACCESS = "access_token"
    REFRESH = "refresh_token"


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client (RFC 6749 §2).

    ``secret_digest`` is ``None`` for public clients (RFC 6749 §2.1), which authenticate
    with ``none``.  Lifetimes of ``None`` fall back to the server-wide settings.
    """

    client_id: str
    name: str
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    secret_digest: str | None = None
    access_token_lifetime: int | None = None
    refresh_token_lifetime: int | None = None
    created_at: int = 0

    @property
    def is_public(self) -> bool:
        return self.secret_digest is None


@dataclass(frozen=True, slots=True)
class Token:
    """An issued access or refresh token, stored under its digest.

    ``family_id`` groups every token that descends from one grant: a refresh token, its
    rotated successors, and the access tokens issued beside them.  Revoking a refresh
    token, or detecting its reuse, revokes the family (RFC 7009 §2.1, RFC 9700 §4.14.2).
    """

    digest: str
    kind: TokenKind
    client_id: str
    scope: str
    issued_at: int
    expires_at: int
    family_id: str
    subject: str | None = None
    revoked_at: int | None = None
    consumed_at: int | None = None

    def is_active(self, now: int) -> bool:
        return self.revoked_at is None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class User:
    """A resource owner who can sign in (RFC 6749 §1.1)."""

    user_id: str
    username: str
    password_hash: str
    created_at: int = 0
    claims: dict[str, str] = field(default_factory=dict)
