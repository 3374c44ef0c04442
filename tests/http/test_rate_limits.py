"""Rate limits over HTTP, counted in process memory (RFC 6585 §4, RFC 6749 §10.10).

Each test turns on only the limits it checks (the others are empty, i.e. off), so a
count can be read off exactly.  The in-process counters run on the app's frozen clock:
``server.clock.advance`` ends a window without sleeping.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio
from limits.errors import StorageError
from prometheus_client import REGISTRY

from mintage import ratelimits
from mintage.core.client_throttle import ClientThrottle
from mintage.core.clock import FrozenClock
from mintage.core.errors import TooManyRequestsError
from mintage.core.ratelimit import (
    LIMIT_NAMES,
    TOKEN,
    Bucket,
    address_key,
    per_ip,
    value_key,
)
from mintage.ratelimits import (
    ProcessMemoryStorage,
    SharedLimiter,
    WindowLimiter,
    build_rate_limiter,
)
from mintage.settings import Settings
from oauth_testkit import BASE_URL, PASSWORD, MakeServer, Registered, Server, basic

OTHER_IP = "192.0.2.7"


async def limited(make_server: MakeServer, **limits: str) -> Server:
    """A server with rate limits on and only ``limits`` set (every other one off)."""
    options: dict[str, Any] = dict.fromkeys(LIMIT_NAMES, "")
    options.update(limits)
    return await make_server(rate_limits_enabled=True, **options)


@contextlib.asynccontextmanager
async def from_ip(server: Server, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=server.app, client=(ip, 4321))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


def assert_429(response: httpx.Response, description: str) -> int:
    """RFC 6585 §4 and RFC 6749 §5.2: 429, ``Retry-After``, our error body, no caching."""
    assert response.status_code == 429, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": "temporarily_unavailable", "error_description": description}
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    return retry_after


def rejections(endpoint: str, limit: str) -> float:
    value = REGISTRY.get_sample_value(
        "mintage_rate_limit_rejections_total", {"endpoint": endpoint, "limit": limit}
    )
    return value or 0.0


# What each endpoint is sent: a request that succeeds for a registered client.
ENDPOINTS = {
    "token": ("/oauth/token", lambda reg: {"grant_type": "client_credentials"}),
    "introspection": ("/oauth/introspect", lambda reg: {"token": "mint_at_unknown"}),
    "revocation": ("/oauth/revoke", lambda reg: {"token": "mint_at_unknown"}),
}


async def post(http: httpx.AsyncClient, endpoint: str, reg: Registered) -> httpx.Response:
    path, data = ENDPOINTS[endpoint]
    return await http.post(path, data=data(reg), headers=reg.basic)


# per address and per client, at each endpoint


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_per_ip_limit_answers_429_then_lifts(make_server: MakeServer, endpoint: str) -> None:
    server = await limited(make_server, **{f"{endpoint}_rate_limit_per_ip": "3/minute"})
    clients = [await server.client(name=f"c{i}") for i in range(4)]
    before = rejections(endpoint, "per_ip")
    for reg in clients[:3]:  # three clients, one address
        assert (await post(server.http, endpoint, reg)).status_code == 200
    refused = await post(server.http, endpoint, clients[3])
    retry_after = assert_429(refused, "too many requests from this address")
    assert rejections(endpoint, "per_ip") == before + 1
    async with from_ip(server, OTHER_IP) as other:
        assert (await post(other, endpoint, clients[3])).status_code == 200
    server.clock.advance(retry_after)
    assert (await post(server.http, endpoint, clients[3])).status_code == 200


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_per_client_limit_answers_429_then_lifts(
    make_server: MakeServer, endpoint: str
) -> None:
    server = await limited(make_server, **{f"{endpoint}_rate_limit_per_client": "3/minute"})
    reg, other = await server.client(), await server.client(name="other")
    before = rejections(endpoint, "per_client")
    for _ in range(3):
        assert (await post(server.http, endpoint, reg)).status_code == 200
    async with from_ip(server, OTHER_IP) as elsewhere:  # the client, not the address
        refused = await post(elsewhere, endpoint, reg)
    retry_after = assert_429(refused, "too many requests for this client")
    assert rejections(endpoint, "per_client") == before + 1
    assert (await post(server.http, endpoint, other)).status_code == 200
    server.clock.advance(retry_after)
    assert (await post(server.http, endpoint, reg)).status_code == 200


async def test_post_and_basic_count_as_the_same_client(make_server: MakeServer) -> None:
    server = await limited(make_server, token_rate_limit_per_client="2/minute")
    reg = await server.client()
    data = {"grant_type": "client_credentials"}
    assert (await server.token(data, reg.basic)).status_code == 200
    assert (await server.token({**data, **reg.post})).status_code == 200
    assert_429(await server.token(data, reg.basic), "too many requests for this client")


async def test_naming_a_client_spends_none_of_its_budget(make_server: MakeServer) -> None:
    """Client ids are public: only requests that authenticate count against the client."""
    server = await limited(make_server, token_rate_limit_per_client="3/minute")
    reg = await server.client()
    data = {"grant_type": "client_credentials"}
    async with from_ip(server, OTHER_IP) as attacker:
        for _ in range(10):
            wrong = await attacker.post(
                "/oauth/token", data=data, headers=basic(reg.client_id, "x")
            )
            assert wrong.status_code == 401
            # a confidential client named without a secret
            bare = await attacker.post("/oauth/token", data={**data, "client_id": reg.client_id})
            assert bare.status_code == 401
    for _ in range(3):
        assert (await server.token(data, reg.basic)).status_code == 200
    assert_429(await server.token(data, reg.basic), "too many requests for this client")


async def test_a_public_client_is_counted_per_address(make_server: MakeServer) -> None:
    """Anyone can name a public client (``none``), so it is counted per address and id."""
    server = await limited(make_server, token_rate_limit_per_client="2/minute")
    public = await server.client(grant_types=("refresh_token",), public=True)
    data = {"grant_type": "refresh_token", "refresh_token": "mint_rt_unknown", **public.post}
    before = rejections("token", "per_client")
    for _ in range(2):
        assert (await server.token(data)).json()["error"] == "invalid_grant"
    retry_after = assert_429(await server.token(data), "too many requests for this client")
    assert rejections("token", "per_client") == before + 1
    async with from_ip(server, OTHER_IP) as other:  # another user of the same client
        assert (await other.post("/oauth/token", data=data)).json()["error"] == "invalid_grant"
    server.clock.advance(retry_after)
    assert (await server.token(data)).json()["error"] == "invalid_grant"


async def test_json_bodies_are_counted_alike(make_server: MakeServer) -> None:
    server = await limited(make_server, token_rate_limit_per_client="1/minute")
    reg = await server.client()
    body = {"grant_type": "client_credentials", **reg.post}
    assert (await server.http.post("/oauth/token", json=body)).status_code == 200
    assert_429(
        await server.http.post("/oauth/token", json=body), "too many requests for this client"
    )


# failed client authentication


async def test_failed_auth_blocks_the_address_and_client_even_with_the_right_secret(
    make_server: MakeServer,
) -> None:
    server = await limited(make_server, failed_auth_rate_limit_per_ip_client="3/minute")
    reg, bystander = await server.client(), await server.client(name="bystander")
    data = {"grant_type": "client_credentials"}
    before = rejections("token", "failed_auth")
    async with from_ip(server, OTHER_IP) as guesser:
        for _ in range(3):
            response = await guesser.post(
                "/oauth/token", data=data, headers=basic(reg.client_id, "wrong secret")
            )
            assert response.status_code == 401
            assert response.json()["error"] == "invalid_client"
        # the right secret from the guessing address is refused: no guess is confirmed
        retry_after = assert_429(
            await post(guesser, "token", reg), "too many failed client authentications"
        )
        assert rejections("token", "failed_auth") == before + 1
        assert (await post(guesser, "introspection", reg)).status_code == 429  # any endpoint
        # the pair is counted: another client from that address is served,
        assert (await post(guesser, "token", bystander)).status_code == 200
        # and so is this client, from its own address
        assert (await post(server.http, "token", reg)).status_code == 200
        server.clock.advance(retry_after)
        assert (await post(guesser, "token", reg)).status_code == 200


async def test_an_attacker_hammering_a_client_id_cannot_lock_it_out(
    make_server: MakeServer,
) -> None:
    """Every client limit on and small; floods naming the client (wrong secret, or none)
    from several addresses leave the right secret working from the client's own
    address, at each endpoint."""
    small = "3/minute"
    server = await limited(
        make_server,
        **{f"{endpoint}_rate_limit_per_client": small for endpoint in ENDPOINTS},
        **{f"{endpoint}_rate_limit_per_ip": "20/minute" for endpoint in ENDPOINTS},
        failed_auth_rate_limit_per_ip=small,
        failed_auth_rate_limit_per_ip_client=small,
    )
    reg = await server.client()
    forged = {"grant_type": "client_credentials", "token": "mint_at_unknown"}
    guess = basic(reg.client_id, "wrong secret")
    statuses: list[int] = []
    for n in range(3):
        async with from_ip(server, f"198.51.100.{n}") as attacker:
            for path, _ in ENDPOINTS.values():
                for _ in range(4):
                    wrong = await attacker.post(path, data=forged, headers=guess)
                    bare = await attacker.post(path, data={**forged, "client_id": reg.client_id})
                    statuses += [wrong.status_code, bare.status_code]
    # the flood did run into the limits (401, then 429), and never got through
    assert set(statuses) == {401, 429}
    for endpoint in ENDPOINTS:
        for _ in range(3):
            assert (await post(server.http, endpoint, reg)).status_code == 200


async def test_failed_auth_counts_across_endpoints(make_server: MakeServer) -> None:
    server = await limited(make_server, failed_auth_rate_limit_per_ip_client="2/minute")
    reg = await server.client()
    bad = Registered(reg.client, "wrong secret")
    assert (await post(server.http, "introspection", bad)).status_code == 401
    assert (await post(server.http, "revocation", bad)).status_code == 401
    assert (await post(server.http, "token", reg)).status_code == 429
    async with from_ip(server, OTHER_IP) as other:
        assert (await post(other, "token", reg)).status_code == 200


async def test_failed_auth_per_ip_blocks_the_address(make_server: MakeServer) -> None:
    server = await limited(make_server, failed_auth_rate_limit_per_ip="3/minute")
    reg = await server.client()
    for i in range(3):  # a different client id each time: only the address is common
        response = await server.token({"grant_type": "client_credentials"}, basic(f"c{i}", "x"))
        assert response.status_code == 401
    assert_429(await post(server.http, "token", reg), "too many failed client authentications")
    async with from_ip(server, OTHER_IP) as other:
        assert (await post(other, "token", reg)).status_code == 200


async def test_successes_do_not_count_as_failures(make_server: MakeServer) -> None:
    server = await limited(
        make_server,
        failed_auth_rate_limit_per_ip_client="2/minute",
        failed_auth_rate_limit_per_ip="2/minute",
    )
    reg = await server.client()
    for _ in range(5):
        assert (await post(server.http, "token", reg)).status_code == 200


# sign-in pages


async def sign_in(
    http: httpx.AsyncClient, username: str = "alice", password: str = PASSWORD
) -> httpx.Response:
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    data = {"csrf_token": token.group(1), "username": username, "password": password}
    return await http.post("/login", data=data)


def assert_429_page(response: httpx.Response) -> int:
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("text/html")
    assert "Too many sign-in attempts" in response.text
    return int(response.headers["retry-after"])


async def test_login_per_username_limit_then_lifts(make_server: MakeServer) -> None:
    server = await limited(make_server, login_rate_limit_per_username="2/minute")
    await server.user()
    await server.user("bob")
    before = rejections("login", "per_username")
    assert (await sign_in(server.http, password="nope")).status_code == 401
    assert (await sign_in(server.http, password="nope")).status_code == 401
    async with from_ip(server, OTHER_IP) as other:
        retry_after = assert_429_page(await sign_in(other))  # the right password
    assert rejections("login", "per_username") == before + 1
    async with from_ip(server, "192.0.2.8") as browser:  # a browser of its own
        assert (await sign_in(browser, "bob")).status_code == 303
    server.clock.advance(retry_after)
    assert (await sign_in(server.http)).status_code == 303


async def test_login_per_ip_limit(make_server: MakeServer) -> None:
    server = await limited(make_server, login_rate_limit_per_ip="3/minute")
    await server.user()
    for name in ("mallory", "trudy", "eve"):  # one password tried on many accounts
        assert (await sign_in(server.http, name, "Summer2024!")).status_code == 401
    assert_429_page(await sign_in(server.http))
    async with from_ip(server, OTHER_IP) as other:
        assert (await sign_in(other)).status_code == 303


# switched off, and the defaults


async def test_limits_disabled_never_answer_429(make_server: MakeServer) -> None:
    tiny = dict.fromkeys(LIMIT_NAMES, "1/minute")
    server = await make_server(rate_limits_enabled=False, **tiny)
    reg = await server.client()
    assert server.app.state.mintage.limiter is None
    for _ in range(5):
        assert (await server.token({}, basic(reg.client_id, "wrong"))).status_code in (400, 401)
        assert (await post(server.http, "token", reg)).status_code == 200
        assert (await post(server.http, "introspection", reg)).status_code == 200


async def test_default_limits_serve_ordinary_traffic(make_server: MakeServer) -> None:
    server = await make_server(rate_limits_enabled=True)
    reg = await server.client()
    assert server.app.state.mintage.limiter is not None
    for _ in range(20):
        body = await server.client_credentials(reg)
        assert (await server.introspect(reg, body["access_token"]))["active"] is True


def test_every_limit_is_a_setting_and_validated() -> None:
    defaults = Settings(database_url="memory://")
    assert set(defaults.rate_limits()) == set(LIMIT_NAMES)
    assert all(defaults.rate_limits().values())
    with pytest.raises(ValueError, match="token_rate_limit_per_ip"):
        Settings(database_url="memory://", token_rate_limit_per_ip="lots")
    with pytest.raises(ValueError, match="redis_url"):
        Settings(database_url="memory://", redis_url="http://127.0.0.1:6379")
    Settings(database_url="memory://", token_rate_limit_per_ip="")  # empty: no limit


def test_the_old_failed_auth_setting_is_read_under_the_new_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``failed_auth_rate_limit_per_client`` (before failed authentications were counted
    per address and client id) still configures the limit, with a warning."""
    new = "failed_auth_rate_limit_per_ip_client"
    monkeypatch.delenv(f"MINTAGE_{new.upper()}", raising=False)
    monkeypatch.setenv("MINTAGE_FAILED_AUTH_RATE_LIMIT_PER_CLIENT", "7/minute")
    with pytest.warns(UserWarning, match=f"is deprecated: it is now {new}"):
        settings = Settings(database_url="memory://")
    assert settings.rate_limits()[new] == "7/minute"
    with pytest.warns(UserWarning, match="deprecated"):  # the new name wins
        assert getattr(Settings(database_url="memory://", **{new: "9/minute"}), new) == "9/minute"
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=new):
        Settings(database_url="memory://", failed_auth_rate_limit_per_client="lots")
    monkeypatch.delenv("MINTAGE_FAILED_AUTH_RATE_LIMIT_PER_CLIENT")
    config = tmp_path / "mintage.toml"  # in a TOML file, under the lower-case name
    config.write_text('failed_auth_rate_limit_per_client = "8/minute"\n')
    monkeypatch.setenv("MINTAGE_CONFIG", str(config))
    with pytest.warns(UserWarning, match="deprecated"):
        assert getattr(Settings(database_url="memory://"), new) == "8/minute"


