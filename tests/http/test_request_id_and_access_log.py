"""X-Request-ID (echoed when safe, else generated), the request id in the engine's logs, and
the optional access log, which never carries a credential or a query string."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from mintage.logs import configure_logging
from oauth_testkit import MakeServer, Server, basic, bearer

GENERATED = re.compile(r"[0-9a-f]{16}")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging("debug", "json", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("path", ["/oauth/token", "/login", "/healthz", "/nowhere"])
async def test_a_safe_request_id_is_echoed(server: Server, path: str) -> None:
    rid = "edge-7f3a.01_B"
    response = await server.http.post(path, headers={"X-Request-ID": rid})
    assert response.headers["x-request-id"] == rid


@pytest.mark.parametrize(
    "incoming",
    ["a" * 65, "has space", "semi;colon", "new\\nline", "ünïcode".encode("latin-1"), ""],
)
@pytest.mark.parametrize("path", ["/resource", "/login"])
async def test_an_unsafe_request_id_is_replaced(
    server: Server, path: str, incoming: str | bytes
) -> None:
    response = await server.http.get(path, headers={"X-Request-ID": incoming})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_each_request_gets_its_own_id(server: Server) -> None:
    seen = {(await server.http.get("/resource")).headers["x-request-id"] for _ in range(5)}
    seen |= {(await server.http.get("/login")).headers["x-request-id"] for _ in range(5)}
    assert len(seen) == 10 and all(GENERATED.fullmatch(rid) for rid in seen)


async def test_engine_logs_carry_the_request_id_and_no_secret(
    server: Server, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = await server.client()
    assert reg.secret is not None

    async def broken(client_id: str) -> None:
        # an exception whose text holds a credential, as a careless driver might raise
        raise RuntimeError(f"lookup failed for {client_id} with {reg.secret}")

    monkeypatch.setattr(server.storage, "get_client", broken)
    response = await server.token(
        {"grant_type": "client_credentials", "password": "hunter2"},
        {**basic(reg.client_id, reg.secret), "X-Request-ID": "trace-me"},
    )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-me"
    (record,) = [r for r in records(log_lines) if r["event"] == "unexpected error"]
    assert record["request_id"] == "trace-me"
    assert record["path"] == "/oauth/token"
    assert "RuntimeError" in record["exception"]
    assert reg.secret not in log_lines.getvalue()
    assert "hunter2" not in log_lines.getvalue()


async def test_access_log_is_off_by_default(server: Server, log_lines: io.StringIO) -> None:
    await server.http.get("/resource")
    await server.http.get("/login")
    assert not [r for r in records(log_lines) if r.get("logger") == "mintage.access"]


async def test_access_log_has_one_line_per_request_without_credentials(
    make_server: MakeServer, log_lines: io.StringIO
) -> None:
    server = await make_server(access_log=True, allow_query_access_token=True)
    reg = await server.client()
    assert reg.secret is not None
    body = await server.client_credentials(reg)
    token = body["access_token"]
    await server.http.get(f"/resource?access_token={token}", headers={"X-Request-ID": "q-1"})
    await server.http.post("/oauth/introspect", data={"token": token}, headers=reg.basic)
    await server.http.get("/login?return_to=/oauth/authorize%3Fcode%3Dabc", headers=bearer(token))
    await server.token(
        {
            "grant_type": "client_credentials",
            "client_id": reg.client_id,
            "client_secret": "mint_cs_wrong",
        }
    )

    access = [r for r in records(log_lines) if r.get("logger") == "mintage.access"]
    assert [(r["method"], r["route"], r["status"]) for r in access] == [
        ("POST", "/oauth/token", 200),
        ("GET", "/resource", 200),
        ("POST", "/oauth/introspect", 200),
        ("GET", "/login", 200),
        ("POST", "/oauth/token", 401),
    ]
    assert access[1]["request_id"] == "q-1"
    for record in access:
        assert record["event"] == "request" and record["level"] == "info"
        assert record["duration_ms"] >= 0 and record["client_ip"] == "127.0.0.1"
        assert record["request_id"]
    # everything Mintage logged (the test's HTTP client logs its URLs too)
    text = "\n".join(
        json.dumps(r) for r in records(log_lines) if r.get("logger", "").startswith("mintage")
    )
    assert text.count('"mintage.access"') == 5
    for secret in (token, reg.secret, "mint_cs_wrong", "return_to", "access_token="):
        assert secret not in text
