"""Human passwords: Argon2id (RFC 9106), verified on a bounded pool of threads.

A verification costs tens of milliseconds and, with the library's parameters (RFC 9106
§4, the low-memory profile), 64 MiB while it runs, by design.  So it runs off the event
loop, on a pool of its own (:class:`PasswordVerifier`): a few threads, and a bounded
number of verifications waiting for one.  Past that, sign-ins are refused at once with
503 ``temporarily_unavailable`` and ``Retry-After`` (RFC 6749 §5.2, RFC 9110 §10.2.3)
instead of queueing without end: a flood of sign-ins can neither exhaust memory nor
take the default thread pool that other work (DNS lookups, file I/O) shares.

Unknown users are checked against a dummy hash, so a failed sign-in takes the same work
whether or not the user exists.  A user source of an application's own (:mod:`.users`)
has its check run on the same pool, through :meth:`PasswordVerifier.run`.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import TemporarilyUnavailableError

_T = TypeVar("_T")

_hasher = PasswordHasher()  # argon2-cffi defaults: Argon2id, RFC 9106 low-memory profile

#: threads of a pool configured with 0: one per CPU, at most this many (64 MiB each)
MAX_DEFAULT_THREADS = 8
#: seconds a sign-in refused because the pool is full is told to wait
BUSY_RETRY_AFTER = 5


@functools.cache
def _dummy_hash() -> str:
    # Made on first use, not at import: every CLI command would pay for it otherwise.
    return _hasher.hash("mintage dummy password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """The Argon2 verification itself (blocking); ``password_hash=None`` means "no such
    user": the dummy hash is verified instead, and the answer is ``False``."""
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def default_threads() -> int:
    """The pool size that ``threads=0`` stands for."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_THREADS))


class PasswordVerifier:
    """Verifies passwords on ``threads`` threads of its own; at most ``queue`` more
    verifications wait for a thread, and any beyond raise
    :class:`~mintage.core.errors.TemporarilyUnavailableError` (503, ``Retry-After``).

    The pool is made on first use and :meth:`close` ends it (a later use makes a new
    one), so a server that is never signed in to starts no thread.
    """

    __slots__ = ("_executor", "_pending", "capacity", "threads")

    def __init__(self, threads: int = 0, queue: int = 32) -> None:
        self.threads = threads or default_threads()
        #: verifications running or waiting, at most
        self.capacity = self.threads + queue
        self._pending = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def pending(self) -> int:
        """Verifications running or waiting for a thread now."""
        return self._pending

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant-work Argon2 verification (:func:`check_password`) on the pool."""
        # check_password is looked up at each call, so a test can count the calls.
        return await self.run(check_password, password_hash, password)

    async def run(self, check: Callable[[_T, str], bool], subject: _T, password: str) -> bool:
        """``check(subject, password)`` on the pool: a user source's own verification
        (:meth:`~mintage.core.users.UserSource.verify_password`), bounded the same way."""
        if self._pending >= self.capacity:
            raise TemporarilyUnavailableError(
                "too many sign-ins in progress", retry_after=BUSY_RETRY_AFTER
            )
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="mintage-argon2")
        self._pending += 1
        try:
            # A caller cancelled while waiting cancels its queued verification too.
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, check, subject, password
            )
        finally:
            self._pending -= 1

    def close(self) -> None:
        """End the pool's threads once their current verification is done."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
