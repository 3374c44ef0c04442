"""Sign-in: authorization codes, consents, sessions, lock-out and per-client PKCE.

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01

Adds the tables of the authorization code flow (RFC 6749 §4.1), remembered consents and
browser sessions; ``users.failed_logins`` / ``users.locked_until`` for lock-out (RFC 6749
§10.10); ``clients.require_pkce`` (RFC 9700 §2.1.1), ``true`` for existing clients.

``ix_tokens_client_id`` becomes ``ix_tokens_client_id_subject`` on
``(client_id, subject)``: ``revoke_for_subject`` (consent withdrawn) then touches only
that subject's rows, and ``delete_client`` still uses the index by its first column, so
a token insert keeps maintaining three indexes, not four.

Every change is an ``ADD COLUMN`` with a default or a new table/index, so it runs in
place on a database holding data (SQLite included: no table copy).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Byte-wise comparison for identifiers and digests on PostgreSQL (see schema.py).
_key = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column(
        "clients",
        sa.Column("require_pkce", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "users",
        sa.Column("failed_logins", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column("users", sa.Column("locked_until", sa.BigInteger(), nullable=True))

    op.create_index("ix_tokens_client_id_subject", "tokens", ["client_id", "subject"])
    op.drop_index("ix_tokens_client_id", table_name="tokens")

    op.create_table(
        "authorization_codes",
        sa.Column("digest", _key, primary_key=True),
        sa.Column("client_id", _key, nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("family_id", _key, nullable=False),
        sa.Column("auth_time", sa.BigInteger(), nullable=False),
        sa.Column("code_challenge", sa.Text(), nullable=True),
        sa.Column("code_challenge_method", sa.Text(), nullable=True),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("consumed_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])

    op.create_table(
        "consents",
        sa.Column("user_id", _key, primary_key=True),
        sa.Column("client_id", _key, primary_key=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
    )

    op.create_table(
        "sessions",
        sa.Column("digest", _key, primary_key=True),
        sa.Column("user_id", _key, nullable=False),
        sa.Column("auth_time", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])


def downgrade() -> None:
    op.drop_table("sessions")
    op.drop_table("consents")
    op.drop_table("authorization_codes")
    op.create_index("ix_tokens_client_id", "tokens", ["client_id"])
    op.drop_index("ix_tokens_client_id_subject", table_name="tokens")
    with op.batch_alter_table("users") as users:
        users.drop_column("locked_until")
        users.drop_column("failed_logins")
    with op.batch_alter_table("clients") as clients:
        clients.drop_column("require_pkce")
