"""Token traffic against a real server: refresh chains, fan-out helpers, checks.

Shared by the crash and outage tests.  Everything goes through :mod:`raw_http`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from deployment import Credentials, Server
from raw_http import Connection, basic

from oauth_testkit import PASSWORD

T = TypeVar("T")
CONNECTIONS = 16


@dataclass
class Chain:
    """One refresh-token family, rotated again and again by one connection."""

    refresh: str
    access: str
    rotations: int = 0
    #: a rotation presenting ``refresh`` was sent and no answer came: the server may
    #: have consumed it before it died
    in_flight: bool = False


async def each(
    server: Server, items: Iterable[T], call: Callable[[Connection, T], Awaitable[None]]
) -> None:
    """``call(connection, item)`` for every item, over 16 keep-alive connections."""
    queue: asyncio.Queue[T] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        conn = Connection("127.0.0.1", server.port)
        try:
            while not queue.empty():
                await call(conn, queue.get_nowait())
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))


async def start_chains(server: Server, app: Credentials, count: int) -> list[Chain]:
    """One password grant (as ``alice``) per chain."""
    chains: list[Chain] = []

    async def grant(conn: Connection, _: int) -> None:
        form = {"grant_type": "password", "username": "alice", "password": PASSWORD}
        reply = await conn.post("/oauth/token", form, basic(app.client_id, app.secret))
        assert reply.status == 200, reply.body
        body = reply.json()
        chains.append(Chain(body["refresh_token"], body["access_token"]))

    await each(server, range(count), grant)
    return chains


async def issue_tokens(server: Server, svc: Credentials, count: int) -> list[str]:
    """``count`` client-credentials access tokens."""
    tokens: list[str] = []

    async def issue(conn: Connection, _: int) -> None:
        form = {"grant_type": "client_credentials"}
        reply = await conn.post("/oauth/token", form, basic(svc.client_id, svc.secret))
        assert reply.status == 200, reply.body
        tokens.append(reply.json()["access_token"])

    await each(server, range(count), issue)
    return tokens


async def introspect_all(
    server: Server, caller: Credentials, tokens: list[str], *, active: bool = True
) -> list[Any]:
    """Tokens whose introspection does not say ``active: <active>``, with the answer."""
    wrong: list[Any] = []
    auth = basic(caller.client_id, caller.secret)

    async def check(conn: Connection, token: str) -> None:
        reply = await conn.post("/oauth/introspect", {"token": token}, auth)
        if reply.status != 200 or reply.json().get("active") is not active:
            wrong.append((token[:12], reply.status, reply.body))

    await each(server, tokens, check)
    return wrong


async def rotate_once(server: Server, app: Credentials, chains: list[Chain]) -> list[Any]:
    """Rotate each chain once more; the failures."""
    failed: list[Any] = []
    auth = basic(app.client_id, app.secret)

    async def rotate(conn: Connection, chain: Chain) -> None:
        form = {"grant_type": "refresh_token", "refresh_token": chain.refresh}
        reply = await conn.post("/oauth/token", form, auth)
        if reply.status != 200:
            failed.append((reply.status, reply.body))

    await each(server, chains, rotate)
    return failed
