"""The SQL schema, as SQLAlchemy Core tables: one definition for SQLite and PostgreSQL.

Alembic owns the live schema (``migrations/``); these tables are the target that the
migrations must produce, and a contract test compares the two.  Conventions:

- times are ``BIGINT`` epoch seconds, ``NULL`` meaning "never" / "not set";
- scopes, grant types and redirect URIs are space-separated ``TEXT`` (RFC 6749 §3.3
  scope tokens and URIs cannot contain a space);
- user claims are a JSON object in ``TEXT``;
- ``tokens.kind`` is the :class:`~mintage.core.models.TokenKind` string value;
- flags are ``BOOLEAN`` (SQLite stores 0/1 and the rows come back as ints: see
  :mod:`.rows`); the statements only bind them as parameters, never as literals;
- only digests of tokens and secrets are stored (RFC 9700 §4.14, docs/architecture.md §4).

On PostgreSQL the key columns use the ``"C"`` collation: byte-wise comparison is what a
digest or an identifier needs, it is faster, and it orders ``list_clients`` exactly as
SQLite and the in-memory store do.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
    true,
)

metadata = MetaData()

#: ``TEXT`` with byte-wise comparison on PostgreSQL (SQLite's default is already binary).
KeyText = Text().with_variant(Text(collation="C"), "postgresql")

clients = Table(
    "clients",
    metadata,
    Column("client_id", KeyText, primary_key=True),
    Column("name", Text, nullable=False),
    Column("grant_types", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("redirect_uris", Text, nullable=False),
    Column("secret_digest", Text, nullable=True),
    Column("access_token_lifetime", BigInteger, nullable=True),
    Column("refresh_token_lifetime", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("require_pkce", Boolean, nullable=False, server_default=true()),
    #: ``jwt`` (RFC 9068) or ``opaque``; ``NULL`` follows the server default
    Column("access_token_format", Text, nullable=True),
    #: OpenID Connect RP-Initiated Logout 1.0 §3, space-separated
    Column("post_logout_redirect_uris", Text, nullable=False, server_default=""),
    #: RFC 8707 resource identifiers the client serves as a protected resource (it may
    #: introspect tokens meant for them, RFC 7662 §4), space-separated
    Column("resources", Text, nullable=False, server_default=""),
)

tokens = Table(
    "tokens",
    metadata,
    Column("digest", KeyText, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("client_id", KeyText, nullable=False),
    Column("scope", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("family_id", KeyText, nullable=False),
    Column("subject", Text, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("consumed_at", BigInteger, nullable=True),
    #: when the user signed in (OpenID Connect Core §12.2: refreshed ID tokens keep it)
    Column("auth_time", BigInteger, nullable=True),
    #: the sealed rotation response, kept during the refresh grace window only
    Column("successor", Text, nullable=True),
    # revoke_family (RFC 9700 §4.14.2), purge_expired, delete_client (the first column
    # of the last index) and revoke_for_subject stay indexed lookups as the table grows
    # (docs/architecture.md §5).
    Index("ix_tokens_family_id", "family_id"),
    Index("ix_tokens_expires_at", "expires_at"),
    Index("ix_tokens_client_id_subject", "client_id", "subject"),
)

users = Table(
    "users",
    metadata,
    Column("user_id", KeyText, primary_key=True),
    Column("username", KeyText, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("claims", Text, nullable=False),
    #: unused since migration 0004: sign-in failures live in login_failures (kept so
    #: that no migration has to drop them)
    Column("failed_logins", BigInteger, nullable=False, server_default=text("0")),
    Column("locked_until", BigInteger, nullable=True),
    Index("ux_users_username", "username", unique=True),
)

#: Consecutive failed sign-ins and their lock-out (RFC 6749 §10.10), per key: a username
#: with the address of the attempts, or a username alone; known and unknown names alike.
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", KeyText, primary_key=True),
    Column("failures", BigInteger, nullable=False),
    Column("locked_until", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_login_failures_expires_at", "expires_at"),
)

#: RFC 6749 §4.1.2: single use (``consumed_at``), bound to client, redirect URI and the
#: PKCE challenge (RFC 7636 §4.4); ``redirect_uri`` is ``''`` when the request omitted it.
authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("digest", KeyText, primary_key=True),
    Column("client_id", KeyText, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("family_id", KeyText, nullable=False),
    Column("auth_time", BigInteger, nullable=False),
    Column("code_challenge", Text, nullable=True),
    Column("code_challenge_method", Text, nullable=True),
    Column("nonce", Text, nullable=True),
    Column("consumed_at", BigInteger, nullable=True),
    Index("ix_authorization_codes_expires_at", "expires_at"),
)

#: The scopes a user approved for a client; ``list_consents`` reads the key's prefix.
consents = Table(
    "consents",
    metadata,
    Column("user_id", KeyText, primary_key=True),
    Column("client_id", KeyText, primary_key=True),
    Column("scopes", Text, nullable=False),
    Column("granted_at", BigInteger, nullable=False),
)

#: Browser sessions, under the digest of the cookie value.
sessions = Table(
    "sessions",
    metadata,
    Column("digest", KeyText, primary_key=True),
    Column("user_id", KeyText, nullable=False),
    Column("auth_time", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_sessions_expires_at", "expires_at"),
    Index("ix_sessions_user_id", "user_id"),
)

#: JWS signing keys (RFC 7517).  The private JWK is sealed with the key-encryption key;
#: ``not_before`` publishes a key before it signs, ``publish_until`` keeps a retired key
#: in JWKS until every token it signed has expired.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", KeyText, primary_key=True),
    Column("alg", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("private_jwk_sealed", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("not_before", BigInteger, nullable=False),
    Column("retired_at", BigInteger, nullable=True),
    Column("publish_until", BigInteger, nullable=True),
)

#: Security events (``mintage audit``); ``detail`` is a JSON object without secrets.
audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("at", BigInteger, nullable=False),
    Column("event", Text, nullable=False),
    Column("client_id", KeyText, nullable=True),
    Column("subject", Text, nullable=True),
    Column("ip", Text, nullable=True),
    Column("request_id", Text, nullable=True),
    Column("detail", Text, nullable=False, server_default="{}"),
    Index("ix_audit_events_at", "at"),
    Index("ix_audit_events_event_at", "event", "at"),
    Index("ix_audit_events_client_id_at", "client_id", "at"),
)
