"""WAL checkpoints for the SQLite store, on a thread of their own.

SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses 1000 WAL pages,
on the committing connection: on the event loop, with two ``fsync`` calls.  The serving
connection turns it off (``PRAGMA wal_autocheckpoint=0``) and this daemon thread, with
its own connection, does the work instead:

- every ``interval`` seconds (1), ``PRAGMA wal_checkpoint(PASSIVE)``: it copies what it
  can of the WAL into the database without waiting for, or blocking, readers or writers.
  It syncs the WAL first, then the database file; once the whole WAL has been copied,
  the next writer starts the WAL over from its beginning, so it stops growing;
- when the WAL file is larger than ``truncate_above`` bytes (64 MiB; say after a bulk
  load, or readers that kept a PASSIVE checkpoint from finishing), a
  ``wal_checkpoint(TRUNCATE)``, which waits (``busy_timeout``, 1 s) for readers and
  writers and then empties the file.  Writers on the event loop meanwhile retry the
  write lock asynchronously (see :mod:`.sqlite`), so the loop is not blocked.

The ``sqlite3`` module releases the GIL while SQLite works, so the copying and the
syncing run in parallel with the event loop.  The checkpoints are what bound the loss
on an operating-system crash: see the durability note in :mod:`.sqlite`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

__all__ = ["Checkpointer"]

log = logging.getLogger("mintage")

#: How long a TRUNCATE checkpoint waits for readers and writers, in milliseconds.
_TRUNCATE_BUSY_MS = 1000


class Checkpointer:
    """Checkpoints one SQLite file from a daemon thread until :meth:`stop`."""

    def __init__(
        self, path: str, *, interval: float = 1.0, truncate_above: int = 64 * 1024 * 1024
    ) -> None:
        self.path = path
        self.wal_path = path + "-wal"
        self.interval = interval
        self.truncate_above = truncate_above
        #: Counters and the last ``(busy, log, checkpointed)`` result, for tests and
        #: curiosity.
        self.passive_runs = 0
        self.truncate_runs = 0
        self.last: tuple[int, int, int] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="mintage-sqlite-checkpointer", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish and wait for it (at most one checkpoint's time)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error:
            log.warning("SQLite checkpointer cannot open %s", self.path, exc_info=True)
            return
        try:
            db.execute(f"PRAGMA busy_timeout={_TRUNCATE_BUSY_MS}")
            db.execute("PRAGMA synchronous=NORMAL")  # syncs the WAL, then the database
            while not self._stopping.wait(self.interval):
                try:
                    self.checkpoint(db)
                except sqlite3.Error:
                    log.warning("SQLite checkpoint failed; will retry", exc_info=True)
        finally:
            db.close()

    def checkpoint(self, db: sqlite3.Connection) -> None:
        """One round: PASSIVE, then TRUNCATE if the WAL file is still too large."""
        row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.passive_runs += 1
        self.last = (row[0], row[1], row[2])
        try:
            size = os.stat(self.wal_path).st_size
        except FileNotFoundError:
            return
        if size > self.truncate_above:
            row = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self.truncate_runs += 1
            self.last = (row[0], row[1], row[2])
