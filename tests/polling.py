"""Waiting in tests: poll a recorded state until a deadline, never sleep and hope.

Every wait for something another task, thread or process does goes through here:
:func:`until` (on the event loop) and :func:`until_blocking` (threads, processes) call
``condition`` every ``interval`` seconds until it returns a truthy value, and return
that value; past the deadline they fail, naming ``what`` and the last value seen.

A deadline is a bound for failing, never the time a test expects to take: a healthy run
returns as soon as the state is there.  ``MINTAGE_TEST_TIMEOUT_SCALE`` (default 1)
multiplies every deadline, so a slow or loaded machine can stretch them without
editing tests (``MINTAGE_TEST_TIMEOUT_SCALE=3 make test``).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

SCALE = float(os.environ.get("MINTAGE_TEST_TIMEOUT_SCALE", "1"))
assert SCALE > 0, "MINTAGE_TEST_TIMEOUT_SCALE must be positive"


def scaled(seconds: float) -> float:
    """``seconds`` multiplied by ``MINTAGE_TEST_TIMEOUT_SCALE``."""
    return seconds * SCALE


async def until(
    condition: Callable[[], T | Awaitable[T]],
    *,
    within: float = 5.0,
    interval: float = 0.005,
    what: str = "the condition",
) -> T:
    """The first truthy value of ``condition()`` (a function or a coroutine function),
    polled on the event loop; an ``AssertionError`` after ``within`` (scaled) seconds."""
    limit = scaled(within)
    start = time.monotonic()
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() - start >= limit:
            raise AssertionError(f"{what}: not within {limit:.1f} s (last: {value!r})")
        await asyncio.sleep(interval)


def until_blocking(
    condition: Callable[[], T],
    *,
    within: float = 5.0,
    interval: float = 0.01,
    what: str = "the condition",
) -> T:
    """:func:`until` for code off the event loop (waiting on threads or processes)."""
    limit = scaled(within)
    start = time.monotonic()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() - start >= limit:
            raise AssertionError(f"{what}: not within {limit:.1f} s (last: {value!r})")
        time.sleep(interval)
