"""Signing users in: Argon2id verification, and lock-out that slows the guesser.

RFC 6749 §10.10: the server "MUST prevent attackers from guessing ... resource owner
passwords".  The lock-out is kept per *source*, a username together with the address
the attempts come from (IPv6 by its /64, :func:`~mintage.core.ratelimit.address_key`):
after :data:`LOCK_THRESHOLD` consecutive failures that source is locked for
:data:`LOCK_BASE` seconds, doubling with every further failure up to :data:`LOCK_CAP`.
The owner signing in from elsewhere is not locked out by someone else's guessing, so
nobody can keep an account locked with one wrong password every quarter of an hour.

Above it, a ceiling per username: :data:`USERNAME_CEILING` failures from all sources
within :data:`USERNAME_WINDOW` seconds lock that username for everyone for
:data:`USERNAME_WINDOW` seconds.  One source gets about 15 guesses through its backoff
in the first hour and 4 an hour after, so only many addresses reach the ceiling: then
they can lock the account out, the usual price of stopping a distributed guesser.

No user enumeration, across any number of workers (each failure is kept in the store
they share, ``login_failures``, under keyed digests of the username and address): an
unknown username fails, counts and locks exactly like a wrong password, and every
attempt that reaches the lock-out costs one Argon2 verification (against a dummy hash
for unknown users and while locked), so neither the answer nor its timing tells.

The rate limits per address and per username (:mod:`.login_throttle`) count failures
on top: the lock-out stops guessing one account's password, the per-address limit stops
trying one password on many accounts.  A refusal by them skips Argon2: it depends only
on counts that known and unknown usernames fill alike, and it exists to spare the work.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

from .audit import AuditEventType, Auditor, Origin
from .clock import Clock
from .login_throttle import NO_LOGIN_THROTTLE, LoginThrottle
from .models import User
from .passwords import PasswordVerifier
from .ratelimit import address_key
from .storage import LoginAttemptStore
from .users import UserSource

LOCK_THRESHOLD = 5
LOCK_BASE = 30
LOCK_CAP = 15 * 60
#: a source's failures are forgotten this long after its first one (or at its success)
SOURCE_WINDOW = 24 * 3600
#: failures of one username from all sources, within :data:`USERNAME_WINDOW`, that lock
#: it for everyone for :data:`USERNAME_WINDOW` seconds
USERNAME_CEILING = 100
USERNAME_WINDOW = 3600


class LoginError(Exception):
    """Sign-in refused; the message is fit to show the user."""


class LoginFailed(LoginError):
    """Unknown user or wrong password: deliberately indistinguishable."""

    def __init__(self) -> None:
        super().__init__("invalid username or password")


class LoginLocked(LoginError):
    """Too many failed sign-ins; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")
        self.retry_after = retry_after


