"""Human passwords: Argon2id, verified on a bounded pool of its own (RFC 9106)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from mintage.core import passwords
from mintage.core.errors import TemporarilyUnavailableError
from mintage.core.passwords import PasswordVerifier, check_password, hash_password
from oauth_testkit import PASSWORD, password_hash


async def test_hash_and_verify() -> None:
    hashed = hash_password("s3cret pass")
    assert hashed.startswith("$argon2id$")
    assert "s3cret" not in hashed
    verifier = PasswordVerifier()
    try:
        assert await verifier.verify(hashed, "s3cret pass")
        assert not await verifier.verify(hashed, "s3cret pasS")
    finally:
        verifier.close()


def test_unknown_user_and_broken_hash_never_verify() -> None:
    assert not check_password(None, "mintage dummy password")
    assert not check_password("not a hash", "x")


def test_pool_size_defaults_to_the_cpus_within_bounds() -> None:
    assert 1 <= PasswordVerifier().threads <= passwords.MAX_DEFAULT_THREADS
    assert PasswordVerifier(3, 7).threads == 3
    assert PasswordVerifier(3, 7).capacity == 10


class Gate:
    """Stands in for Argon2: each verification blocks until the gate opens."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Semaphore(0)

    def check(self, password_hash: str | None, password: str) -> bool:
        self.started.release()
        self.open.wait()
        return password_hash is not None


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    monkeypatch.setattr(passwords, "check_password", gate.check)
    try:
        yield gate
    finally:
        gate.open.set()  # never leave a thread blocked


async def test_a_full_pool_refuses_at_once_then_recovers(gate: Gate) -> None:
    verifier = PasswordVerifier(threads=1, queue=1)
    try:
        running = asyncio.create_task(verifier.verify(password_hash(), PASSWORD))
        waiting = asyncio.create_task(verifier.verify(None, PASSWORD))
        await asyncio.to_thread(gate.started.acquire)  # the first one holds the thread
        assert verifier.pending == 2
        with pytest.raises(TemporarilyUnavailableError) as refused:
            await verifier.verify(password_hash(), PASSWORD)
        assert refused.value.status_code == 503
        assert refused.value.headers == {"Retry-After": str(passwords.BUSY_RETRY_AFTER)}
        assert refused.value.body()["error"] == "temporarily_unavailable"
        gate.open.set()
        assert await running is True and await waiting is False
        assert verifier.pending == 0
        assert await verifier.verify(password_hash(), PASSWORD) is True
    finally:
        verifier.close()


async def test_a_closed_pool_starts_again_on_use(gate: Gate) -> None:
    gate.open.set()
    verifier = PasswordVerifier(threads=1, queue=0)
    assert await verifier.verify(password_hash(), PASSWORD)
    verifier.close()
    assert await verifier.verify(password_hash(), PASSWORD)
    verifier.close()