# keys and the in-process store


def test_ipv6_addresses_are_counted_by_their_64_prefix() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key(None) is None


def test_long_client_ids_are_counted_by_digest() -> None:
    assert value_key("short") == "short"
    long_key = value_key("x" * 10_000)
    assert len(long_key) < 80 and long_key != value_key("x" * 10_001)


async def test_an_unknown_address_is_not_counted() -> None:
    """A Unix socket without forwarded headers: no address-keyed count (one key for all
    such requests would let one sender spend everyone's budget); an authenticated
    confidential client is still counted."""
    clock = FrozenClock()
    limits = dict.fromkeys(LIMIT_NAMES, "1/minute")
    limiter = build_rate_limiter(limits, clock)
    throttle = ClientThrottle(limiter, TOKEN)
    for _ in range(3):
        await throttle.admit(None)
        await throttle.auth_failed(None, "victim")
        await throttle.check_auth(None, "victim")
        await throttle.authenticated(None, "spa", public=True)
    await throttle.authenticated(None, "service", public=False)
    with pytest.raises(TooManyRequestsError):
        await throttle.authenticated(None, "service", public=False)
    await throttle.admit("192.0.2.1")
    with pytest.raises(TooManyRequestsError):
        await throttle.admit("192.0.2.1")


async def test_memory_store_forgets_ended_windows() -> None:
    clock = FrozenClock()
    storage = ProcessMemoryStorage(clock)
    for i in range(100):
        assert await storage.incr(f"k{i}", 10) == 1
    assert await storage.incr("k0", 10) == 2
    assert await storage.get_expiry("k0") == clock.now + 10
    assert len(storage) == 100
    clock.advance(10)
    assert await storage.get("k0") == 0
    await storage.incr("fresh", 60)  # the first hit after a second sweeps
    assert len(storage) == 1
    assert await storage.incr("k0", 10) == 1  # a new window


