"""Rate limits shared through Redis, and what happens when Redis is down.

Redis comes from ``MINTAGE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).
When it is unreachable the shared-count tests are skipped, unless
``MINTAGE_REQUIRE_REDIS=1`` (set in CI), which makes them fail.  Each test counts under
a random key prefix, and deletes its keys afterwards.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio
from prometheus_client import REGISTRY
from test_rate_limits import from_ip

from mintage.core.ratelimit import LIMIT_NAMES
from oauth_testkit import MakeServer, Registered, Server, basic

REDIS_URL = os.environ.get("MINTAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("MINTAGE_REQUIRE_REDIS") == "1"
GUESSER = "198.51.100.9"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh key prefix on a Redis that answers; its keys are deleted afterwards."""
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        try:
            await client.ping()
        except (redis.RedisError, OSError) as exc:
            reason = f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}: {exc})"
            if REQUIRE_REDIS:
                pytest.fail(f"{reason}; MINTAGE_REQUIRE_REDIS=1 requires it")
            pytest.skip(reason)
        prefix = f"mintage-test-{secrets.token_hex(8)}"
        yield prefix
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def instance(make_server: MakeServer, redis_url: str, prefix: str, **limits: str) -> Server:
    """One app (its own process memory) counting in Redis under ``prefix``."""
    options: dict[str, Any] = dict.fromkeys(LIMIT_NAMES, "")
    options.update(limits)
    return await make_server(
        rate_limits_enabled=True, redis_url=redis_url, redis_key_prefix=prefix, **options
    )


async def cc(
    http: Server | httpx.AsyncClient, reg: Registered, secret: str | None = None
) -> httpx.Response:
    """``client_credentials`` for ``reg`` (with a wrong ``secret`` if given)."""
    headers = basic(reg.client_id, secret) if secret else reg.basic
    client = http.http if isinstance(http, Server) else http
    data = {"grant_type": "client_credentials"}
    return await client.post("/oauth/token", data=data, headers=headers)


async def test_two_instances_share_the_per_client_count(
    make_server: MakeServer, redis_prefix: str
) -> None:
    a = await instance(make_server, REDIS_URL, redis_prefix, token_rate_limit_per_client="4/minute")
    b = await instance(make_server, REDIS_URL, redis_prefix, token_rate_limit_per_client="4/minute")
    reg = await a.client()
    await b.storage.save_client(reg.client)  # the same client on both instances
    for server in (a, b, a, b):
        assert (await cc(server, reg)).status_code == 200
    for server in (a, b):
        refused = await cc(server, reg)
        assert refused.status_code == 429
        assert refused.json()["error"] == "temporarily_unavailable"
        assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_two_instances_share_failed_authentications(
    make_server: MakeServer, redis_prefix: str
) -> None:
    limit = {"failed_auth_rate_limit_per_ip_client": "2/minute"}
    a = await instance(make_server, REDIS_URL, redis_prefix, **limit)
    b = await instance(make_server, REDIS_URL, redis_prefix, **limit)
    reg = await a.client()
    await b.storage.save_client(reg.client)
    async with from_ip(a, GUESSER) as guesser_a, from_ip(b, GUESSER) as guesser_b:
        assert (await cc(guesser_a, reg, "wrong")).status_code == 401
        assert (await cc(guesser_b, reg, "wrong")).status_code == 401
        # the right secret from that address, on the instance that saw one failure
        refused = await cc(guesser_a, reg)
    assert refused.status_code == 429
    assert refused.json()["error_description"] == "too many failed client authentications"
    # the client from its own address, on either instance: served
    assert (await cc(a.http, reg)).status_code == 200
    assert (await cc(b.http, reg)).status_code == 200


async def test_a_shared_count_lets_no_one_lock_a_client_out(
    make_server: MakeServer, redis_prefix: str
) -> None:
    """Guessers on both instances, every client limit small: the client keeps its own
    budget, counted on both, and spends it only itself."""
    limits = {
        "token_rate_limit_per_client": "3/minute",
        "failed_auth_rate_limit_per_ip": "2/minute",
        "failed_auth_rate_limit_per_ip_client": "2/minute",
    }
    a = await instance(make_server, REDIS_URL, redis_prefix, **limits)
    b = await instance(make_server, REDIS_URL, redis_prefix, **limits)
    reg = await a.client()
    await b.storage.save_client(reg.client)
    statuses: list[int] = []
    async with from_ip(a, GUESSER) as guesser_a, from_ip(b, GUESSER) as guesser_b:
        for guesser in (guesser_a, guesser_b) * 5:
            statuses.append((await cc(guesser, reg, "wrong")).status_code)
    assert statuses == [401, 401] + [429] * 8
    assert [(await cc(server.http, reg)).status_code for server in (a, b, a, b)] == [
        *(200, 200, 200),
        429,  # its own budget, spent by itself, shared by both instances
    ]


async def test_another_prefix_counts_apart(make_server: MakeServer, redis_prefix: str) -> None:
    a = await instance(make_server, REDIS_URL, redis_prefix, token_rate_limit_per_ip="2/minute")
    b = await instance(
        make_server, REDIS_URL, redis_prefix + "-b", token_rate_limit_per_ip="2/minute"
    )
    reg = await a.client()
    await b.storage.save_client(reg.client)
    assert [(await cc(a, reg)).status_code for _ in range(3)] == [200, 200, 429]
    assert (await cc(b, reg)).status_code == 200
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}-b:*")]
        assert keys, "instance b counted under its own prefix"
        await client.delete(*keys)  # the fixture cleans only its own prefix
    finally:
        await client.aclose()


def closed_port() -> int:
    """A local port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backend_errors() -> float:
    return REGISTRY.get_sample_value("mintage_rate_limit_backend_errors_total") or 0.0


async def test_redis_down_serves_and_counts_per_process(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Documented in docs/operations.md: fail open to per-process counting, visibly."""
    down = f"redis://127.0.0.1:{closed_port()}/0"
    before = backend_errors()
    with caplog.at_level(logging.WARNING, logger="mintage"):
        server = await instance(make_server, down, "unused", token_rate_limit_per_client="3/minute")
        reg = await server.client()
        statuses = [(await cc(server, reg)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # served, and still limited in this process
    assert backend_errors() >= before + 1
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1, "one warning per outage, not one per request"
    assert "ConnectionError" in warnings[0].getMessage()
