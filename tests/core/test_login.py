"""Signing in (RFC 9700 §4.11 brute force): Argon2id, lock-out with backoff, no user
enumeration through errors or work done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from mintage.core import passwords
from mintage.core.clock import FrozenClock
from mintage.core.login import (
    LOCK_BASE,
    LOCK_CAP,
    LOCK_THRESHOLD,
    LoginFailed,
    LoginLocked,
    LoginService,
    lock_seconds,
)
from mintage.core.models import User
from mintage.core.server import AuthorizationServer
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PASSWORD, add_user

Verify = Callable[[str | None, str], Awaitable[bool]]


@pytest.fixture
def login(engine: AuthorizationServer) -> LoginService:
    assert engine.login is not None
    return engine.login


@pytest.fixture
async def alice(store: MemoryStorage) -> User:
    return await add_user(store, "alice")


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Records the hash every Argon2 verification is given (None: the dummy)."""
    calls: list[str | None] = []
    real: Verify = passwords.verify_password

    async def spy(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return await real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    return calls


async def test_right_password_signs_in(login: LoginService, alice: User) -> None:
    assert await login.authenticate("alice", PASSWORD) == alice


async def test_wrong_password_and_unknown_user_look_the_same(
    login: LoginService, alice: User, verified: list[str | None]
) -> None:
    with pytest.raises(LoginFailed) as wrong:
        await login.authenticate("alice", "nope")
    with pytest.raises(LoginFailed) as unknown:
        await login.authenticate("mallory", PASSWORD)
    assert type(wrong.value) is type(unknown.value)
    assert str(wrong.value) == str(unknown.value) == "invalid username or password"
    # both cost one Argon2 verification: the unknown user's against the dummy hash
    assert verified == [alice.password_hash, None]


async def test_usernames_are_exact(login: LoginService, alice: User) -> None:
    for name in ("Alice", "alice ", ""):
        with pytest.raises(LoginFailed):
            await login.authenticate(name, PASSWORD)


def test_backoff_schedule() -> None:
    schedule = [lock_seconds(n) for n in range(1, 13)]
    assert schedule == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]
    assert lock_seconds(LOCK_THRESHOLD) == LOCK_BASE
    assert lock_seconds(10_000) == LOCK_CAP


async def fail(login: LoginService, times: int) -> None:
    for _ in range(times):
        with pytest.raises(LoginFailed):
            await login.authenticate("alice", "wrong")


async def test_lock_out_after_five_failures_with_doubling_backoff(
    login: LoginService,
    store: MemoryStorage,
    clock: FrozenClock,
    alice: User,
    verified: list[str | None],
) -> None:
    await fail(login, 4)
    assert store.users[alice.user_id].locked_until is None
    assert await login.authenticate("alice", PASSWORD) == store.users[alice.user_id]
    # a success resets the count
    assert store.users[alice.user_id].failed_logins == 0

    await fail(login, 5)
    assert store.users[alice.user_id].locked_until == clock.now + 30
    verified.clear()
    with pytest.raises(LoginLocked) as info:
        await login.authenticate("alice", PASSWORD)  # even the right password
    assert info.value.retry_after == 30
    assert verified == []  # no password is checked while locked
    clock.advance(10)
    with pytest.raises(LoginLocked) as info:
        await login.authenticate("alice", "wrong")
    assert info.value.retry_after == 20
    assert store.users[alice.user_id].failed_logins == 5  # locked attempts do not count

    for expected in (60, 120, 240, 480, 900, 900):
        clock.advance(store.users[alice.user_id].locked_until - clock.now)  # type: ignore[operator]
        await fail(login, 1)
        assert store.users[alice.user_id].locked_until == clock.now + expected

    clock.advance(900)
    user = await login.authenticate("alice", PASSWORD)
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert (store.users[alice.user_id].failed_logins, store.users[alice.user_id].locked_until) == (
        0,
        None,
    )


async def test_lock_is_per_user(login: LoginService, store: MemoryStorage, alice: User) -> None:
    bob = await add_user(store, "bob")
    await fail(login, 5)
    assert await login.authenticate("bob", PASSWORD) == bob
    with pytest.raises(LoginLocked):
        await login.authenticate("alice", PASSWORD)


async def test_unknown_users_lock_out_exactly_like_real_ones(
    login: LoginService, clock: FrozenClock, alice: User
) -> None:
    """Otherwise the lock-out itself would reveal which usernames exist."""
    seen: dict[str, list[str]] = {}
    for name in ("alice", "mallory"):
        outcomes = []
        for _ in range(LOCK_THRESHOLD + 1):
            try:
                await login.authenticate(name, "wrong")
            except LoginLocked as exc:
                outcomes.append(f"locked {exc.retry_after}")
            except LoginFailed:
                outcomes.append("failed")
        seen[name] = outcomes
    assert seen["alice"] == seen["mallory"]
    assert seen["mallory"][-1] == f"locked {LOCK_BASE}"
    clock.advance(LOCK_BASE)
    with pytest.raises(LoginFailed):
        await login.authenticate("mallory", "wrong")


async def test_unknown_usernames_are_remembered_in_a_bounded_table(
    login: LoginService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mintage.core.login.PHANTOM_CAPACITY", 3)
    for name in ("a", "b", "c", "d"):
        with pytest.raises(LoginFailed):
            await login.authenticate(name, "wrong")
    assert list(login._phantoms) == ["b", "c", "d"]
