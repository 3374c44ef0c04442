"""Plain records that flow between the engine and the stores.

Stores hold digests, never the credential itself (RFC 9700 §4.14, docs/architecture.md §4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
    #: RFC 9700 §2.1.1: PKCE for every client by default; only a confidential client
    #: may be relaxed (public clients always need it).
    require_pkce: bool = True
    #: ``"jwt"`` (RFC 9068) or ``"opaque"``; ``None`` follows the server default
    access_token_format: str | None = None
    #: OpenID Connect RP-Initiated Logout 1.0 §3: where the client may ask to land after
    #: logout, matched exactly like ``redirect_uris``
    post_logout_redirect_uris: tuple[str, ...] = ()
    #: RFC 8707 resource identifiers this client answers for as a protected resource:
    #: it may introspect the access tokens meant for them (RFC 7662 §4)
    resources: tuple[str, ...] = ()

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
    #: when the user signed in, for the ID token of a refresh (OpenID Connect Core §12.2)
    auth_time: int | None = None
    #: a rotated refresh token's response, sealed, while the refresh grace window may
    #: still hand it out again (see ``core/grants/refresh_grace.py``); else ``None``
    successor: str | None = field(default=None, repr=False)

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


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """Failed sign-ins counted under one key, and the lock-out they caused (RFC 6749
    §10.10); see ``core/login.py`` for the keys (a source, or a username).

    ``failures`` counts from the first failure after the row last expired; the row
    expires at ``expires_at`` (a fixed window, lengthened only to outlive its lock),
    after which it counts as absent and the background purge deletes it.
    """

    key: str
    failures: int
    expires_at: int
    locked_until: int | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An authorization code (RFC 6749 §4.1.2), stored under its digest.

    Bound to the client, the redirect URI and the PKCE challenge (RFC 7636 §4.4);
    single use.  ``family_id`` is the family of the tokens issued from it, so a replay
    can revoke them (RFC 6749 §4.1.2).
    """

    digest: str
    client_id: str
    #: the ``redirect_uri`` parameter of the authorization request, ``""`` when the
    #: request omitted it (the client's only registered URI was used); RFC 6749 §4.1.3
    #: requires the token request to repeat it exactly when it was given
    redirect_uri: str
    scope: str
    subject: str
    issued_at: int
    expires_at: int
    family_id: str
    auth_time: int
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    nonce: str | None = None
    consumed_at: int | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """The scopes a user has approved for a client."""

    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    granted_at: int


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser session, stored under the digest of its cookie value."""

    digest: str
    user_id: str
    auth_time: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A JWS signing key (RFC 7515, RFC 7517) with its publication window.

    ``public_jwk`` is the public JWK as JSON text; ``private_jwk_sealed`` is the private
    JWK sealed with the key-encryption key (:mod:`mintage.core.sealing`): a database
    dump yields no usable key.  The key is published in JWKS from ``created_at``, signs
    from ``not_before`` (so relying parties can fetch it first) until ``retired_at``, and
    stays published until ``publish_until`` (every token it signed has expired by then).
    """

    kid: str
    alg: str
    public_jwk: str
    private_jwk_sealed: str
    created_at: int
    not_before: int
    retired_at: int | None = None
    publish_until: int | None = None

    def signs_at(self, now: int) -> bool:
        return self.not_before <= now and (self.retired_at is None or now < self.retired_at)

    def published_at(self, now: int) -> bool:
        return self.publish_until is None or now < self.publish_until


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A security event kept for operators (``mintage audit``).

    ``event`` is an :class:`~mintage.core.audit.AuditEventType` value (a plain string, so
    that a store keeps names it does not know).  ``detail`` is a JSON object of plain
    values (strings, numbers, booleans, ``None``, lists of them); it never holds a
    token, code, secret or password (docs/architecture.md §4).  ``id`` is given by the store:
    ``None`` on a new event, set on the events a store lists.
    """

    at: int
    event: str
    client_id: str | None = None
    subject: str | None = None
    ip: str | None = None
    request_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None
