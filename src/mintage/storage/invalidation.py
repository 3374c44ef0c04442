"""In-process fan-out of cache invalidations, shared by the bundled stores.

Each store owns one :class:`InvalidationHub`.  Its own writes dispatch their topic at
once; changes made by other processes arrive through the store's own channel
(PostgreSQL ``LISTEN/NOTIFY``, SQLite ``PRAGMA data_version``) and are dispatched the
same way.  :class:`InvalidationHubMixin` gives a store the public side of
:class:`~mintage.core.storage.InvalidationSource`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..core.storage import ALL_TOPICS, InvalidationCallback

__all__ = ["InvalidationHub", "InvalidationHubMixin"]

log = logging.getLogger("mintage.storage")


class InvalidationHub:
    """Subscribers by topic prefix, and whether deliveries from elsewhere are live."""

    __slots__ = ("_listeners", "_on_reliability", "reliable")

    def __init__(self) -> None:
        self._listeners: list[tuple[str, InvalidationCallback]] = []
        #: See :attr:`~mintage.core.storage.InvalidationSource.invalidations_reliable`.
        self.reliable = True
        self._on_reliability: list[Callable[[bool], None]] = []

    def add_listener(self, prefix: str, callback: InvalidationCallback) -> Callable[[], None]:
        entry = (prefix, callback)
        self._listeners.append(entry)

        def remove() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return remove

    def on_reliability(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(reliable)`` whenever :attr:`reliable` changes."""
        self._on_reliability.append(callback)

    def dispatch(self, topic: str) -> None:
        """Tell every listener whose prefix ``topic`` starts with (all of them for ``*``)."""
        everyone = topic == ALL_TOPICS
        for prefix, callback in tuple(self._listeners):
            if everyone or topic.startswith(prefix):
                try:
                    callback(topic)
                except Exception:
                    # One broken listener must not keep the others stale.
                    log.exception("cache invalidation listener failed on %r", topic)

    def set_reliable(self, reliable: bool) -> None:
        """Record whether changes made elsewhere are being delivered.

        Either way, something may have been missed around the change (before the loss
        was noticed, or before listening resumed), so every listener gets ``*``.
        """
        changed = reliable != self.reliable
        self.reliable = reliable
        if changed:
            for callback in tuple(self._on_reliability):
                callback(reliable)
        self.dispatch(ALL_TOPICS)


class InvalidationHubMixin:
    """:class:`~mintage.core.storage.InvalidationSource` for a store with ``_hub``."""

    _hub: InvalidationHub

    def add_invalidation_listener(
        self, topic_prefix: str, callback: InvalidationCallback
    ) -> Callable[[], None]:
        """See :meth:`mintage.core.storage.InvalidationSource.add_invalidation_listener`."""
        return self._hub.add_listener(topic_prefix, callback)

    @property
    def invalidations_reliable(self) -> bool:
        """See :attr:`mintage.core.storage.InvalidationSource.invalidations_reliable`."""
        return self._hub.reliable
