"""Crash safety: SIGKILL under load loses no token whose 200 the client received.

Issue 6, part 3.  A real ``mintage serve`` issues client-credentials tokens and rotates
refresh tokens for 16 concurrent keep-alive connections; the test kills it with SIGKILL
mid-load (the server process itself: ``mintage serve`` with one worker *is* the uvicorn
server), checks the database as the crash left it, restarts the server on it and asks
the new process about every token whose answer had arrived:

- every such token is in the database (SQLite's ``integrity_check`` is clean too);
- every such access token introspects as ``active: true``;
- the newest refresh token of each chain is valid, and rotates once more, unless a
  rotation using it was in flight at the kill (that request may have consumed it, which
  is the client's risk in any crash; its row must still exist).

Both stores promise this (docs/storage.md): a write method returns only after its
transaction committed (SQLite: group commit, WAL ``write()`` done before any writer
resumes; PostgreSQL: ``COMMIT`` acknowledged), and the response is sent after that.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import signal
import socket
from dataclasses import dataclass, field

from deployment import Credentials, Deployment, Server
from raw_http import Connection, ConnectionLost, basic
from token_load import Chain, introspect_all, rotate_once, start_chains

LOAD_SECONDS = 1.5
CLIENT_CREDENTIALS_WORKERS = 12
REFRESH_CHAINS = 4


@dataclass
class Ledger:
    """What the client saw: tokens received with a 200, and requests left unanswered."""

    access: list[str] = field(default_factory=list)
    refresh: list[str] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    unanswered: int = 0
    problems: list[str] = field(default_factory=list)


async def load_until_killed(
    server: Server, svc: Credentials, app: Credentials, chains: list[Chain]
) -> Ledger:
    """Load for :data:`LOAD_SECONDS`, then SIGKILL the server while requests are in flight."""
    ledger = Ledger(chains=chains)
    killed = False

    async def issue() -> None:
        conn = Connection("127.0.0.1", server.port)
        form = {"grant_type": "client_credentials", "scope": "read"}
        auth = basic(svc.client_id, svc.secret)
        while not killed:
            try:
                reply = await conn.post("/oauth/token", form, auth)
            except ConnectionLost as exc:
                if killed:
                    ledger.unanswered += 1
                else:
                    ledger.problems.append(f"connection lost before the kill: {exc}")
                return
            if reply.status != 200:
                ledger.problems.append(f"{reply.status} {reply.body!r}")
                return
            ledger.access.append(reply.json()["access_token"])

    async def rotate(chain: Chain, park_at: float) -> None:
        conn = Connection("127.0.0.1", server.port)
        auth = basic(app.client_id, app.secret)
        while not killed and loop.time() < park_at:
            form = {"grant_type": "refresh_token", "refresh_token": chain.refresh}
            try:
                reply = await conn.post("/oauth/token", form, auth)
            except ConnectionLost as exc:
                if killed:
                    ledger.unanswered += 1
                    chain.in_flight = True
                else:
                    ledger.problems.append(f"connection lost before the kill: {exc}")
                return
            if reply.status != 200:
                ledger.problems.append(f"refresh: {reply.status} {reply.body!r}")
                return
            body = reply.json()
            chain.refresh, chain.access = body["refresh_token"], body["access_token"]
            chain.rotations += 1
            ledger.refresh.append(chain.refresh)
            ledger.access.append(chain.access)
            # Think a little, so that some chains are idle when the kill comes and
            # their newest token can be checked strictly.
            await asyncio.sleep(random.uniform(0, 0.01))

    async def kill_later() -> None:
        nonlocal killed
        await asyncio.sleep(LOAD_SECONDS)
        os.kill(server.pid, signal.SIGKILL)
        killed = True

    loop = asyncio.get_running_loop()
    workers = [issue() for _ in range(CLIENT_CREDENTIALS_WORKERS)]
    # The first chain stops half-way, so at least one newest refresh token is certainly
    # not in flight at the kill; the others rotate until it.
    parked = loop.time() + LOAD_SECONDS / 2
    workers += [rotate(chain, parked if i == 0 else math.inf) for i, chain in enumerate(chains)]
    await asyncio.wait_for(asyncio.gather(kill_later(), *workers), timeout=30)
    return ledger


def assert_dead(server: Server) -> None:
    """The killed process was the server: it died of SIGKILL and nothing listens now."""
    assert server.process.popen.wait(timeout=10) == -signal.SIGKILL
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", server.port)) != 0


def test_sigkill_under_load_keeps_every_answered_token(deployment: Deployment) -> None:
    svc = deployment.client("svc", "client_credentials", resource_server=True)
    app = deployment.client("app", "password", "refresh_token")
    deployment.user("alice")
    server = deployment.serve()
    chains = asyncio.run(start_chains(server, app, REFRESH_CHAINS))

    ledger = asyncio.run(load_until_killed(server, svc, app, chains))
    assert_dead(server)
    assert ledger.problems == []
    # The load was real and the kill landed in the middle of it.
    assert len(ledger.access) > 200, len(ledger.access)
    assert all(chain.rotations > 0 for chain in ledger.chains)
    assert ledger.unanswered > 0

    # Straight from the database, as the crash left it (opening it replays SQLite's WAL).
    if deployment.sqlite_path is not None:
        assert deployment.integrity_check() == [("ok",)]
    received = [*ledger.access, *ledger.refresh]
    missing = set(received) - deployment.stored(received)
    assert not missing, f"{len(missing)} of {len(received)} answered tokens were lost"

    restarted = deployment.serve()
    assert asyncio.run(introspect_all(restarted, svc, ledger.access)) == []
    settled = [chain for chain in ledger.chains if not chain.in_flight]
    assert settled
    # A refresh token introspects only for its own client (RFC 7662 §4).
    assert asyncio.run(introspect_all(restarted, app, [c.refresh for c in settled])) == []
    assert asyncio.run(rotate_once(restarted, app, settled)) == []
