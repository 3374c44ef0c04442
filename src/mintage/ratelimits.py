"""Counting for the rate limits (``mintage.core.ratelimit``), with the ``limits`` library.

Fixed windows: one counter per bucket, key and window, so one check is one increment:
a few microseconds in process memory, one round trip (a Lua ``INCR`` + ``EXPIRE``) in
Redis.  A fixed window lets a burst of up to twice the limit straddle two windows, an
acceptable price for abuse limits that must stay cheap on the token endpoint
(docs/architecture.md §5).

* Without ``redis_url`` every process counts on its own (:class:`ProcessMemoryStorage`):
  with ``--workers N`` or N instances, a client gets up to N times the limit.
* With ``redis_url`` all instances share the counts.  When Redis cannot be reached the
  limiter *fails open to process memory*: it logs a warning, counts the error in
  ``mintage_rate_limit_backend_errors_total``, keeps counting per process, and tries
  Redis again after :data:`RETRY_BACKEND` seconds.  An outage of a helper must not take
  the authorization server down, and the limits are defence in depth: client secrets
  are 256-bit random values, and sign-in keeps its lock-out in the main store.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.errors import StorageError
from prometheus_client import Counter

from .core.clock import Clock
from .core.ratelimit import Bucket
from .extras import extra_needed

if TYPE_CHECKING:
    import redis.asyncio

log = logging.getLogger("mintage")

#: seconds of process-memory counting after a Redis error, before Redis is tried again
RETRY_BACKEND = 5.0
#: a Redis that answers slower than this is treated as down (the token endpoint waits)
REDIS_TIMEOUT = 0.5


class RateLimitMetrics:
    """The limiter's counters, in prometheus_client's default registry (``/metrics``
    renders it, web/metrics.py).  Process-wide, as the limits of every app in the process
    are; built by :func:`rate_limit_metrics`, never at import."""

    __slots__ = ("backend_errors", "rejections")

    def __init__(self) -> None:
        self.rejections = Counter(
            "mintage_rate_limit_rejections",
            "Requests refused with 429 by a rate limit.",
            ("endpoint", "limit"),
        )
        self.backend_errors = Counter(
            "mintage_rate_limit_backend_errors",
            "Rate-limit checks that could not reach Redis (counted in process memory instead).",
        )


@functools.cache
def rate_limit_metrics() -> RateLimitMetrics:
    """The one :class:`RateLimitMetrics` of the process, registered on first call (when
    a limiter or an app's metrics are built): importing this module registers nothing."""
    return RateLimitMetrics()


class ProcessMemoryStorage(Storage):
    """Fixed-window counters in this process, on an injectable clock.

    ``limits``' own async memory storage starts a task on nearly every hit that walks
    every key: measured here at ~900 µs per check with 10 000 live keys (one per
    address).  This one costs the same at any size: expired counters are dropped lazily
    and, at most once a second, by a sweep over only the windows that have ended.
    """

    STORAGE_SCHEME = None  # not registered under a URI scheme: built directly

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._now = clock
        self._counts: dict[str, list[float]] = {}  # key -> [count, expires_at]
        self._ending: dict[int, list[str]] = {}  # second a window ends -> its keys
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + 1
        for second in [s for s in self._ending if s <= now]:
            for key in self._ending.pop(second):
                entry = self._counts.get(key)
                if entry is not None and entry[1] <= now:
                    del self._counts[key]

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._now()
        if now >= self._next_sweep:
            self._sweep(now)
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            ends = now + expiry
            self._counts[key] = [amount, ends]
            self._ending.setdefault(math.ceil(ends), []).append(key)
            return amount
        entry[0] += amount
        return int(entry[0])

    async def get(self, key: str) -> int:
        entry = self._counts.get(key)
        if entry is None or entry[1] <= self._now():
            return 0
        return int(entry[0])

    async def get_expiry(self, key: str) -> float:
        entry = self._counts.get(key)
        return entry[1] if entry is not None else self._now()

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self._counts)
        self._counts.clear()
        self._ending.clear()
        return count

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)


class _Window:
    """One bucket's limit, with its storage keys' fixed parts built once."""

    __slots__ = ("amount", "expiry", "prefix", "suffix")

    def __init__(self, name: str, item: RateLimitItem) -> None:
        self.amount = item.amount
        self.expiry = item.get_expiry()
        # The layout of ``RateLimitItem.key_for(name, key)``; built here once because
        # key_for costs more than the increment itself.
        template = item.key_for(name, "\0")
        self.prefix, _, self.suffix = template.partition("\0")


