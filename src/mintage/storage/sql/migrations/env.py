"""Alembic environment, driven only by :func:`mintage.storage.sql.migrate.upgrade_schema`.

There is no ``alembic.ini``: the caller opens the connection (sync SQLite, or asyncpg
through ``run_sync``), takes the lock, and passes the connection in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from mintage.storage.sql.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through mintage.storage.sql.migrate.upgrade_schema")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
