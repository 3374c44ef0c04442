"""Fifty simultaneous redemptions against a real ``mintage serve`` with two workers.

The in-process tests (tests/http/test_one_time_artefacts_concurrency.py) share one event
loop and one store object; here two worker processes, each with its own connection
pool (PostgreSQL) or connection (SQLite, one file), take fifty real connections at
once, so the single-winner rule must hold in the database itself (docs/architecture.md §4, §8).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_process import Process, clean_env, free_port

from backend_testkit import pg_schema, postgres_url, run_blocking  # noqa: F401 (fixtures)
from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher
from mintage.storage import open_storage
from oauth_testkit import PASSWORD, add_user, authorize_code

N = 50
CALLBACK = "https://app.example/callback"


GRACE = 10


@dataclass
class Deployment:
    url: str
    client_id: str
    client_secret: str
    #: refresh_grace_seconds of the server
    grace: int


async def provision(database_url: str, pepper: bytes) -> tuple[str, str]:
    """Migrate the database and add alice and the client, the way the CLI would."""
    store = open_storage(database_url)
    await store.open()
    try:
        await add_user(store)
        client, secret = await register_client(
            store,
            SecretHasher(pepper),
            name="app",
            grant_types=("password", "authorization_code", "refresh_token"),
            scopes=("read",),
            redirect_uris=(CALLBACK,),
        )
    finally:
        await store.close()
    assert secret is not None
    return client.client_id, secret


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-grace"])
def deployment(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """``mintage serve --workers 2`` on a fresh database (a PostgreSQL schema of its
    own), with one user and one confidential client allowed the password, code and
    refresh grants; ``-grace`` turns the refresh grace window on."""
    grace = GRACE if request.param.endswith("-grace") else 0
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        server = request.getfixturevalue("postgres_url")  # skips when unreachable
        database_url = f"{server}?search_path={request.getfixturevalue('pg_schema')}"
    secret_key = secrets.token_urlsafe(32)
    client_id, client_secret = run_blocking(provision(database_url, secret_key.encode()))
    port = free_port()
    env = clean_env(
        MINTAGE_DATABASE_URL=database_url,
        MINTAGE_SECRET_KEY=secret_key,
        MINTAGE_REFRESH_GRACE_SECONDS=str(grace),
        # 51 token requests a second from one client are over the default limit; this
        # tests the redemptions, tests/http/test_rate_limits.py the limiter
        MINTAGE_RATE_LIMITS_ENABLED="false",
    )
    process = Process(
        [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port), "--workers", "2"],
        tmp_path,
        env,
        "serve",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        process.wait_healthy(url + "/healthz")
        yield Deployment(url, client_id, client_secret, grace)
        assert process.stop(signal.SIGTERM) == 0, process.stderr
        # no request ended in an unexpected error (each is logged with its traceback)
        assert "Traceback" not in process.stderr, process.stderr
        assert "unexpected error" not in process.stderr, process.stderr
    finally:
        process.kill()


def connections(served: Deployment) -> httpx.AsyncClient:
    """One client that opens a connection per concurrent request (up to ``N``)."""
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    return httpx.AsyncClient(base_url=served.url, limits=limits, timeout=30)


def basic(served: Deployment) -> httpx.BasicAuth:
    return httpx.BasicAuth(served.client_id, served.client_secret)


def one_winner(responses: list[httpx.Response]) -> dict[str, Any]:
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 400: N - 1}, statuses
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    winner: dict[str, Any] = next(r.json() for r in responses if r.status_code == 200)
    return winner


async def assert_revoked(
    http: httpx.AsyncClient, auth: httpx.BasicAuth, pair: dict[str, Any]
) -> None:
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await http.get("/resource", headers=bearer)).status_code == 401
    introspected = await http.post(
        "/oauth/introspect", data={"token": pair["access_token"]}, auth=auth
    )
    assert introspected.json() == {"active": False}
    refreshed = await http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
        auth=auth,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def assert_one_pair_for_all(
    http: httpx.AsyncClient, auth: httpx.BasicAuth, responses: list[httpx.Response]
) -> None:
    """The grace window: one rotation, and every loser, in either worker, got its pair."""
    assert Counter(r.status_code for r in responses) == {200: N}
    pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for r in responses}
    assert len(pairs) == 1
    ((access, refresh),) = pairs
    bearer = {"Authorization": f"Bearer {access}"}
    assert (await http.get("/resource", headers=bearer)).status_code == 200
    rotated = await http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}, auth=auth
    )
    assert rotated.status_code == 200, rotated.text


async def race_refresh_and_code(served: Deployment) -> None:
    auth = basic(served)
    async with connections(served) as http:
        issued = await http.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "alice", "password": PASSWORD},
            auth=auth,
        )
        assert issued.status_code == 200, issued.text
        refresh = {"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]}
        responses = await asyncio.gather(
            *(http.post("/oauth/token", data=refresh, auth=auth) for _ in range(N))
        )
        if served.grace:
            await assert_one_pair_for_all(http, auth, list(responses))
        else:
            await assert_revoked(http, auth, one_winner(list(responses)))

        verifier = secrets.token_urlsafe(48)
        async with httpx.AsyncClient(base_url=served.url) as browser:
            code = await authorize_code(
                browser, served.client_id, redirect_uri=CALLBACK, code_verifier=verifier
            )
        redeem = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        }
        responses = await asyncio.gather(
            *(http.post("/oauth/token", data=redeem, auth=auth) for _ in range(N))
        )
        await assert_revoked(http, auth, one_winner(list(responses)))


def test_fifty_connections_redeem_one_refresh_token_and_one_code(deployment: Deployment) -> None:
    asyncio.run(race_refresh_and_code(deployment))
