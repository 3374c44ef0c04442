"""Store implementations of the protocols in :mod:`mintage.core.storage`."""

from __future__ import annotations

from ..core.storage import Storage
from ..extras import extra_needed
from .memory import MemoryStorage

__all__ = ["MemoryStorage", "open_storage"]


def open_storage(database_url: str) -> Storage:
    """Build the store for a URL: ``memory://``, ``sqlite:///path`` or ``postgresql://…``.

    The store is not opened yet: call ``await store.open()``.
    """
    if database_url.startswith("memory:"):
        return MemoryStorage()
    if database_url.startswith("sqlite:"):
        from .sql.sqlite import SQLiteStorage

        return SQLiteStorage(database_url)
    if database_url.startswith(("postgresql:", "postgres:")):
        with extra_needed("postgres", ("asyncpg",)):
            from .sql.postgres import PostgresStorage

        return PostgresStorage(database_url)
    raise ValueError("unsupported database URL: use memory://, sqlite:///path.db or postgresql://…")
