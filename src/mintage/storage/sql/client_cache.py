"""A bounded in-process cache of ``get_client`` for the SQL stores.

Every token request authenticates its client, so without a cache each one starts with a
``SELECT`` (SQLite) or a round trip (PostgreSQL) for a row that almost never changes.

The rules, for both stores:

- **changes take effect through invalidation, not expiry**: the store's
  :class:`~mintage.storage.invalidation.InvalidationHub` calls :meth:`invalidated` with
  ``client:<id>`` after this process saved or deleted the client, and when another
  process did (PostgreSQL ``NOTIFY``: milliseconds; SQLite ``PRAGMA data_version``,
  as ``*``: within 0.25 s).  A rotated secret or a deleted client stops working
  everywhere within a second;
- **the TTL is a safety net** (``ttl``, 30 s), for a notification lost in a way nobody
  noticed.  While the store knows deliveries may be missed (PostgreSQL's listening
  connection is down), :meth:`set_reliable` lowers it to ``fallback_ttl`` (1 s) and the
  hub's ``*`` empties the cache, so a missed change lives at most that long;
- **unknown ids are not cached**: a flood of made-up client ids costs one indexed lookup
  each, as without a cache, and can neither grow memory nor evict real clients; a client
  registered by another process is visible at once;
- **bounded**: at most ``max_size`` entries (1024); when full, the oldest read goes;
- a read that started before an invalidation never stores its (possibly older) result:
  a generation counter, bumped by every invalidation, is checked before storing.  So a
  notification that overtakes a read in flight is not lost.

Times come from ``time.monotonic()``, immune to changes of the wall clock (``monotonic``
replaces it in tests, which then need not wait for a TTL to pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ...core.models import Client
from ...core.storage import ALL_TOPICS, CLIENT_TOPIC

__all__ = ["ClientCache"]


class ClientCache:
    """``client_id`` → ``(expires_at, Client)``; ``ttl <= 0`` turns caching off."""

    __slots__ = (
        "_entries",
        "_monotonic",
        "fallback_ttl",
        "generation",
        "long_ttl",
        "max_size",
        "ttl",
    )

    def __init__(
        self,
        ttl: float = 30.0,
        max_size: int = 1024,
        fallback_ttl: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.long_ttl = ttl
        self.fallback_ttl = min(fallback_ttl, ttl)
        #: The lifetime given to entries stored now: ``long_ttl``, or ``fallback_ttl``
        #: while invalidations may be missed.
        self.ttl = ttl
        self.max_size = max_size
        #: Bumped by every invalidation; see :meth:`put`.
        self.generation = 0
        self._entries: dict[str, tuple[float, Client]] = {}
        self._monotonic = monotonic

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, client_id: str) -> Client | None:
        """The cached client, or ``None`` when absent or older than ``ttl``."""
        entry = self._entries.get(client_id)
        if entry is None:
            return None
        if entry[0] > self._monotonic():
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
        entries[client.client_id] = (self._monotonic() + self.ttl, client)

    def invalidate(self, client_id: str) -> None:
        """Forget ``client_id``, and any read of it still in flight."""
        self.generation += 1
        self._entries.pop(client_id, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def invalidated(self, topic: str) -> None:
        """The hub's callback: ``client:<id>`` forgets that client, ``*`` everything."""
        if topic == ALL_TOPICS:
            self.clear()
        elif topic.startswith(CLIENT_TOPIC):
            self.invalidate(topic[len(CLIENT_TOPIC) :])

    def set_reliable(self, reliable: bool) -> None:
        """Keep new entries ``long_ttl`` while invalidations arrive, else ``fallback_ttl``.

        Entries stored before the change keep their expiry: the hub empties the cache
        (``*``) whenever reliability changes.
        """
        self.ttl = self.long_ttl if reliable else self.fallback_ttl
