"""Signing users in: Argon2id verification and lock-out with backoff.

RFC 6749 §10.10: the server "MUST prevent attackers from guessing ... resource owner
passwords".  After :data:`LOCK_THRESHOLD` consecutive failures the user is locked for
:data:`LOCK_BASE` seconds, doubling with every further failure up to :data:`LOCK_CAP`.
While locked, no password is checked at all, so guessing gains nothing.

A wrong password and an unknown user raise the same :class:`LoginFailed`, and both cost
one Argon2 verification (a dummy hash for unknown users), so neither the answer nor its
timing says which usernames exist.  Unknown usernames are locked out on the same
schedule too (in a bounded table in this process): otherwise the lock-out itself would
tell an attacker that a name exists, since only real accounts would ever lock.

On top of the lock-out, sign-in attempts are rate limited per address and per username
(:class:`~mintage.core.ratelimit.Throttle`): the lock-out stops guessing one account's
password, the per-address limit stops trying one password on many accounts.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

from . import passwords
from .audit import AuditEventType, Auditor, Origin
from .clock import Clock
from .errors import TooManyRequestsError
from .models import User
from .ratelimit import NO_THROTTLE, Throttle
from .storage import LoginAttemptStore, UserStore

LOCK_THRESHOLD = 5
LOCK_BASE = 30
LOCK_CAP = 15 * 60
#: unknown usernames whose failures are remembered (oldest forgotten first)
PHANTOM_CAPACITY = 10_000


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
    """Too many sign-in attempts from this address or for this username (a rate limit,
    whether or not they failed); try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-in attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


def lock_seconds(failures: int) -> int:
    """How long ``failures`` consecutive failures lock the user (0: not at all)."""
    if failures < LOCK_THRESHOLD:
        return 0
    return min(LOCK_BASE << min(failures - LOCK_THRESHOLD, 16), LOCK_CAP)


class LoginService:
    """Checks a username and password; keeps the failure count and the lock."""

    def __init__(
        self,
        users: UserStore,
        attempts: LoginAttemptStore,
        clock: Clock,
        throttle: Throttle = NO_THROTTLE,
        *,
        audit: Auditor | None = None,
    ) -> None:
        self._users = users
        self._attempts = attempts
        self._clock = clock
        self._throttle = throttle
        self._audit = audit
        # username -> (failures, locked_until) for names with no account
        self._phantoms: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def _phantom_failure(self, username: str, now: int) -> tuple[int, int]:
        """Count a failure of an unknown name; its failures and lock (0: none)."""
        failures = self._phantoms.pop(username, (0, 0))[0] + 1
        seconds = lock_seconds(failures)
        self._phantoms[username] = (failures, now + seconds if seconds else 0)
        if len(self._phantoms) > PHANTOM_CAPACITY:
            self._phantoms.popitem(last=False)
        return failures, now + seconds if seconds else 0

    async def _failed(
        self,
        user: User | None,
        failures: int,
        locked_until: int,
        origin: Origin | None,
        client_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Record a refused sign-in, and the lock it caused.

        An unknown username is not recorded, only that an attempt came from the IP
        address (it may be a mistyped password: see core/audit.py).  Refusals while
        locked are not recorded at all: they cost an attacker nothing, so each one
        being a write would let anyone fill the table.
        """
        if self._audit is None:
            return
        subject = user.user_id if user else None
        reason = "wrong_password" if user else "unknown_user"
        await self._audit.record(
            AuditEventType.LOGIN_FAILED,
            origin,
            client_id=client_id,
            subject=subject,
            reason=reason,
            failures=failures,
            **(extra or {}),
        )
        if locked_until:
            await self._audit.record(
                AuditEventType.LOGIN_LOCKED,
                origin,
                subject=subject,
                failures=failures,
                locked_until=locked_until,
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
        Throttled attempts are not recorded, as attempts while locked are not."""
        if origin is None and client_ip is not None:
            origin = Origin(client_ip)
        if self._throttle.enabled:
            try:
                await self._throttle.admit(client_ip, username)
            except TooManyRequestsError as exc:
                raise LoginThrottled(exc.retry_after) from None
        user = await self._users.get_user_by_username(username)
        now = self._clock()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            raise LoginLocked(user.locked_until - now)
        if user is None:
            phantom_lock = self._phantoms.get(username, (0, 0))[1]
            if phantom_lock > now:
                raise LoginLocked(phantom_lock - now)
        # Verified even for unknown users, against a dummy hash: same work, same time.
        ok = await passwords.verify_password(user.password_hash if user else None, password)
        if user is None:
            await self._failed(
                None, *self._phantom_failure(username, now), origin, client_id, audit_detail
            )
            raise LoginFailed
        if not ok:
            failures = await self._attempts.note_login_failure(user.user_id)
            seconds = lock_seconds(failures)
            if seconds:
                await self._attempts.lock_user(user.user_id, now + seconds)
            locked = now + seconds if seconds else 0
            await self._failed(user, failures, locked, origin, client_id, audit_detail)
            raise LoginFailed
        if user.failed_logins or user.locked_until is not None:
            await self._attempts.clear_login_failures(user.user_id)
            user = dataclasses.replace(user, failed_logins=0, locked_until=None)
        if self._audit is not None and record_success:
            await self._audit.record(AuditEventType.LOGIN_SUCCEEDED, origin, subject=user.user_id)
        return user
