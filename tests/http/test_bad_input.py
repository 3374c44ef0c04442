"""Hostile and broken requests: never a 500, never a state change.

Each case carries valid client credentials where it can, so a rejection proves the
endpoint refused the input itself rather than the missing authentication, and then
checks that no token was stored and nothing was revoked.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from oauth_testkit import FORM_CT, MakeServer, Registered, Server

RFC6749_CHARSET = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")


class Case:
    """A server with one client and one live token family, to prove nothing moved."""

    def __init__(self, server: Server, reg: Registered, issued: dict[str, Any]) -> None:
        self.server = server
        self.reg = reg
        self.issued = issued
        self.snapshot = server.tokens()

    def creds(self) -> str:
        return urlencode(self.reg.post)

    async def post(
        self, path: str, body: bytes | str, content_type: str | None = FORM_CT, **headers: str
    ) -> httpx.Response:
        all_headers = dict(headers)
        if content_type is not None:
            all_headers["content-type"] = content_type
        content = body.encode() if isinstance(body, str) else body
        return await self.server.http.post(path, content=content, headers=all_headers)

    async def assert_unchanged(self) -> None:
        assert self.server.tokens() == self.snapshot
        assert (await self.server.resource(self.issued["access_token"])).status_code == 200


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    description = body.get("error_description", "")
    assert RFC6749_CHARSET.fullmatch(description), description
    return body


@pytest.fixture
async def case(server: Server) -> Case:
    await server.user()
    reg = await server.client(
        grant_types=("client_credentials", "password", "refresh_token"), scopes=("read", "write")
    )
    issued = await server.password_grant(reg)
    return Case(server, reg, issued)


# bodies the parsers refuse


@pytest.mark.parametrize(
    "suffix",
    [
        "&&x=1",  # empty field
        "&novalue",  # field without "="
        "&scope=%ff",  # percent-encoding that decodes to invalid UTF-8
        "&scope=%C3%28",
        "&scope=%ED%A0%80",  # an encoded UTF-16 surrogate
    ],
)
async def test_malformed_form_bodies(case: Case, suffix: str) -> None:
    body = f"grant_type=client_credentials&{case.creds()}{suffix}"
    assert_error(await case.post("/oauth/token", body), 400, "invalid_request")
    await case.assert_unchanged()


async def test_non_utf8_form_body(case: Case) -> None:
    body = f"grant_type=client_credentials&{case.creds()}&scope=".encode() + b"\xff\xfe"
    assert_error(await case.post("/oauth/token", body), 400, "invalid_request")
    await case.assert_unchanged()


async def test_non_utf8_json_body(case: Case) -> None:
    body = json.dumps({"grant_type": "client_credentials", **case.reg.post}).encode()
    body = body[:-1] + b', "scope": "\xff"}'
    assert_error(await case.post("/oauth/token", body, "application/json"), 400, "invalid_request")
    await case.assert_unchanged()


@pytest.mark.parametrize(
    "document",
    [
        "[]",
        '[["grant_type", "client_credentials"]]',
        '"grant_type=client_credentials"',
        "null",
        "17",
        "{",
        "",
        "{'grant_type': 'client_credentials'}",
    ],
)
async def test_json_that_is_not_an_object(case: Case, document: str) -> None:
    response = await case.post("/oauth/token", document, "application/json", **case.reg.basic)
    assert_error(response, 400, "invalid_request")
    await case.assert_unchanged()


@pytest.mark.parametrize(
    "scope", [None, True, 1.5, ["read"], {"read": "write"}, {"nested": {"deeper": "x"}}]
)
async def test_json_with_non_string_values(case: Case, scope: object) -> None:
    document = {"grant_type": "client_credentials", **case.reg.post, "scope": scope}
    response = await case.post("/oauth/token", json.dumps(document), "application/json")
    body = assert_error(response, 400, "invalid_request")
    assert "scope" in body["error_description"]
    await case.assert_unchanged()


async def test_json_with_duplicate_keys(case: Case) -> None:
    body = '{"grant_type": "client_credentials", "grant_type": "password", '
    body += f'"client_id": "{case.reg.client_id}", "client_secret": "{case.reg.secret}"}}'
    assert_error(await case.post("/oauth/token", body, "application/json"), 400, "invalid_request")
    await case.assert_unchanged()


async def test_deeply_nested_json(case: Case) -> None:
    body = '{"grant_type": ' + "[" * 5000 + "]" * 5000 + "}"
    assert_error(await case.post("/oauth/token", body, "application/json"), 400, "invalid_request")
    await case.assert_unchanged()


# content types


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=xyz", "application/xml", "application/jsonx"],
)
async def test_wrong_content_type(case: Case, content_type: str) -> None:
    body = f"grant_type=client_credentials&{case.creds()}"
    response = await case.post("/oauth/token", body, content_type)
    description = assert_error(response, 400, "invalid_request")["error_description"]
    assert "application/x-www-form-urlencoded" in description
    assert "application/json" in description
    await case.assert_unchanged()


async def test_missing_content_type(case: Case) -> None:
    body = f"grant_type=client_credentials&{case.creds()}"
    response = await case.post("/oauth/token", body, None)
    description = assert_error(response, 400, "invalid_request")["error_description"]
    assert "no Content-Type" in description
    assert "application/x-www-form-urlencoded" in description
    await case.assert_unchanged()


# sizes


def _padded(case: Case, size: int) -> str:
    body = f"grant_type=client_credentials&{case.creds()}&pad="
    return body + "x" * (size - len(body))


async def test_body_over_the_limit_with_content_length(case: Case) -> None:
    limit = case.server.settings.max_body_bytes
    response = await case.post("/oauth/token", _padded(case, limit + 1))
    assert_error(response, 413, "invalid_request")
    await case.assert_unchanged()


async def test_body_at_the_limit_is_read(case: Case) -> None:
    # exactly max_body_bytes is accepted by the reader; the long value is then refused
    limit = case.server.settings.max_body_bytes
    response = await case.post("/oauth/token", _padded(case, limit))
    body = assert_error(response, 400, "invalid_request")
    assert "too long" in body["error_description"]


async def test_body_over_the_limit_when_streamed(case: Case) -> None:
    """Chunked transfer: no Content-Length, so the reader must count."""
    limit = case.server.settings.max_body_bytes
    payload = _padded(case, limit * 3).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    request = case.server.http.build_request(
        "POST", "/oauth/token", content=chunks(), headers={"content-type": FORM_CT}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await case.server.http.send(request)
    assert_error(response, 413, "invalid_request")
    await case.assert_unchanged()


async def test_small_streamed_body_is_accepted(case: Case) -> None:
    payload = f"grant_type=client_credentials&{case.creds()}".encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 7):
            yield payload[start : start + 7]

    response = await case.server.http.post(
        "/oauth/token", content=chunks(), headers={"content-type": FORM_CT}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/oauth/revoke", "/oauth/introspect", "/resource"])
async def test_every_endpoint_caps_its_body(case: Case, path: str) -> None:
    limit = case.server.settings.max_body_bytes
    body = f"token={case.issued['refresh_token']}&access_token={case.issued['access_token']}&"
    body += f"{case.creds()}&pad=" + "x" * limit
    response = await case.post(path, body, FORM_CT, **case.reg.basic)
    assert_error(response, 413, "invalid_request")
    await case.assert_unchanged()


async def test_a_smaller_configured_limit(make_server: MakeServer) -> None:
    server = await make_server(max_body_bytes=1024)
    response = await server.http.post("/oauth/token", data={"pad": "x" * 1100})
    assert_error(response, 413, "invalid_request")


async def test_huge_values(case: Case) -> None:
    for name in ("scope", "client_id", "grant_type", "username"):
        data = {"grant_type": "client_credentials", **case.reg.post, name: "a" * 5000}
        response = await case.server.token(data)
        body = assert_error(response, 400, "invalid_request")
        assert name in body["error_description"]
    await case.assert_unchanged()


async def test_unparseable_content_length_is_not_a_500(case: Case) -> None:
    """A Content-Length that ``str.isdigit`` accepts but ``int`` refuses ("²")."""
    body = f"grant_type=client_credentials&{case.creds()}".encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/oauth/token",
        "raw_path": b"/oauth/token",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", FORM_CT.encode()),
            (b"content-length", "²".encode("latin-1")),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    await case.server.app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] < 500


# parameters


@pytest.mark.parametrize("name", ["grant_type", "scope", "client_id", "client_secret"])
async def test_repeated_parameters(case: Case, name: str) -> None:
    params = [("grant_type", "client_credentials"), *case.reg.post.items(), ("scope", "read")]
    value = dict(params)[name]
    body = urlencode([*params, (name, value)])
    description = assert_error(await case.post("/oauth/token", body), 400, "invalid_request")[
        "error_description"
    ]
    assert name in description
    await case.assert_unchanged()


async def test_repeated_token_at_revocation_revokes_nothing(case: Case) -> None:
    token = case.issued["refresh_token"]
    body = urlencode([("token", token), ("token", token)])
    response = await case.post("/oauth/revoke", body, FORM_CT, **case.reg.basic)
    assert_error(response, 400, "invalid_request")
    await case.assert_unchanged()


async def test_repeated_refresh_token_consumes_nothing(case: Case) -> None:
    token = case.issued["refresh_token"]
    params = [("grant_type", "refresh_token"), ("refresh_token", token), ("refresh_token", token)]
    response = await case.post("/oauth/token", urlencode(params), FORM_CT, **case.reg.basic)
    assert_error(response, 400, "invalid_request")
    await case.assert_unchanged()


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        ({"grant_type": "password", "password": "x"}, "username"),
        ({"grant_type": "password", "username": "alice"}, "password"),
        ({"grant_type": "refresh_token"}, "refresh_token"),
        ({"grant_type": "refresh_token", "refresh_token": ""}, "refresh_token"),
        ({"grant_type": ""}, "grant_type"),
        ({"scope": "read"}, "grant_type"),
    ],
)
async def test_missing_parameters(case: Case, params: dict[str, str], missing: str) -> None:
    response = await case.server.token(params, case.reg.basic)
    body = assert_error(response, 400, "invalid_request")
    assert missing in body["error_description"]
    await case.assert_unchanged()


@pytest.mark.parametrize("grant_type", ["implicit", "authorization-code", "Password", "x" * 300])
async def test_unknown_grant_types(case: Case, grant_type: str) -> None:
    response = await case.server.token({"grant_type": grant_type}, case.reg.basic)
    assert_error(response, 400, "unsupported_grant_type")
    await case.assert_unchanged()


async def test_descriptions_never_echo_unsafe_characters(case: Case) -> None:
    response = await case.server.token({"grant_type": 'évil"\\\n\x01'}, case.reg.basic)
    assert_error(response, 400, "unsupported_grant_type")


# authorization headers


@pytest.mark.parametrize(
    "value",
    [
        "Basic",
        "Basic ",
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":empty-id").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode(),
        "Basic " + "A" * 6000,
    ],
)
async def test_malformed_basic_header(case: Case, value: str) -> None:
    response = await case.server.token(
        {"grant_type": "client_credentials"}, {"Authorization": value}
    )
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith('Basic realm="')
    await case.assert_unchanged()


@pytest.mark.parametrize("scheme", ["Bearer", "Digest", "Negotiate", "basicx"])
async def test_non_basic_scheme(case: Case, scheme: str) -> None:
    response = await case.server.token(
        {"grant_type": "client_credentials", **case.reg.post},
        {"Authorization": f"{scheme} {case.issued['access_token']}"},
    )
    assert_error(response, 401, "invalid_client")
    await case.assert_unchanged()


async def test_two_authorization_headers(case: Case) -> None:
    """Duplicated headers must not let one value win silently."""
    other = await case.server.client()
    headers = [
        ("content-type", FORM_CT),
        ("authorization", case.reg.basic["Authorization"]),
        ("authorization", other.basic["Authorization"]),
    ]
    response = await case.server.http.post(
        "/oauth/token", content=b"grant_type=client_credentials", headers=headers
    )
    assert_error(response, 401, "invalid_client")
    await case.assert_unchanged()
    bearer_twice = [
        ("authorization", f"Bearer {case.issued['access_token']}"),
        ("authorization", "Bearer mint_at_other"),
    ]
    response = await case.server.http.get("/resource", headers=bearer_twice)
    assert response.status_code in (400, 401)
    assert "error" in response.json()


# methods


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_wrong_method_at_the_token_endpoint(case: Case, method: str) -> None:
    response = await case.server.http.request(
        method, f"/oauth/token?grant_type=client_credentials&{case.creds()}"
    )
    assert response.status_code == 405
    await case.assert_unchanged()


BAD_BODIES = {
    "non-utf8": (FORM_CT, b"token=\xff\xfe"),
    "bad-percent": (FORM_CT, b"token=%ff%fe"),
    "empty-field": (FORM_CT, b"token=x&&y=1"),
    "json-array": ("application/json", b'["token"]'),
    "json-number": ("application/json", b'{"token": 1.5}'),
    "json-nested": ("application/json", b'{"token": {"a": "b"}}'),
    "text-plain": ("text/plain", b"token=x"),
}


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
@pytest.mark.parametrize("path", ["/oauth/revoke", "/oauth/introspect"])
async def test_bad_bodies_at_revocation_and_introspection(case: Case, path: str, kind: str) -> None:
    content_type, body = BAD_BODIES[kind]
    # the real token rides along, so a lenient parser would act on it
    body = body.replace(b"token=x", f"token={case.issued['access_token']}".encode())
    response = await case.post(path, body, content_type, **case.reg.basic)
    assert_error(response, 400, "invalid_request")
    await case.assert_unchanged()


@pytest.mark.parametrize("kind", ["non-utf8", "bad-percent", "empty-field"])
async def test_bad_form_bodies_at_the_resource(case: Case, kind: str) -> None:
    content_type, body = BAD_BODIES[kind]
    response = await case.post("/resource", body.replace(b"token=", b"access_token="), content_type)
    assert_error(response, 400, "invalid_request")
    assert response.headers["www-authenticate"].startswith('Bearer realm="mintage", error=')
