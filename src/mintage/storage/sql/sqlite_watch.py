"""Noticing commits made by other processes on the SQLite file: ``PRAGMA data_version``.

SQLite has no ``NOTIFY``.  What it has is ``PRAGMA data_version``: on one connection, its
value changes whenever *another* connection (any process) has committed to the file
since the last time it was read, and never for this connection's own commits.  Reading
it costs microseconds, so the serving store polls it every ``interval`` seconds (0.25)
on the event loop, and when it changed tells the hub ``*``: something changed, but not
what, so every cache in this process empties.

This is what makes ``mintage client rotate-secret`` (another process) take effect in a
running ``mintage serve`` within a quarter of a second while the client cache keeps its
entries for up to 30 s.  Several ``mintage serve`` processes on one SQLite file (or
``--workers N``) work the same way, but each one's token writes then empty the others'
caches four times a second: correct, just less cached.  Several instances on several
machines are not possible with SQLite (one file, one machine); use PostgreSQL.

A checkpoint that truncates the WAL also changes ``data_version``: a harmless extra
``*``.  If a poll fails, the hub is marked unreliable (caches keep entries one second
at most) until one succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ...core.storage import ALL_TOPICS
from ..invalidation import InvalidationHub

__all__ = ["DataVersionWatch"]

log = logging.getLogger("mintage.storage")


class DataVersionWatch:
    """Polls ``read()`` (``PRAGMA data_version``) and tells ``hub`` when it changes."""

    def __init__(
        self, read: Callable[[], int], hub: InvalidationHub, interval: float = 0.25
    ) -> None:
        self.read = read
        self.hub = hub
        self.interval = interval
        self._version: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._version = self.read()
        self._task = asyncio.create_task(self._run(), name="mintage-sqlite-watch")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _ended(self, task: asyncio.Task[None]) -> None:
        # Ended without stop(): its loop was shut down, or a bug.  Nobody watches any
        # more, so caches must stop trusting their long TTL.
        if task is self._task:
            self._task = None
            self.hub.set_reliable(False)

    def check(self) -> None:
        """One poll (the task calls it every ``interval``)."""
        try:
            version = self.read()
        except Exception as exc:
            if self.hub.reliable:
                log.warning("cannot read PRAGMA data_version (%s); caches shortened", exc)
                self.hub.set_reliable(False)
            return
        if not self.hub.reliable:
            self._version = version
            self.hub.set_reliable(True)  # tells everyone "*"
        elif version != self._version:
            self._version = version
            self.hub.dispatch(ALL_TOPICS)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()