class LoginThrottled(LoginError):
    """Too many failed sign-ins from this address or for this username (a rate limit);
    try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-in attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


def lock_seconds(failures: int) -> int:
    """How long ``failures`` consecutive failures lock the source (0: not at all)."""
    if failures < LOCK_THRESHOLD:
        return 0
    return min(LOCK_BASE << min(failures - LOCK_THRESHOLD, 16), LOCK_CAP)


class LoginService:
    """Checks a username and password against the user source (:mod:`.users`); keeps
    the failures and the locks, whatever the source.

    ``key`` keys the digests that name rows of ``login_failures``: usernames come from
    the request (a password typed into the username field among them), so neither they
    nor the addresses are stored in clear, and every key has the same small size.
    """

    def __init__(
        self,
        users: UserSource,
        attempts: LoginAttemptStore,
        clock: Clock,
        throttle: LoginThrottle = NO_LOGIN_THROTTLE,
        *,
        key: bytes,
        verifier: PasswordVerifier,
        audit: Auditor | None = None,
    ) -> None:
        self._users = users
        self._attempts = attempts
        self._clock = clock
        self._throttle = throttle
        self._key = key
        self.verifier = verifier
        self._audit = audit

    def _digest(self, kind: str, *parts: str) -> str:
        message = "\0".join(parts).encode("utf-8", "surrogatepass")
        return kind + hmac.digest(self._key, message, hashlib.sha256).hex()

    def source_key(self, username: str, address: str | None) -> str:
        """The row of one source: the username with the address (``None``, unknown:
        a Unix socket without forwarded headers, counts as one address)."""
        return self._digest("a:", username, address or "")

    def username_key(self, username: str) -> str:
        """The row of the per-username ceiling."""
        return self._digest("u:", username)

    async def _failed(
        self,
        user: User | None,
        username: str,
        address: str | None,
        now: int,
        origin: Origin | None,
        client_id: str | None,
        extra: dict[str, Any] | None,
    ) -> None:
        """Count a refused sign-in against the source, the username and the rate
        limits; lock what reached its threshold, and record it all.

        An unknown username is recorded without a subject, only that an attempt came
        from the IP address (it may be a mistyped password: see core/audit.py).
        """
        source, everyone = self.source_key(username, address), self.username_key(username)
        failures, total = await asyncio.gather(
            self._attempts.note_login_failure(source, now, now + SOURCE_WINDOW),
            self._attempts.note_login_failure(everyone, now, now + USERNAME_WINDOW),
        )
        locks: list[tuple[str, int]] = []
        if seconds := lock_seconds(failures):
            await self._attempts.lock_login(source, now + seconds)
            locks.append(("address", now + seconds))
        if total >= USERNAME_CEILING:
            await self._attempts.lock_login(everyone, now + USERNAME_WINDOW)
            locks.append(("username", now + USERNAME_WINDOW))
        if self._throttle.enabled:
            await self._throttle.failed(address, username)
        if self._audit is None:
            return
        subject = user.user_id if user else None
        await self._audit.record(
            AuditEventType.LOGIN_FAILED,
            origin,
            client_id=client_id,
            subject=subject,
            reason="wrong_password" if user else "unknown_user",
            failures=failures,
            **(extra or {}),
        )
        for per, until in locks:
            await self._audit.record(
                AuditEventType.LOGIN_LOCKED,
                origin,
                subject=subject,
                per=per,
                failures=failures if per == "address" else total,
                locked_until=until,
            )

    async def authenticate(
        self,
        username: str,
        password: str,
        *,
        client_ip: str | None = None,
        origin: Origin | None = None,
        client_id: str | None = None,
        audit_detail: dict[str, Any] | None = None,
        record_success: bool = True,
    ) -> User:
        """The user, or :class:`LoginFailed` / :class:`LoginLocked` /
        :class:`LoginThrottled`; ``client_ip`` is the address the attempt comes from,
        ``origin`` where it came from for the audit events (by default that address).

        Refusals while locked or throttled are neither counted nor recorded: they cost
        an attacker nothing, so each one being a write would let anyone fill the
        tables.  :class:`~mintage.core.errors.TemporarilyUnavailableError` (503) when
        the password pool is full: nothing was checked or counted.
        """
        if origin is None and client_ip is not None:
            origin = Origin(client_ip)
        address = address_key(client_ip)
        if self._throttle.enabled:
            retry_after = await self._throttle.exhausted(address, username)
            if retry_after is not None:
                raise LoginThrottled(retry_after)
        now = self._clock()
        source = self.source_key(username, address)
        user = await self._users.get_user_by_username(username)
        rows = await self._attempts.get_login_failures((source, self.username_key(username)), now)
        locked_until = max((r.locked_until or 0 for r in rows), default=0)
        locked = locked_until > now
        # One verification whatever the outcome, on the bounded pool: against the
        # source's dummy hash for an unknown user and while locked (whose password is
        # then not checked at all); see core/users.py.
        checked = user if not locked else None
        ok = await self.verifier.run(self._users.verify_password, checked, password)
        if locked:
            raise LoginLocked(locked_until - now)
        if user is None or not ok:
            await self._failed(user, username, address, now, origin, client_id, audit_detail)
            raise LoginFailed
        if any(r.key == source for r in rows):
            # The ceiling stays: it counts everyone's guesses, which the owner's
            # success does not make any less (and it locks the owner out too).
            await self._attempts.clear_login_failures(source)
        if self._audit is not None and record_success:
            await self._audit.record(AuditEventType.LOGIN_SUCCEEDED, origin, subject=user.user_id)
        return user
