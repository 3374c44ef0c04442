"""Property tests: whatever arrives at the token endpoint, the answer is never a 5xx.

Every error body stays inside RFC 6749 §5.2's character set, and no token is issued to
a request that could not have authenticated.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oauth_testkit import FORM_CT, Registered, Server

RFC6749_CHARSET = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")
PATHS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect", "/resource"]
CONTENT_TYPES = st.sampled_from(
    [FORM_CT, "application/json", "text/plain", "", "multipart/form-data", FORM_CT + "; x=y"]
)
NAMES = st.sampled_from(
    [
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "refresh_token",
        "username",
        "password",
        "token",
        "token_type_hint",
        "access_token",
    ]
) | st.text(max_size=20)
VALUES = st.sampled_from(
    ["client_credentials", "password", "refresh_token", "read", "mint_at_x", "mint_rt_"]
) | st.text(max_size=60)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and response.content:
        body = response.json()
        assert RFC6749_CHARSET.fullmatch(body.get("error", "")), body
        assert RFC6749_CHARSET.fullmatch(body.get("error_description", "")), body


@FUZZ
@given(body=st.binary(max_size=400), content_type=CONTENT_TYPES, path=st.sampled_from(PATHS))
async def test_arbitrary_bytes(server: Server, body: bytes, content_type: str, path: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    check(await server.http.post(path, content=body, headers=headers))
    assert server.tokens() == {}


@FUZZ
@given(
    pairs=st.lists(st.tuples(NAMES, VALUES), max_size=8),
    as_json=st.booleans(),
    authorization=st.none()
    | st.text(max_size=40).map(lambda t: "Basic " + t)
    | st.text(max_size=40),
)
async def test_arbitrary_parameters(
    server: Server, pairs: list[tuple[str, str]], as_json: bool, authorization: str | None
) -> None:
    headers: dict[str, str | bytes] = {}
    if authorization is not None:
        # any latin-1 header value can be sent; line breaks cannot
        value = authorization.encode("latin-1", "replace").replace(b"\r", b" ").replace(b"\n", b" ")
        headers["authorization"] = value
    if as_json:
        content = json.dumps(dict(pairs)).encode()
        headers["content-type"] = "application/json"
    else:
        content = urlencode(pairs).encode("utf-8", "surrogatepass")
        headers["content-type"] = FORM_CT
    check(await server.http.post("/oauth/token", content=content, headers=headers))
    assert server.tokens() == {}


@FUZZ
@given(extra=st.lists(st.tuples(NAMES, VALUES), max_size=5), scope=VALUES)
async def test_authenticated_requests_with_arbitrary_extras(
    server: Server, extra: list[tuple[str, str]], scope: str
) -> None:
    """With valid credentials the parameters reach the grants: still never a 5xx."""
    reg: Registered = getattr(server, "_fuzz_client", None) or await server.client(
        scopes=("read", "write")
    )
    server._fuzz_client = reg  # type: ignore[attr-defined]
    params = [("grant_type", "client_credentials"), ("scope", scope), *extra]
    response = await server.http.post(
        "/oauth/token",
        content=urlencode(params).encode("utf-8", "surrogatepass"),
        headers={"content-type": FORM_CT, **reg.basic},
    )
    check(response)
    if response.status_code == 200:
        assert set(response.json()["scope"].split()) <= {"read", "write"}
