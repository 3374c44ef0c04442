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
- only digests of tokens and secrets are stored (RFC 9700 §4.14, DESIGN §4).

On PostgreSQL the key columns use the ``"C"`` collation: byte-wise comparison is what a
digest or an identifier needs, it is faster, and it orders ``list_clients`` exactly as
SQLite and the in-memory store do.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, MetaData, Table, Text, text, true

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
    # revoke_family (RFC 9700 §4.14.2), purge_expired, delete_client (the first column
    # of the last index) and revoke_for_subject stay indexed lookups as the table grows
    # (DESIGN §5).
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
    #: consecutive failed sign-ins and the lock-out they caused (RFC 6749 §10.10)
    Column("failed_logins", BigInteger, nullable=False, server_default=text("0")),
    Column("locked_until", BigInteger, nullable=True),
    Index("ux_users_username", "username", unique=True),
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
