"""Rate limits on failed sign-ins, per address and per username (RFC 6749 §10.10).

Only failures are counted: a wrong password or an unknown username.  A successful
sign-in needs the password, so it guesses nothing; counting it would refuse a company
signing in behind one NAT address at nine, or a test suite signing one user in a
hundred times.  The work a flood of right passwords costs is bounded by the password
pool instead (:class:`~mintage.core.passwords.PasswordVerifier`).

:meth:`LoginThrottle.exhausted` is asked before the password is checked, without
counting; :meth:`LoginThrottle.failed` counts after a failure.  Concurrent attempts may
all pass the check before any is counted, so a burst can exceed a limit by the number
of attempts in flight: the lock-out (``core/login.py``) does not have that gap.

The counting itself is the engine's :class:`~mintage.core.ratelimit.RateLimiter`
(process memory, or Redis shared by every instance).
"""

from __future__ import annotations

from .ratelimit import (
    LOGIN_PER_IP,
    LOGIN_PER_USERNAME,
    Bucket,
    NoRateLimits,
    RateLimiter,
    value_key,
)


class LoginThrottle:
    """The ``login_rate_limit_per_ip`` and ``login_rate_limit_per_username`` limits,
    counting failed sign-ins only."""

    __slots__ = ("enabled", "limiter")

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        #: ``False`` for :class:`NoRateLimits`: callers skip even computing the keys
        self.enabled = not isinstance(limiter, NoRateLimits)

    @staticmethod
    def _keys(address: str | None, username: str) -> list[tuple[Bucket, str]]:
        # An unknown address (a Unix socket without forwarded headers) is not counted:
        # lumping every such attempt under one key would make the limit a global one.
        keys = [] if address is None else [(LOGIN_PER_IP, address)]
        if username:
            keys.append((LOGIN_PER_USERNAME, value_key(username)))
        return keys

    async def exhausted(self, address: str | None, username: str) -> int | None:
        """Without counting: ``None`` while another failure fits in both limits, else
        the seconds to wait (the refusal is counted in the metrics)."""
        for bucket, key in self._keys(address, username):
            retry_after = await self.limiter.exhausted(bucket, key)
            if retry_after is not None:
                self.limiter.rejected(bucket)
                return retry_after
        return None

    async def failed(self, address: str | None, username: str) -> None:
        """Count one failed sign-in from ``address`` (an
        :func:`~mintage.core.ratelimit.address_key`) for ``username``."""
        for bucket, key in self._keys(address, username):
            await self.limiter.hit(bucket, key)


#: the login throttle of an engine without limits
NO_LOGIN_THROTTLE = LoginThrottle(NoRateLimits())
