"""RFC 9110 §15.5.2: every 401 carries a ``WWW-Authenticate`` challenge.

Client authentication failures at the token, introspection and revocation endpoints
get the Basic challenge (RFC 6749 §5.2, RFC 7617 §2) whichever way the client tried:
HTTP Basic, the form body, a JSON body, an unknown client, no credentials at all.  The
bearer endpoints (/resource, /userinfo) get RFC 6750 §3's; the sign-in page, whose way
to authenticate is its form, names that.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from oauth_testkit import FORM_CT, Registered, Server, basic, bearer, page_forms

BASIC_CHALLENGE = 'Basic realm="mintage", charset="UTF-8"'

ENDPOINTS = {
    "/oauth/token": {"grant_type": "client_credentials"},
    "/oauth/introspect": {"token": "mint_at_unknown"},
    "/oauth/revoke": {"token": "mint_at_unknown"},
}


def attempt(style: str, reg: Registered, params: dict[str, str]) -> dict[str, Any]:
    """The request parts of one way of (failing to) authenticate."""
    secret = reg.secret or ""
    body_ct = {"content-type": FORM_CT}
    match style:
        case "basic, wrong secret":
            return {"data": params, "headers": basic(reg.client_id, secret + "x")}
        case "basic, unknown client":
            return {"data": params, "headers": basic("nobody", secret)}
        case "basic, malformed":
            return {"data": params, "headers": {"Authorization": "Basic !!not-base64!!"}}
        case "another scheme":
            return {"data": params, "headers": {"Authorization": f"Bearer {secret}"}}
        case "post, wrong secret":
            fields = {**params, "client_id": reg.client_id, "client_secret": secret + "x"}
            return {"data": fields, "headers": body_ct}
        case "post, unknown client":
            fields = {**params, "client_id": "nobody", "client_secret": secret}
            return {"data": fields, "headers": body_ct}
        case "json, wrong secret":
            document = {**params, "client_id": reg.client_id, "client_secret": secret + "x"}
            return {
                "content": json.dumps(document),
                "headers": {"content-type": "application/json"},
            }
        case "json, unknown client":
            document = {**params, "client_id": "nobody", "client_secret": secret}
            return {
                "content": json.dumps(document),
                "headers": {"content-type": "application/json"},
            }
        case "no credentials":
            return {"data": params, "headers": body_ct}
    raise AssertionError(style)


STYLES = [
    "basic, wrong secret",
    "basic, unknown client",
    "basic, malformed",
    "another scheme",
    "post, wrong secret",
    "post, unknown client",
    "json, wrong secret",
    "json, unknown client",
    "no credentials",
]


def assert_client_challenge(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers.get_list("www-authenticate") == [BASIC_CHALLENGE]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("style", STYLES)
async def test_failed_client_authentication_is_challenged(
    server: Server, path: str, style: str
) -> None:
    reg = await server.client()
    response = await server.http.post(path, **attempt(style, reg, ENDPOINTS[path]))
    assert_client_challenge(response)


async def test_the_challenge_names_a_method_that_works(server: Server) -> None:
    """The control: the same requests with the right secret are not 401."""
    reg = await server.client()
    for path, params in ENDPOINTS.items():
        assert (await server.http.post(path, data=params, headers=reg.basic)).status_code == 200
        form = {**params, **reg.post}
        assert (await server.http.post(path, data=form)).status_code == 200


async def test_a_public_client_at_introspection_is_challenged(server: Server) -> None:
    """Identified but not authenticated (method ``none``): introspection refuses it."""
    public = await server.client(
        public=True, grant_types=("authorization_code",), redirect_uris=["https://app.example/cb"]
    )
    response = await server.http.post(
        "/oauth/introspect", data={"token": "mint_at_unknown", "client_id": public.client_id}
    )
    assert_client_challenge(response)


async def test_a_confidential_client_without_its_secret_is_challenged(server: Server) -> None:
    reg = await server.client()
    response = await server.http.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": reg.client_id}
    )
    assert_client_challenge(response)


@pytest.mark.parametrize("path", ["/resource", "/userinfo"])
async def test_bearer_endpoints_are_challenged(server: Server, path: str) -> None:
    missing = await server.http.get(path)
    assert missing.status_code == 401
    assert missing.headers.get_list("www-authenticate") == ['Bearer realm="mintage"']
    invalid = await server.http.get(path, headers=bearer("mint_at_not-a-token"))
    assert invalid.status_code == 401
    [challenge] = invalid.headers.get_list("www-authenticate")
    assert challenge.startswith('Bearer realm="mintage", error="invalid_token"')


async def test_a_failed_sign_in_names_the_form(server: Server) -> None:
    await server.user()
    page = await server.http.get("/login")
    [form] = [f for f in page_forms(page.text) if f.action.endswith("/login")]
    data = {**form.fields, "username": "alice", "password": "wrong"}
    refused = await server.http.post("/login", data=data)
    assert refused.status_code == 401
    assert refused.headers.get_list("www-authenticate") == ['Form realm="mintage"']
    assert 'name="password"' in refused.text  # the form to authenticate with


async def test_no_other_answer_is_challenged(server: Server) -> None:
    """Challenges go with 401 only: a 400 of the same endpoint has none."""
    reg = await server.client()
    wrong_grant = await server.http.post(
        "/oauth/token", data={"grant_type": "password"}, headers=reg.basic
    )
    assert wrong_grant.status_code == 400
    assert "www-authenticate" not in wrong_grant.headers
