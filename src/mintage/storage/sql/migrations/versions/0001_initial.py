"""Initial schema: clients, tokens, users.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Written out in full rather than derived from ``schema.py``: a migration is a frozen
snapshot, and the contract suite checks that the result still matches ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Byte-wise comparison for identifiers and digests on PostgreSQL (see schema.py).
_key = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", _key, primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("grant_types", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("secret_digest", sa.Text(), nullable=True),
        sa.Column("access_token_lifetime", sa.BigInteger(), nullable=True),
        sa.Column("refresh_token_lifetime", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("digest", _key, primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("client_id", _key, nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("family_id", _key, nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("consumed_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_tokens_family_id", "tokens", ["family_id"])
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])
    op.create_index("ix_tokens_client_id", "tokens", ["client_id"])
    op.create_table(
        "users",
        sa.Column("user_id", _key, primary_key=True),
        sa.Column("username", _key, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("claims", sa.Text(), nullable=False),
    )
    op.create_index("ux_users_username", "users", ["username"], unique=True)


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("tokens")
    op.drop_table("clients")
