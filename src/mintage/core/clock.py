"""Injectable clock so tests can move time without sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> int:
        """Seconds since the epoch."""
        ...


def system_clock() -> int:
    return int(time.time())


class FrozenClock:
    """A clock for tests: ``clock.advance(61)`` moves time forward."""

    def __init__(self, now: int = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds
