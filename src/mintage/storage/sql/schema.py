"""The SQL schema, as SQLAlchemy Core tables: one definition for SQLite and PostgreSQL.

Alembic owns the live schema (``migrations/``); these tables are the target that the
migrations must produce, and a contract test compares the two.  Conventions:

- times are ``BIGINT`` epoch seconds, ``NULL`` meaning "never" / "not set";
- scopes, grant types and redirect URIs are space-separated ``TEXT`` (RFC 6749 §3.3
  scope tokens and URIs cannot contain a space);
- user claims are a JSON object in ``TEXT``;
- ``tokens.kind`` is the :class:`~mintage.core.models.TokenKind` string value;
- only digests of tokens and secrets are stored (RFC 9700 §4.14, DESIGN §4).

On PostgreSQL the key columns use the ``"C"`` collation: byte-wise comparison is what a
digest or an identifier needs, it is faster, and it orders ``list_clients`` exactly as
SQLite and the in-memory store do.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, Table, Text

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
    # revoke_family (RFC 9700 §4.14.2), purge_expired and delete_client stay indexed
    # lookups as the table grows (DESIGN §5).
    Index("ix_tokens_family_id", "family_id"),
    Index("ix_tokens_expires_at", "expires_at"),
    Index("ix_tokens_client_id", "client_id"),
)

users = Table(
    "users",
    metadata,
    Column("user_id", KeyText, primary_key=True),
    Column("username", KeyText, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("claims", Text, nullable=False),
    Index("ux_users_username", "username", unique=True),
)