class WindowLimiter:
    """A :class:`~mintage.core.ratelimit.RateLimiter` over one ``limits`` storage.

    The fixed-window strategy of ``limits`` (``FixedWindowRateLimiter``: increment, and
    over the limit when the count exceeds it), with the same keys, inlined.
    ``limits`` maps bucket names to limit strings; an empty string turns that bucket off.
    ``now`` is the clock of the storage's expiry times (for ``Retry-After``).
    """

    def __init__(
        self, limits: Mapping[str, str], storage: Storage, now: Callable[[], float]
    ) -> None:
        self.storage = storage
        self._metrics = rate_limit_metrics()
        self._windows: dict[str, _Window] = {
            name: _Window(name, parse(value)) for name, value in limits.items() if value.strip()
        }
        self._now = now

    async def _retry_after(self, key: str) -> int:
        return max(1, math.ceil(await self.storage.get_expiry(key) - self._now()))

    async def hit(self, bucket: Bucket, key: str) -> int | None:
        window = self._windows.get(bucket.name)
        if window is None:
            return None
        key = window.prefix + key + window.suffix
        if await self.storage.incr(key, window.expiry) <= window.amount:
            return None
        return await self._retry_after(key)

    async def exhausted(self, bucket: Bucket, key: str) -> int | None:
        window = self._windows.get(bucket.name)
        if window is None:
            return None
        key = window.prefix + key + window.suffix
        if await self.storage.get(key) < window.amount:
            return None
        return await self._retry_after(key)

    def rejected(self, bucket: Bucket) -> None:
        self._metrics.rejections.labels(bucket.endpoint, bucket.limit).inc()

    async def aclose(self) -> None:
        return None


class SharedLimiter:
    """Counts in Redis; in process memory while Redis cannot be reached (module doc)."""

    def __init__(
        self,
        shared: WindowLimiter,
        fallback: WindowLimiter,
        pool: redis.asyncio.ConnectionPool,
    ) -> None:
        self.shared = shared
        self.fallback = fallback
        self._pool = pool
        self._degraded_until = 0.0  # time.monotonic() until which Redis is not tried
        self._metrics = rate_limit_metrics()

    def _failed(self, exc: Exception) -> None:
        self._metrics.backend_errors.inc()
        cause = exc.storage_error if isinstance(exc, StorageError) else exc
        if not self._degraded_until:
            log.warning(
                "rate limits: Redis unreachable (%s); counting per process, retrying every %.0f s",
                type(cause).__name__,
                RETRY_BACKEND,
            )
        self._degraded_until = time.monotonic() + RETRY_BACKEND

    def _use_shared(self) -> bool:
        return not self._degraded_until or time.monotonic() >= self._degraded_until

    def _recovered(self) -> None:
        if self._degraded_until:
            self._degraded_until = 0.0
            log.warning("rate limits: Redis answers again; counts are shared")

    async def hit(self, bucket: Bucket, key: str) -> int | None:
        if self._use_shared():
            try:
                result = await self.shared.hit(bucket, key)
            except (StorageError, OSError) as exc:
                self._failed(exc)
            else:
                self._recovered()
                return result
        return await self.fallback.hit(bucket, key)

    async def exhausted(self, bucket: Bucket, key: str) -> int | None:
        if self._use_shared():
            try:
                result = await self.shared.exhausted(bucket, key)
            except (StorageError, OSError) as exc:
                self._failed(exc)
            else:
                self._recovered()
                return result
        return await self.fallback.exhausted(bucket, key)

    def rejected(self, bucket: Bucket) -> None:
        self._metrics.rejections.labels(bucket.endpoint, bucket.limit).inc()

    async def aclose(self) -> None:
        await self._pool.aclose()


RateLimits = WindowLimiter | SharedLimiter


def _redis_storage(url: str, key_prefix: str) -> tuple[RedisStorage, redis.asyncio.ConnectionPool]:
    # Imported here: redis-py comes with the `mintage[redis]` extra, needed only with a URL.
    with extra_needed("redis", ("redis",)):
        import redis.asyncio

    # No retries (redis-py's default from a URL) and short timeouts: a slow Redis must
    # cost a request at most REDIS_TIMEOUT once, then the fallback takes over.
    pool = redis.asyncio.ConnectionPool.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )
    scheme = "async+redis+unix" if url.startswith("unix:") else "async+" + url.partition(":")[0]
    storage = RedisStorage(
        f"{scheme}://",
        implementation="redispy",
        key_prefix=key_prefix,
        wrap_exceptions=True,
        connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py
    )
    return storage, pool


def build_rate_limiter(
    limits: Mapping[str, str],
    clock: Clock,
    *,
    redis_url: str | None = None,
    key_prefix: str = "mintage",
) -> RateLimits:
    """The limiter for these limits: process memory, or Redis when ``redis_url`` is set."""
    memory = WindowLimiter(limits, ProcessMemoryStorage(clock), clock)
    if redis_url is None:
        return memory
    storage, pool = _redis_storage(redis_url, key_prefix)
    return SharedLimiter(WindowLimiter(limits, storage, time.time), memory, pool)
