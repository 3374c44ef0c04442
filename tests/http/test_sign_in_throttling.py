"""The sign-in page and the password grant under load and attack, with default settings
(RFC 6749 §10.10): failures alone are rate limited, the lock-out slows the guessing
source and not the owner, the Argon2 pool is bounded (503), and several workers sharing
one database answer known and unknown usernames alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from backend_testkit import sqlite_url  # noqa: F401 (a fixture, found by pytest)
from mintage.core import passwords
from mintage.core.login import LOCK_BASE, LOCK_THRESHOLD
from mintage.storage.sql.sqlite import SQLiteStorage
from oauth_testkit import BASE_URL, PASSWORD, MakeServer, Server, add_user, page_forms

NAT = "192.0.2.1"  # a company behind one address
ATTACKER = "198.51.100.7"
OWNER = "203.0.113.20"


@contextlib.asynccontextmanager
async def from_ip(server: Server, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=server.app, client=(ip, 4321))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


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


async def sign_in(
    http: httpx.AsyncClient, username: str = "alice", password: str = PASSWORD
) -> httpx.Response:
    """The form as a fresh browser posts it: its own CSRF cookie, no session yet."""
    http.cookies.clear()
    page = await http.get("/login")
    assert page.status_code == 200, page.text
    (form,) = page_forms(page.text)
    return await http.post(
        "/login", data={**form.fields, "username": username, "password": password}
    )


# A1: successes are not rate limited, failures are


async def test_two_hundred_people_behind_one_address_all_sign_in(make_server: MakeServer) -> None:
    server = await make_server(rate_limits_enabled=True)
    for i in range(200):
        await server.user(f"employee{i}")
    async with from_ip(server, NAT) as http:
        for i in range(200):
            assert (await sign_in(http, f"employee{i}")).status_code == 303, i
        # and a test suite signing one user in again and again
        for _ in range(30):
            assert (await sign_in(http, "employee0")).status_code == 303


async def test_the_31st_wrong_password_from_one_address_is_refused(
    make_server: MakeServer, verified: list[str | None]
) -> None:
    server = await make_server(rate_limits_enabled=True)
    await server.user()
    for i in range(31):  # real accounts: their hashes are cheap, the dummy is not
        await server.user(f"victim{i}")
    async with from_ip(server, ATTACKER) as http:
        for i in range(30):  # one password tried on many accounts
            assert (await sign_in(http, f"victim{i}", "Summer2024!")).status_code == 401
        refused = await sign_in(http, "victim30", "Summer2024!")
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await sign_in(http)).status_code == 429  # the address, whatever it tries
        # refused for the source, before any password is checked: no Argon2 spent
        assert len(verified) == 30
    async with from_ip(server, OWNER) as http:
        assert (await sign_in(http)).status_code == 303
    server.clock.advance(60)
    async with from_ip(server, ATTACKER) as http:
        assert (await sign_in(http)).status_code == 303


# A3: the lock-out slows the source, not the owner


async def test_an_attacker_at_a_keeps_failing_and_the_owner_at_b_signs_in(
    make_server: MakeServer,
) -> None:
    server = await make_server(rate_limits_enabled=True)
    await server.user()
    async with from_ip(server, ATTACKER) as attacker, from_ip(server, OWNER) as owner:
        for _ in range(LOCK_THRESHOLD):
            assert (await sign_in(attacker, password="guess")).status_code == 401
        for _ in range(4):  # every time its lock ends, the attacker fails once more
            locked = await sign_in(attacker)  # even with the right password
            assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
            assert (await sign_in(owner)).status_code == 303
            server.clock.advance(int(locked.headers["retry-after"]))
            assert (await sign_in(attacker, password="guess")).status_code == 401
        assert int(locked.headers["retry-after"]) == LOCK_BASE * 8


# A4: the Argon2 pool is bounded


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


async def test_a_full_password_pool_answers_503_on_the_page_and_the_token_endpoint(
    make_server: MakeServer, gate: Gate
) -> None:
    """One thread and no queue (tests/core/test_passwords.py fills a queue): while one
    sign-in holds the thread, the next ones are refused at once."""
    server = await make_server(password_verify_threads=1, password_verify_queue=0)
    await server.user()
    reg = await server.client(grant_types=("password",))
    grant = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    async with from_ip(server, OWNER) as first, from_ip(server, OWNER) as second:
        running = asyncio.create_task(sign_in(first))
        await asyncio.to_thread(gate.started.acquire)  # it holds the only thread

        busy = await sign_in(second)
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == str(passwords.BUSY_RETRY_AFTER)
        assert busy.headers["content-type"].startswith("text/html")
        assert "Too many sign-ins in progress" in busy.text
        refused = await server.token(grant, reg.basic)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == str(passwords.BUSY_RETRY_AFTER)
        assert refused.json()["error"] == "temporarily_unavailable"
        assert server.storage.login_failures == {}  # nothing was checked, nothing counted

        gate.open.set()
        assert (await running).status_code == 303
    assert (await server.token(grant, reg.basic)).status_code == 200


# B9: no enumeration across workers


async def test_two_workers_answer_known_and_unknown_usernames_alike(
    make_server: MakeServer,
    sqlite_url: str,  # noqa: F811
    verified: list[str | None],
) -> None:
    """Two apps over one SQLite file, as two workers: failures of ``alice`` (who exists)
    and ``nobody`` (who does not), alternating between them, count in the shared table
    and answer alike; every attempt, locked or not, runs one Argon2 verification."""
    workers = [await make_server(storage=SQLiteStorage(sqlite_url)) for _ in range(2)]
    alice = await add_user(workers[0].storage, "alice")

    seen: dict[str, list[tuple[int, str | None]]] = {}
    for name in ("alice", "nobody"):
        answers = []
        for attempt in range(LOCK_THRESHOLD + 2):
            response = await sign_in(workers[attempt % 2].http, name, "guess")
            answers.append((response.status_code, response.headers.get("retry-after")))
        seen[name] = answers
    assert seen["alice"] == seen["nobody"]
    assert seen["nobody"] == [(401, None)] * LOCK_THRESHOLD + [(429, str(LOCK_BASE))] * 2
    # five verifications of alice's hash, then the dummy while locked; the dummy always
    # for nobody
    assert verified == [alice.password_hash] * LOCK_THRESHOLD + [None] * (LOCK_THRESHOLD + 4)
