"""CPU time per request of the hot endpoints, in process, without HTTP (docs/architecture.md §5).

Calls the ASGI app directly (no server, no sockets) on the in-memory store, so what it
measures is Mintage's own per-request work: request conversion, the engine, metrics,
request ids.  Useful to see what a change to the hot path costs, e.g. with metrics on
(kept only where ``/metrics`` is served: here on a metrics listener, dispatched as under
``mintage serve``) and off (the default):

    MINTAGE_METRICS_PORT=9100 .venv/bin/python bench/asgi_overhead.py
    .venv/bin/python bench/asgi_overhead.py

Each scenario runs ``--rounds`` times; the best round is reported (the least disturbed
by other processes on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mintage import MemoryStorage, Settings, create_app
from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher

PEPPER = b"bench-pepper-0123456789abcdef-012345"


async def _noop_send(message: Any) -> None:
    return None


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
    }


async def _time(call: Callable[[], Awaitable[None]], n: int, rounds: int) -> float:
    for _ in range(min(n, 2000)):  # warm-up
        await call()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            await call()
        best = min(best, (time.process_time() - start) / n)
    return best * 1e6


async def main(n: int, rounds: int, access_log: bool) -> None:
    store = MemoryStorage()
    options: dict[str, Any] = {"database_url": "memory://", "purge_interval": 0}
    if access_log:  # JSON lines to /dev/null: the cost of formatting and writing them
        from mintage.logs import configure_logging

        configure_logging("info", "json", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
        options["access_log"] = True  # only then: the script also runs on older checkouts
    settings = Settings(**options)
    app: Any = create_app(settings, storage=store, pepper=PEPPER)
    if settings.metrics_port is not None:  # the app as `mintage serve` runs it
        from mintage.web.metrics_access import with_metrics_listener

        app = with_metrics_listener(app, settings)
    await store.open()
    client, secret = await register_client(
        store,
        SecretHasher(PEPPER),
        name="bench",
        grant_types=["client_credentials"],
        scopes=["read"],
    )
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode())
    body = b"grant_type=client_credentials"
    token_headers = [
        (b"host", b"127.0.0.1:3000"),
        (b"authorization", b"Basic " + basic),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    captured: list[bytes] = []

    async def capture(message: Any) -> None:
        if message["type"] == "http.response.body":
            captured.append(message["body"])

    await app(_scope("POST", "/oauth/token", token_headers), receive, capture)
    access = captured[-1].split(b'"access_token":"')[1].split(b'"')[0]
    resource_headers = [(b"host", b"127.0.0.1:3000"), (b"authorization", b"Bearer " + access)]

    async def token() -> None:
        await app(_scope("POST", "/oauth/token", token_headers), receive, _noop_send)

    async def resource() -> None:
        await app(_scope("GET", "/resource", resource_headers), receive, _noop_send)

    async def healthz() -> None:
        await app(_scope("GET", "/healthz", [(b"host", b"127.0.0.1:3000")]), receive, _noop_send)

    for name, call, count in (
        ("POST /oauth/token (client_credentials)", token, n // 2),
        ("GET /resource", resource, n),
        ("GET /healthz (Starlette route)", healthz, n),
    ):
        print(f"{name:42} {await _time(call, count, rounds):7.2f} µs CPU per request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000, help="requests per round (20000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best counts (5)")
    parser.add_argument("--access-log", action="store_true", help="with the access log on")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds, args.access_log))
