"""Hardening: sign-in failures per source, and the resources a client serves.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

- ``login_failures``: consecutive failed sign-ins and the lock-out they caused, per key
  (a username with the address the attempts come from, or a username alone for the
  per-username ceiling).  Known and unknown usernames are kept alike, in the store every
  worker shares, so the lock-out never tells which names exist (RFC 6749 §10.10).
  ``expires_at`` is when the row may be purged.
- ``clients.resources``: the resource identifiers (RFC 8707) a client answers for as a
  protected resource, space-separated; it may introspect the tokens meant for them
  (RFC 7662 §4).

Both are a new table or an ``ADD COLUMN`` with a default, so the upgrade runs in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# Byte-wise comparison for identifiers and digests on PostgreSQL (see schema.py).
_key = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("clients", sa.Column("resources", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "login_failures",
        sa.Column("key", _key, primary_key=True),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_login_failures_expires_at", "login_failures", ["expires_at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("resources")
