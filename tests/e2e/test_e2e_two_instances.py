"""Several ``mintage serve`` processes sharing one PostgreSQL database (docs/operations.md,
"Several instances").

Two real servers, A and B, on their own ports and the same schema: a token issued at one
is valid, introspectable and revocable at the other, and a change made anywhere else (the
CLI, another instance) reaches A within one second, through PostgreSQL ``NOTIFY``,
although A caches clients for 30 s.  Also ``--workers 2``.

Each test gets a schema of its own (``?search_path=`` in the URL).  Skipped when
PostgreSQL is unreachable, unless ``MINTAGE_REQUIRE_POSTGRES=1`` (CI), which fails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from serve_process import Process, clean_env, free_port, mintage

from mintage.storage.sql.pg_listener import channel_for
from mintage.storage.sql.postgres import PostgresStorage
from polling import SCALE, scaled, until_blocking

POSTGRES_URL = os.environ.get(
    "MINTAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SECRET_KEY = secrets.token_urlsafe(32)  # the same on every instance, as PostgreSQL requires
ENV = {"MINTAGE_SECRET_KEY": SECRET_KEY, "MINTAGE_CREATE_DEMO_CLIENT": "false"}
#: "within 1 s": the deadline of every poll below.
WITHIN = 1.0


async def _run_sql(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database() -> Iterator[str]:
    """A PostgreSQL URL whose connections all land in a fresh schema, dropped after."""
    schema = f"test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_run_sql(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to connect means "not reachable"
        reason = f"PostgreSQL not reachable ({type(exc).__name__}: {exc})"
        if os.environ.get("MINTAGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; MINTAGE_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(f"{reason}; set MINTAGE_TEST_POSTGRES_URL to run the scale-out tests")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}search_path={schema}"
    finally:
        asyncio.run(_run_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@dataclass
class Instance:
    process: Process
    url: str


@pytest.fixture
def start(database: str, tmp_path: Path) -> Iterator[Callable[..., list[Instance]]]:
    started: list[Process] = []

    def start_instances(*workers: int) -> list[Instance]:
        """One server per entry of ``workers`` (its worker count), started together."""
        instances = []
        for count in workers:
            port = free_port()
            args = [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port)]
            process = Process(
                [*args, "--workers", str(count), "--database-url", database],
                tmp_path,
                clean_env(**ENV),
                f"serve-{len(started)}",
            )
            started.append(process)
            instances.append(Instance(process, f"http://127.0.0.1:{port}"))
        for instance in instances:
            instance.process.wait_healthy(instance.url + "/readyz")
        return instances

    yield start_instances
    for process in started:
        if process.popen.poll() is None:
            assert process.stop(signal.SIGTERM) == 0, process.stderr
        assert "Traceback" not in process.stderr, process.stderr


def cli(database: str, cwd: Path, *args: str) -> Any:
    result = mintage(*args, "--json", "--database-url", database, cwd=cwd, env=ENV)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def create_client(database: str, cwd: Path) -> tuple[str, str]:
    made = cli(
        database, cwd, "client", "create", "--name", "svc",
        "--grant-type", "client_credentials", "--scope", "read write",
    )  # fmt: skip
    return str(made["client_id"]), str(made["client_secret"])


def token(url: str, client_id: str, secret: str, scope: str = "read") -> httpx.Response:
    """A client_credentials request on a new connection (so any worker may answer)."""
    return httpx.post(
        url + "/oauth/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "scope": scope},
    )


def until(check: Callable[[], bool], since: float) -> float:
    """Seconds from ``since`` until ``check()`` first held; fails past :data:`WITHIN`
    (scaled) from ``since``."""
    left = scaled(WITHIN) - (time.monotonic() - since)
    until_blocking(check, within=left / SCALE, what="seen by the other instance")
    return time.monotonic() - since


def test_tokens_are_shared_and_revocation_is_immediate(
    start: Callable[..., list[Instance]], database: str, tmp_path: Path
) -> None:
    a, b = start(1, 1)
    client_id, secret = create_client(database, tmp_path)
    issued = token(a.url, client_id, secret)
    assert issued.status_code == 200, issued.text
    access = issued.json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}

    at_b = httpx.get(b.url + "/resource", headers=bearer)
    assert at_b.status_code == 200 and at_b.json()["client_id"] == client_id
    seen = httpx.post(b.url + "/oauth/introspect", auth=(client_id, secret), data={"token": access})
    assert seen.json()["active"] is True and seen.json()["client_id"] == client_id

    revoked = httpx.post(b.url + "/oauth/revoke", auth=(client_id, secret), data={"token": access})
    assert revoked.status_code == 200
    # Tokens are never cached: the very next request at A reads the revocation.
    at_a = httpx.get(a.url + "/resource", headers=bearer)
    assert at_a.status_code == 401 and 'error="invalid_token"' in at_a.headers["www-authenticate"]
    for instance in (a, b):
        gone = httpx.post(
            instance.url + "/oauth/introspect", auth=(client_id, secret), data={"token": access}
        )
        assert gone.json() == {"active": False}


def test_client_changes_elsewhere_reach_a_running_instance_within_a_second(
    start: Callable[..., list[Instance]], database: str, tmp_path: Path
) -> None:
    (a,) = start(1)
    client_id, secret = create_client(database, tmp_path)
    with httpx.Client(base_url=a.url) as at_a:

        def status(secret: str, scope: str = "read") -> int:
            return at_a.post(
                "/oauth/token",
                auth=(client_id, secret),
                data={"grant_type": "client_credentials", "scope": scope},
            ).status_code

        assert status(secret) == 200  # the client is in A's cache now (for 30 s)

        # Secret rotated by the CLI (another process). Its commit and NOTIFY happen
        # before it exits, so timing from its exit can only flatter by its shutdown.
        rotated = cli(database, tmp_path, "client", "rotate-secret", client_id)
        since = time.monotonic()
        refused = until(lambda: status(secret) == 401, since)
        new_secret = str(rotated["client_secret"])
        assert status(new_secret) == 200

        # Scopes narrowed by another instance (this test process, through the library).
        assert status(new_secret, "write") == 200

        async def narrow() -> float:
            store = PostgresStorage(database)
            await store.open()
            try:
                current = await store.get_client(client_id)
                assert current is not None
                await store.save_client(dataclasses.replace(current, scopes=("read",)))
                return time.monotonic()  # committed, NOTIFY sent
            finally:
                await store.close()

        narrowed = until(lambda: status(new_secret, "write") == 400, asyncio.run(narrow()))
        assert status(new_secret, "read") == 200

        # Deleted by the CLI.
        cli(database, tmp_path, "client", "delete", client_id)
        deleted = until(lambda: status(new_secret) == 401, time.monotonic())

        # A signing key rotated by the CLI is published by A.
        def published() -> set[str]:
            return {k["kid"] for k in at_a.get("/.well-known/jwks.json").json()["keys"]}

        assert published()  # loaded (and trusted by A's key ring for a second)
        (made,) = cli(database, tmp_path, "keys", "rotate", "--alg", "ES256")
        key_seen = until(lambda: made["kid"] in published(), time.monotonic())

    print(f"seen at A after: rotation {refused:.3f} s, scopes {narrowed:.3f} s,", end=" ")
    print(f"delete {deleted:.3f} s, key {key_seen:.3f} s")


def test_workers_each_listen_and_follow_changes(
    start: Callable[..., list[Instance]], database: str, tmp_path: Path
) -> None:
    a, b = start(2, 1)  # A: --workers 2, B: one process
    client_id, secret = create_client(database, tmp_path)

    # Every worker of A and B holds its own LISTEN connection on the schema's channel.
    async def listeners() -> int:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                channel_for(database.rpartition("search_path=")[2]),
            )
            return count
        finally:
            await conn.close()

    assert asyncio.run(listeners()) == 3

    issued = token(b.url, client_id, secret)
    assert issued.status_code == 200
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    # New connections, so both workers of A answer some of these (and cache the client).
    for _ in range(16):
        assert httpx.get(a.url + "/resource", headers=bearer).status_code == 200
        assert token(a.url, client_id, secret).status_code == 200

    cli(database, tmp_path, "client", "rotate-secret", client_id)
    since = time.monotonic()
    refused = until(lambda: token(a.url, client_id, secret).status_code == 401, since)
    time.sleep(max(0.0, scaled(WITHIN) - (time.monotonic() - since)))  # the bound's end
    # One second on, no worker accepts the old secret any more.
    assert [token(a.url, client_id, secret).status_code for _ in range(16)] == [401] * 16
    print(f"old secret first refused at A after {refused:.3f} s")
