"""A short-lived, bounded in-process cache of ``get_client`` for the SQL stores.

Every token request authenticates its client, so without a cache each one starts with a
``SELECT`` (SQLite) or a round trip (PostgreSQL) for a row that almost never changes.

The rules, for both stores:

- **in-process changes take effect at once**: ``save_client`` and ``delete_client``
  invalidate the entry after their write has committed;
- **changes made elsewhere take effect within ``ttl`` seconds (1)**: another process or
  instance sharing the database (``mintage client rotate-secret`` from the CLI, another
  worker) cannot invalidate this cache, so an entry is trusted for at most ``ttl``
  seconds after it was read.  A rotated secret or a deleted client therefore keeps
  working here for up to one second; keep ``ttl`` short, never minutes;
- **unknown ids are not cached**: a flood of made-up client ids costs one indexed lookup
  each, as without a cache, and can neither grow memory nor evict real clients; a client
  registered by another process is visible at once;
- **bounded**: at most ``max_size`` entries (1024); when full, the oldest read goes;
- a read that started before an invalidation never stores its (possibly older) result:
  a generation counter, bumped by every invalidation, is checked before storing.

Times come from ``time.monotonic()``, immune to changes of the wall clock.
"""

from __future__ import annotations

import time

from ...core.models import Client

__all__ = ["ClientCache"]


class ClientCache:
    """``client_id`` → ``(expires_at, Client)``; ``ttl <= 0`` turns caching off."""

    __slots__ = ("_entries", "generation", "max_size", "ttl")

    def __init__(self, ttl: float = 1.0, max_size: int = 1024) -> None:
        self.ttl = ttl
        self.max_size = max_size
        #: Bumped by every invalidation; see :meth:`put`.
        self.generation = 0
        self._entries: dict[str, tuple[float, Client]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, client_id: str) -> Client | None:
        """The cached client, or ``None`` when absent or older than ``ttl``."""
        entry = self._entries.get(client_id)
        if entry is None:
            return None
        if entry[0] > time.monotonic():
            return entry[1]
        del self._entries[client_id]
        return None

    def put(self, client: Client, generation: int) -> None:
        """Remember ``client``, read when :attr:`generation` was ``generation``.

        Ignored if an invalidation happened since: the read may predate a write.
        """
        if generation != self.generation or self.ttl <= 0:
            return
        entries = self._entries
        entries.pop(client.client_id, None)  # re-inserted last: the newest read
        if len(entries) >= self.max_size:
            del entries[next(iter(entries))]
        entries[client.client_id] = (time.monotonic() + self.ttl, client)

    def invalidate(self, client_id: str) -> None:
        """Forget ``client_id``, and any read of it still in flight."""
        self.generation += 1
        self._entries.pop(client_id, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
