"""PostgreSQL ``LISTEN/NOTIFY`` for cache invalidation across instances.

Every instance (each worker of ``mintage serve --workers N``, each process on its own
port, the CLI) that changes a client sends ``pg_notify(channel, 'client:<id>')`` in the
same statement as the change, so the notification leaves exactly when the change
commits (PostgreSQL delivers notifications at commit, never for a rolled-back
transaction).  Each serving store holds one dedicated connection, outside its pool, that
``LISTEN``s on the channel and hands every payload to the store's
:class:`~mintage.storage.invalidation.InvalidationHub`.

The channel is ``mintage_invalidate:<schema>`` (the schema the store's tables live in),
so stores on different schemas of one database don't hear each other; the listening
connection's ``application_name`` is the channel's name (see ``pg_stat_activity``).

A notification can only be missed while that connection is down, so the listener
watches it: asyncpg reports a closed connection at once (a restarted server, a killed
backend), and a ``SELECT 1`` every ``check_interval`` seconds (1) finds one that died
silently.  Then the hub is marked unreliable (caches empty themselves and keep entries
one second at most) and the listener reconnects with back-off; once it listens again,
caches are emptied once more (changes made while it was away were never announced) and
go back to their long TTL.

``LISTEN`` is session state: a transaction-pooling proxy such as PgBouncer in
``transaction`` mode cannot carry it.  Point Mintage at PostgreSQL directly, or through
a pool in ``session`` mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import asyncpg

from ..invalidation import InvalidationHub

__all__ = ["PgInvalidationListener", "channel_for"]

log = logging.getLogger("mintage.storage")

CHANNEL_PREFIX = "mintage_invalidate:"
#: PostgreSQL truncates identifiers, channel names included, to 63 bytes.
_MAX_CHANNEL = 63
_MAX_BACKOFF = 5.0


def channel_for(schema: str) -> str:
    """The ``NOTIFY`` channel of the store whose tables live in ``schema``."""
    channel = CHANNEL_PREFIX + schema
    if len(channel.encode()) <= _MAX_CHANNEL:
        return channel
    return CHANNEL_PREFIX + hashlib.sha256(schema.encode()).hexdigest()[:32]


class PgInvalidationListener:
    """One ``LISTEN``ing connection, kept alive, feeding ``hub``."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        hub: InvalidationHub,
        *,
        server_settings: dict[str, str] | None = None,
        connect_timeout: float = 5.0,
        check_interval: float = 1.0,
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.hub = hub
        self.server_settings = server_settings
        self.connect_timeout = connect_timeout
        self.check_interval = check_interval
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """Listen now if possible, and keep listening until :meth:`stop`.

        A first connection that fails leaves the hub unreliable (short TTLs) while the
        background task retries; it never fails the store's ``open()``.
        """
        self._lost = asyncio.Event()
        try:
            await self._listen()
        except Exception as exc:
            log.warning("cannot LISTEN for cache invalidations yet (%s); retrying", exc)
            self.hub.set_reliable(False)
        self._task = asyncio.create_task(self._supervise(), name="mintage-pg-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_connection()

    async def _listen(self) -> None:
        # Named after its channel, so that operators (and tests) can tell it apart in
        # pg_stat_activity.
        settings = {**(self.server_settings or {}), "application_name": self.channel}
        conn = await asyncpg.connect(
            self.dsn, timeout=self.connect_timeout, server_settings=settings
        )
        try:
            await conn.add_listener(self.channel, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._on_terminated)
        self._conn = conn
        # Anything cached before LISTEN took effect may have missed a change.
        self.hub.set_reliable(True)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        self.hub.dispatch(str(payload))

    def _on_terminated(self, conn: Any) -> None:
        if conn is self._conn:
            self._lost.set()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=1.0)
            if not conn.is_closed():
                conn.terminate()

    async def _alive(self) -> bool:
        """Wait up to ``check_interval`` for a loss; then check the connection."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._lost.wait(), timeout=self.check_interval)
            return False
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        try:
            await conn.fetchval("SELECT 1", timeout=self.check_interval)
        except Exception:
            return False
        return True

    async def _supervise(self) -> None:
        backoff = 0.05
        while True:
            if self._conn is not None:
                if await self._alive():
                    continue
                log.warning("lost the cache invalidation connection; reconnecting")
                self.hub.set_reliable(False)
                self._lost.clear()
                await self._drop_connection()
                backoff = 0.05
            try:
                await self._listen()
            except Exception as exc:
                log.debug("cache invalidation reconnect failed: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
            else:
                log.info("listening for cache invalidations again")
