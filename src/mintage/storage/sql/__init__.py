"""SQL stores: SQLite (stdlib ``sqlite3``) and PostgreSQL (``asyncpg``).

Both share one schema (:mod:`.schema`, migrated by Alembic through :mod:`.migrate`) and
one set of statements (:mod:`.queries`).  SQLAlchemy is used only for the schema and
migrations, never on the hot path (docs/architecture.md §6).
"""
