"""OpenID Connect, signing keys, JWT access tokens, refresh grace and audit events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

- ``clients.access_token_format``: ``jwt`` (RFC 9068) or ``opaque``; ``NULL`` follows the
  server default.
- ``clients.post_logout_redirect_uris``: OpenID Connect RP-Initiated Logout 1.0 §3,
  space-separated like ``redirect_uris``.
- ``tokens.auth_time``: when the user signed in, so that a refresh with ``openid`` can
  issue an ID token with the original ``auth_time`` (OpenID Connect Core §12.2).
- ``tokens.successor``: the sealed (AES-GCM) response of a rotation, kept only during
  the optional refresh grace window, so that a retry after a lost response gets the
  **same** successor pair; ``NULL`` when the window is off or over.
- ``signing_keys``: JWS keys (RFC 7517); the private key is sealed with the
  key-encryption key and never stored in clear.  ``not_before`` publishes a new key in
  JWKS before it signs; ``retired_at`` stops signing; ``publish_until`` keeps a retired
  key in JWKS until every token it signed has expired.
- ``audit_events``: the security events operators list with ``mintage audit``.

Every change is an ``ADD COLUMN`` with a default or a new table/index, so it runs in
place on a database holding data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Byte-wise comparison for identifiers and digests on PostgreSQL (see schema.py).
_key = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
# SQLite only auto-numbers an ``INTEGER PRIMARY KEY``.
_serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("clients", sa.Column("access_token_format", sa.Text(), nullable=True))
    op.add_column(
        "clients",
        sa.Column("post_logout_redirect_uris", sa.Text(), nullable=False, server_default=""),
    )
    op.add_column("tokens", sa.Column("auth_time", sa.BigInteger(), nullable=True))
    op.add_column("tokens", sa.Column("successor", sa.Text(), nullable=True))

    op.create_table(
        "signing_keys",
        sa.Column("kid", _key, primary_key=True),
        sa.Column("alg", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("private_jwk_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("not_before", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.Column("publish_until", sa.BigInteger(), nullable=True),
    )

    op.create_table(
        "audit_events",
        sa.Column("id", _serial, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("client_id", _key, nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_event_at", "audit_events", ["event", "at"])
    op.create_index("ix_audit_events_client_id_at", "audit_events", ["client_id", "at"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("signing_keys")
    with op.batch_alter_table("tokens") as tokens:
        tokens.drop_column("successor")
        tokens.drop_column("auth_time")
    with op.batch_alter_table("clients") as clients:
        clients.drop_column("post_logout_redirect_uris")
        clients.drop_column("access_token_format")
