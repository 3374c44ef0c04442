"""Graceful shutdown: on SIGTERM ``mintage serve`` finishes what it started, then exits 0.

What an orchestrator relies on when it stops an instance (docs/operations.md, "Graceful
shutdown"): the listening socket closes at once, so new connections go to other
instances; requests already received are answered (here: token requests whose body is
still arriving when the signal comes), each with ``Connection: close`` and then the
connection closed; idle keep-alive connections are closed; the store is closed cleanly
(SQLite: the WAL checkpointed into the database and removed); the exit status is 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from urllib.parse import urlencode

from deployment import Credentials, Deployment, Server
from raw_http import Connection, ConnectionLost, Reply, basic
from serve_process import refuses_connections

from polling import until

IN_FLIGHT = 4


async def stop_during_requests(server: Server, svc: Credentials) -> tuple[list[Reply], bool]:
    """Start requests, SIGTERM, finish them; their replies, and whether an idle
    keep-alive connection was closed by the server."""
    body = urlencode({"grant_type": "client_credentials", "scope": "read"}).encode()
    basic_auth = basic(svc.client_id, svc.secret)
    headers = {
        "Authorization": basic_auth,
        "Content-Type": "application/x-www-form-urlencoded",
        # RFC 9110 §10.1.1: the server answers 100 when the application first reads the
        # body, which tells us, without guessing a delay, that the request is running.
        "Expect": "100-continue",
    }
    request = Connection.encode("POST", "/oauth/token", "127.0.0.1", headers, body)
    head = len(request) - len(body)
    half = head + len(body) // 2

    idle = Connection("127.0.0.1", server.port)
    warm = await idle.post("/oauth/token", {"grant_type": "client_credentials"}, basic_auth)
    assert warm.status == 200, warm.body

    busy = [Connection("127.0.0.1", server.port) for _ in range(IN_FLIGHT)]
    for conn in busy:
        await conn.send_raw(request[:head])
    for conn in busy:
        assert (await conn.read_reply()).status == 100  # the endpoint awaits the body
        await conn.send_raw(request[head:half])
    os.kill(server.pid, signal.SIGTERM)

    await until(lambda: refuses_connections(server.port), what="connections refused")
    assert server.process.popen.poll() is None  # still finishing the requests

    for conn in busy:
        await conn.send_raw(request[half:])
    replies = [await conn.read_reply(then_closed=True) for conn in busy]
    try:
        await idle.read_reply()
        idle_closed = False
    except ConnectionLost:
        idle_closed = True
    return replies, idle_closed


def test_sigterm_answers_requests_in_flight_then_exits_0(sqlite_deployment: Deployment) -> None:
    deployment = sqlite_deployment
    svc = deployment.client("svc", "client_credentials")
    server = deployment.serve()

    replies, idle_closed = asyncio.run(stop_during_requests(server, svc))
    assert [r.status for r in replies] == [200] * IN_FLIGHT, [r.body for r in replies]
    assert all(r.headers.get("connection") == "close" for r in replies)
    assert all(r.json()["token_type"] == "Bearer" for r in replies)
    assert idle_closed

    assert server.process.popen.wait(timeout=20) == 0, server.process.stderr
    assert "Traceback" not in server.process.stderr

    # Closed cleanly: the last connection checkpointed the WAL into the database, and
    # the tokens of the requests that were in flight are in it.
    path = Path(deployment.sqlite_path or "")
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert deployment.integrity_check() == [("ok",)]
    issued = [reply.json()["access_token"] for reply in replies]
    assert deployment.stored(issued) == set(issued)
