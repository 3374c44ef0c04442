"""Remembered consent and public native clients (RFC 8252 §8.6, RFC 6749 §10.2).

Anyone can send a public client's id and listen on a loopback port or claim a
private-use scheme, so for such a redirect URI the consent page is shown every time;
confidential clients and public clients answered on ``https`` keep remembered consent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mintage.core.pkce import s256
from oauth_testkit import PASSWORD, Registered, Server, page_forms

VERIFIER = "n" * 50
NATIVE_REDIRECTS = (
    "http://127.0.0.1/cb",
    "http://[::1]/cb",
    "http://localhost:8400/cb",
    "com.example.photos:/oauth2redirect",
)


def authorize_params(reg: Registered, redirect_uri: str, **extra: str) -> dict[str, str]:
    # a loopback IP registered without a port is answered on any port (RFC 8252 §7.3)
    asked = redirect_uri.replace("127.0.0.1/", "127.0.0.1:53682/").replace("]/", "]:53682/")
    return {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": asked,
        "scope": "read",
        "state": "st-native",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **extra,
    }


async def code_client(server: Server, redirect_uri: str, **kwargs: Any) -> Registered:
    return await server.client(
        name="Photos",
        grant_types=("authorization_code",),
        scopes=("read",),
        redirect_uris=(redirect_uri,),
        **kwargs,
    )


def is_consent_page(response: httpx.Response) -> bool:
    return response.status_code == 200 and any(
        f.action.endswith("/oauth/authorize/decision") for f in page_forms(response.text)
    )


def answer(response: httpx.Response, params: dict[str, str]) -> dict[str, list[str]]:
    """The query of a redirect to the client's redirect URI."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(params["redirect_uri"] + "?"), location
    return parse_qs(urlsplit(location).query)


async def sign_in_and_approve(server: Server, params: dict[str, str]) -> dict[str, list[str]]:
    """authorize → sign in → consent → Allow; the client's answer."""
    page = await server.http.get("/oauth/authorize", params=params)
    (login,) = page_forms(page.text)
    signed = await server.http.post(
        "/login", data={**login.fields, "username": "alice", "password": PASSWORD}
    )
    consent = await server.http.get(signed.headers["location"])
    assert is_consent_page(consent)
    decision = page_forms(consent.text)[0]
    approved = await server.http.post(
        "/oauth/authorize/decision", data={**decision.fields, "decision": "approve"}
    )
    return answer(approved, params)


@pytest.mark.parametrize("redirect_uri", NATIVE_REDIRECTS)
async def test_public_native_client_is_asked_every_time(server: Server, redirect_uri: str) -> None:
    reg = await code_client(server, redirect_uri, public=True)
    await server.user()
    params = authorize_params(reg, redirect_uri)
    assert "code" in await sign_in_and_approve(server, params)
    assert server.storage.consents  # remembered, as for any client, and listed

    codes = dict(server.storage.codes)
    again = await server.http.get("/oauth/authorize", params={**params, "state": "two"})
    assert is_consent_page(again)
    assert server.storage.codes == codes  # no code without the user's answer
    decision = page_forms(again.text)[0]
    approved = await server.http.post(
        "/oauth/authorize/decision", data={**decision.fields, "decision": "approve"}
    )
    assert answer(approved, params)["state"] == ["two"]


@pytest.mark.parametrize("redirect_uri", NATIVE_REDIRECTS)
async def test_prompt_none_for_a_public_native_client_is_consent_required(
    server: Server, redirect_uri: str
) -> None:
    reg = await code_client(server, redirect_uri, public=True)
    await server.user()
    params = authorize_params(reg, redirect_uri)
    await sign_in_and_approve(server, params)
    codes = dict(server.storage.codes)
    silent = await server.http.get("/oauth/authorize", params={**params, "prompt": "none"})
    got = answer(silent, params)
    assert got["error"] == ["consent_required"]
    assert got["state"] == ["st-native"] and got["iss"] == [server.settings.issuer_url]
    assert "code" not in got and server.storage.codes == codes


@pytest.mark.parametrize("redirect_uri", NATIVE_REDIRECTS)
async def test_confidential_client_keeps_remembered_consent(
    server: Server, redirect_uri: str
) -> None:
    reg = await code_client(server, redirect_uri)
    assert reg.secret is not None
    await server.user()
    params = authorize_params(reg, redirect_uri)
    await sign_in_and_approve(server, params)
    again = await server.http.get("/oauth/authorize", params={**params, "state": "two"})
    assert answer(again, params)["state"] == ["two"] and "code" in answer(again, params)
    silent = await server.http.get("/oauth/authorize", params={**params, "prompt": "none"})
    assert "code" in answer(silent, params)


async def test_public_client_on_https_keeps_remembered_consent(server: Server) -> None:
    redirect_uri = "https://photos.example/cb"
    reg = await code_client(server, redirect_uri, public=True)
    await server.user()
    params = authorize_params(reg, redirect_uri)
    await sign_in_and_approve(server, params)
    silent = await server.http.get("/oauth/authorize", params={**params, "prompt": "none"})
    assert "code" in answer(silent, params)


async def test_one_client_asked_on_loopback_but_not_on_https(server: Server) -> None:
    """The redirect URI of the request decides: the code goes where it says."""
    web, loopback = "https://photos.example/cb", "http://127.0.0.1/cb"
    reg = await server.client(
        name="Photos",
        grant_types=("authorization_code",),
        scopes=("read",),
        redirect_uris=(web, loopback),
        public=True,
    )
    await server.user()
    await sign_in_and_approve(server, authorize_params(reg, web))
    on_web = authorize_params(reg, web, prompt="none")
    assert "code" in answer(await server.http.get("/oauth/authorize", params=on_web), on_web)
    on_loopback = authorize_params(reg, loopback, prompt="none")
    refused = await server.http.get("/oauth/authorize", params=on_loopback)
    assert answer(refused, on_loopback)["error"] == ["consent_required"]
