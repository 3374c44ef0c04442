"""Signing in (RFC 9700 §4.11 brute force): Argon2id, lock-out per source with backoff,
a per-username ceiling, no user enumeration through errors or work done."""

from __future__ import annotations

import pytest

from mintage.core import passwords
from mintage.core.clock import FrozenClock
from mintage.core.login import (
    LOCK_BASE,
    LOCK_CAP,
    LOCK_THRESHOLD,
    SOURCE_WINDOW,
    USERNAME_CEILING,
    USERNAME_WINDOW,
    LoginFailed,
    LoginLocked,
    LoginService,
    lock_seconds,
)
from mintage.core.models import User
from mintage.core.server import AuthorizationServer
from mintage.core.users import StoreUserSource
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PASSWORD, add_user

ATTACKER = "198.51.100.7"
OWNER = "203.0.113.20"


@pytest.fixture
def login(engine: AuthorizationServer) -> LoginService:
    return engine.login


@pytest.fixture
async def alice(store: MemoryStorage) -> User:
    return await add_user(store, "alice")


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Records the hash every Argon2 verification is given (None: the dummy)."""
    calls: list[str | None] = []
    real = passwords.check_password

    def spy(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "check_password", spy)
    return calls


async def test_right_password_signs_in(login: LoginService, alice: User) -> None:
    assert await login.authenticate("alice", PASSWORD, client_ip=OWNER) == alice


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


async def fail(login: LoginService, times: int, ip: str = ATTACKER, name: str = "alice") -> None:
    for _ in range(times):
        with pytest.raises(LoginFailed):
            await login.authenticate(name, "wrong", client_ip=ip)


async def test_lock_out_after_five_failures_with_doubling_backoff(
    login: LoginService,
    store: MemoryStorage,
    clock: FrozenClock,
    alice: User,
    verified: list[str | None],
) -> None:
    source = login.source_key("alice", ATTACKER)
    await fail(login, 4)
    assert store.login_failures[source].locked_until is None
    assert await login.authenticate("alice", PASSWORD, client_ip=ATTACKER) == alice
    assert source not in store.login_failures  # a success forgets the source

    await fail(login, 5)
    assert store.login_failures[source].locked_until == clock.now + 30
    verified.clear()
    with pytest.raises(LoginLocked) as info:
        await login.authenticate("alice", PASSWORD, client_ip=ATTACKER)  # even the right one
    assert info.value.retry_after == 30
    # the same Argon2 work while locked, against the dummy: the password is not checked
    assert verified == [None]
    clock.advance(10)
    with pytest.raises(LoginLocked) as info:
        await login.authenticate("alice", "wrong", client_ip=ATTACKER)
    assert info.value.retry_after == 20
    assert store.login_failures[source].failures == 5  # locked attempts do not count

    for expected in (60, 120, 240, 480, 900, 900):
        clock.advance(store.login_failures[source].locked_until - clock.now)  # type: ignore[operator]
        await fail(login, 1)
        assert store.login_failures[source].locked_until == clock.now + expected

    clock.advance(900)
    assert await login.authenticate("alice", PASSWORD, client_ip=ATTACKER) == alice
    assert source not in store.login_failures


async def test_an_attacker_locks_only_their_own_source(
    login: LoginService, clock: FrozenClock, alice: User
) -> None:
    """A3: one wrong password from address A each time its lock ends: A is soon at the
    longest backoff, and the owner at B signs in all along."""
    await fail(login, LOCK_THRESHOLD)
    for _ in range(6):
        with pytest.raises(LoginLocked) as info:
            await login.authenticate("alice", PASSWORD, client_ip=ATTACKER)
        assert await login.authenticate("alice", PASSWORD, client_ip=OWNER) == alice
        clock.advance(info.value.retry_after)
        await fail(login, 1)
    assert info.value.retry_after == LOCK_CAP


async def test_ipv6_sources_are_counted_by_their_64_prefix(
    login: LoginService, alice: User
) -> None:
    for i in range(LOCK_THRESHOLD):
        await fail(login, 1, ip=f"2001:db8:1:2::{i + 1:x}")
    with pytest.raises(LoginLocked):
        await login.authenticate("alice", PASSWORD, client_ip="2001:db8:1:2:ffff::1")
    assert await login.authenticate("alice", PASSWORD, client_ip="2001:db8:1:3::1") == alice


async def test_unknown_users_lock_out_exactly_like_real_ones(
    login: LoginService, clock: FrozenClock, alice: User, verified: list[str | None]
) -> None:
    """Otherwise the lock-out itself would reveal which usernames exist."""
    seen: dict[str, list[str]] = {}
    for name in ("alice", "mallory"):
        outcomes = []
        for _ in range(LOCK_THRESHOLD + 1):
            try:
                await login.authenticate(name, "wrong", client_ip=ATTACKER)
            except LoginLocked as exc:
                outcomes.append(f"locked {exc.retry_after}")
            except LoginFailed:
                outcomes.append("failed")
        seen[name] = outcomes
    assert seen["alice"] == seen["mallory"]
    assert seen["mallory"][-1] == f"locked {LOCK_BASE}"
    # every attempt ran Argon2: alice's hash while not locked, the dummy otherwise
    assert verified == [alice.password_hash] * LOCK_THRESHOLD + [None] * (LOCK_THRESHOLD + 2)
    clock.advance(LOCK_BASE)
    with pytest.raises(LoginFailed):
        await login.authenticate("mallory", "wrong", client_ip=ATTACKER)


async def test_many_sources_reach_the_per_username_ceiling(
    login: LoginService, store: MemoryStorage, clock: FrozenClock, alice: User
) -> None:
    """Each address stays under the lock-out; together they lock the username for
    everyone, the owner included, until the window has passed."""
    per_address = LOCK_THRESHOLD - 1
    addresses = [f"192.0.2.{i}" for i in range(USERNAME_CEILING // per_address)]
    for address in addresses[:-1]:
        await fail(login, per_address, ip=address)
    # The owner signing in meanwhile clears only their own source, not the ceiling.
    assert await login.authenticate("alice", PASSWORD, client_ip=OWNER) == alice
    await fail(login, per_address - 1, ip=addresses[-1])
    assert await login.authenticate("alice", PASSWORD, client_ip=OWNER) == alice
    await fail(login, 1, ip=addresses[-1])  # the hundredth failure
    with pytest.raises(LoginLocked) as info:
        await login.authenticate("alice", PASSWORD, client_ip=OWNER)
    assert info.value.retry_after == USERNAME_WINDOW
    clock.advance(USERNAME_WINDOW)
    assert await login.authenticate("alice", PASSWORD, client_ip=OWNER) == alice


async def test_rows_are_keyed_by_digests_of_bounded_size(
    login: LoginService, store: MemoryStorage
) -> None:
    """Usernames come from the request (a password typed as one, a 10 kB one): the table
    holds neither them nor the addresses, and every key has the same small size."""
    for name in ("Tr0ub4dor&3", "x" * 10_000):
        await fail(login, 1, name=name)
    keys = list(store.login_failures)
    assert len(keys) == 4 and {len(k) for k in keys} == {66}
    assert not any("Tr0ub4dor" in k or "xxxx" in k or ATTACKER in k for k in keys)
    other = LoginService(
        StoreUserSource(store), store, FrozenClock(), key=b"another key", verifier=login.verifier
    )
    assert other.source_key("Tr0ub4dor&3", ATTACKER) not in keys


async def test_source_rows_expire_a_day_after_the_first_failure(
    login: LoginService, store: MemoryStorage, clock: FrozenClock, alice: User
) -> None:
    await fail(login, LOCK_THRESHOLD - 1)
    clock.advance(SOURCE_WINDOW)
    await fail(login, 1)  # a new window: the count starts again
    assert store.login_failures[login.source_key("alice", ATTACKER)].failures == 1
    assert await store.purge_expired(clock.now + SOURCE_WINDOW + 1, 100) == 2
    assert store.login_failures == {}