class FlakyShared(WindowLimiter):
    """A shared limiter whose backend fails while ``down`` is set."""

    down = True

    async def hit(self, bucket: Bucket, key: str) -> int | None:
        if self.down:
            raise StorageError(ConnectionError("refused"))
        return await super().hit(bucket, key)


async def test_shared_limiter_falls_back_and_recovers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock()
    limits = dict.fromkeys(LIMIT_NAMES, "")
    limits["token_rate_limit_per_ip"] = "2/minute"
    shared = FlakyShared(limits, ProcessMemoryStorage(clock), clock)
    fallback = WindowLimiter(limits, ProcessMemoryStorage(clock), clock)
    pool = redis.asyncio.ConnectionPool.from_url("redis://127.0.0.1:1/0")
    limiter = SharedLimiter(shared, fallback, pool)
    bucket = per_ip(TOKEN)
    monkeypatch.setattr(ratelimits, "RETRY_BACKEND", 0.0)  # try Redis on every check
    before = REGISTRY.get_sample_value("mintage_rate_limit_backend_errors_total") or 0.0
    with caplog.at_level(logging.WARNING, logger="mintage"):
        assert await limiter.hit(bucket, "192.0.2.1") is None
        assert await limiter.hit(bucket, "192.0.2.1") is None
        assert await limiter.hit(bucket, "192.0.2.1") == 60  # the fallback still limits
        shared.down = False
        assert await limiter.hit(bucket, "192.0.2.1") is None  # a fresh count, shared
    after = REGISTRY.get_sample_value("mintage_rate_limit_backend_errors_total") or 0.0
    assert after == before + 3
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis unreachable (ConnectionError)" in m for m in messages) == 1
    assert sum("Redis answers again" in m for m in messages) == 1
    await limiter.aclose()
