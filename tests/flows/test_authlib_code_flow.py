"""The authorization code flow with PKCE, driven by Authlib's OAuth2 client (RFC 6749
§4.1, RFC 7636, RFC 9207), without the browser pages.

Authlib builds the authorization URL and, later, parses the redirect and calls the
token endpoint through the ASGI app.  In between, the test does what the sign-in and
consent pages do: ``server.authorize.validate`` on the URL's parameters, consent, and
``approve`` (or ``deny``) to get the redirect back to the client.
"""

from __future__ import annotations

import asyncio
import secrets
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from mintage.core.endpoints.authorize import (
    AuthorizeEndpoint,
    NonRedirectableError,
    RedirectError,
)
from mintage.core.models import User
from mintage.core.pkce import s256
from oauth_testkit import BASE_URL, Registered, Server

with warnings.catch_warnings():
    # see tests/flows/test_authlib_flows.py: Authlib warns when it falls back to httpx
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
    from authlib.oauth2.rfc6749.errors import MissingCodeException
    from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response

AUTHORIZE_URL = f"{BASE_URL}/oauth/authorize"
TOKEN_URL = f"{BASE_URL}/oauth/token"
RESOURCE_URL = f"{BASE_URL}/resource"
CB = "https://app.example/callback"
ISSUER = "http://127.0.0.1:3000"

Factory = Callable[..., AsyncOAuth2Client]


@pytest.fixture
async def oauth(server: Server) -> AsyncIterator[Factory]:
    made: list[AsyncOAuth2Client] = []

    def make(reg: Registered, redirect_uri: str = CB, **kwargs: Any) -> AsyncOAuth2Client:
        method = "none" if reg.secret is None else "client_secret_basic"
        client = AsyncOAuth2Client(
            client_id=reg.client_id,
            client_secret=reg.secret,
            token_endpoint_auth_method=method,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            transport=httpx.ASGITransport(app=server.app),
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def alice(server: Server) -> User:
    return await server.user()


async def app(server: Server, **kwargs: Any) -> Registered:
    options: dict[str, Any] = {
        "name": "web app",
        "grant_types": ("authorization_code", "refresh_token"),
        "scopes": ("read", "write"),
        "redirect_uris": (CB,),
        "public": True,
    }
    options.update(kwargs)
    return await server.client(**options)


def endpoint(server: Server) -> AuthorizeEndpoint:
    assert server.engine.authorize is not None
    return server.engine.authorize


def url_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def sign_in_and_consent(server: Server, url: str, user: User) -> str:
    """What the pages do for a signed-in user who approves: the redirect to the client."""
    request = await endpoint(server).validate(url_params(url))
    consent = server.engine.consent
    assert consent is not None
    if await consent.needs_consent(user.user_id, request.client.client_id, request.scopes):
        await consent.remember(user.user_id, request.client.client_id, request.scopes)
    return await endpoint(server).approve(request, user.user_id, server.clock.now)


def redirect_query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def verifier() -> str:
    return secrets.token_urlsafe(48)


async def whoami(client: AsyncOAuth2Client) -> httpx.Response:
    return await client.get(RESOURCE_URL)


# the whole flow


async def test_public_client_flow_with_refresh(server: Server, oauth: Factory, alice: User) -> None:
    reg = await app(server)
    client = oauth(reg, scope="read write")
    code_verifier = verifier()
    url, state = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    sent = url_params(url)
    assert sent["code_challenge"] == s256(code_verifier)
    assert sent["code_challenge_method"] == "S256"

    location = await sign_in_and_consent(server, url, alice)
    back = redirect_query(location)
    assert back["state"] == state
    assert back["iss"] == ISSUER  # RFC 9207: the client can tell which server answered

    token = await client.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=code_verifier
    )
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read write"
    assert token["refresh_token"].startswith("mint_rt_")
    me = (await whoami(client)).json()
    assert (me["sub"], me["client_id"]) == (alice.user_id, reg.client_id)

    server.clock.advance(60)
    refreshed = await client.refresh_token(TOKEN_URL)
    assert refreshed["access_token"] != token["access_token"]
    assert (await whoami(client)).json()["sub"] == alice.user_id


async def test_confidential_client_flow(server: Server, oauth: Factory, alice: User) -> None:
    reg = await app(server, public=False)
    client = oauth(reg)
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    location = await sign_in_and_consent(server, url, alice)
    token = await client.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=code_verifier
    )
    assert token["scope"] == "read write"  # no scope asked: the client's default
    assert (await whoami(client)).status_code == 200


async def test_loopback_redirect_on_any_port(server: Server, oauth: Factory, alice: User) -> None:
    reg = await app(server, redirect_uris=("http://127.0.0.1/callback",))
    for port in (49152, 61999):
        redirect_uri = f"http://127.0.0.1:{port}/callback"
        client = oauth(reg, redirect_uri=redirect_uri)
        code_verifier = verifier()
        url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
        location = await sign_in_and_consent(server, url, alice)
        assert location.startswith(redirect_uri + "?code=")
        token = await client.fetch_token(
            TOKEN_URL, authorization_response=location, code_verifier=code_verifier
        )
        assert token["access_token"].startswith("mint_at_")
    # localhost is not a loopback IP: exact match only (RFC 8252 §8.3)
    client = oauth(reg, redirect_uri="http://localhost:49152/callback")
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier())
    with pytest.raises(NonRedirectableError):
        await endpoint(server).validate(url_params(url))


# PKCE


async def test_pkce_missing_is_redirected_as_invalid_request(
    server: Server, oauth: Factory
) -> None:
    client = oauth(await app(server))
    url, state = client.create_authorization_url(AUTHORIZE_URL)  # no code_verifier
    assert "code_challenge" not in url_params(url)
    with pytest.raises(RedirectError) as info:
        await endpoint(server).validate(url_params(url))
    back = redirect_query(info.value.location)
    assert back["error"] == "invalid_request"
    assert "code_challenge" in back["error_description"]
    assert (back["state"], back["iss"]) == (state, ISSUER)


async def test_pkce_plain_is_refused(server: Server, oauth: Factory) -> None:
    client = oauth(await app(server))
    code_verifier = verifier()
    url, state = client.create_authorization_url(
        AUTHORIZE_URL, code_challenge=code_verifier, code_challenge_method="plain"
    )
    with pytest.raises(RedirectError) as info:
        await endpoint(server).validate(url_params(url))
    back = redirect_query(info.value.location)
    assert back["error"] == "invalid_request"
    assert "S256" in back["error_description"]
    assert back["state"] == state


async def test_pkce_wrong_or_missing_verifier(server: Server, oauth: Factory, alice: User) -> None:
    client = oauth(await app(server))
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    location = await sign_in_and_consent(server, url, alice)
    with pytest.raises(OAuthError) as info:
        await client.fetch_token(TOKEN_URL, authorization_response=location)
    assert info.value.error == "invalid_request"
    with pytest.raises(OAuthError) as info:
        await client.fetch_token(
            TOKEN_URL, authorization_response=location, code_verifier=verifier()
        )
    assert info.value.error == "invalid_grant"
    # the failed attempts did not burn the code: the holder of the verifier still wins
    token = await client.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=code_verifier
    )
    assert token["access_token"].startswith("mint_at_")


# single use


async def test_code_replay_fails_and_revokes_the_first_tokens(
    server: Server, oauth: Factory, alice: User
) -> None:
    client = oauth(await app(server))
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    location = await sign_in_and_consent(server, url, alice)
    first = await client.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=code_verifier
    )
    assert (await whoami(client)).status_code == 200

    attacker = oauth(await app(server, name="same id, other holder"))
    attacker.client_id = client.client_id
    with pytest.raises(OAuthError) as info:
        await attacker.fetch_token(
            TOKEN_URL, authorization_response=location, code_verifier=code_verifier
        )
    assert info.value.error == "invalid_grant"
    # RFC 6749 §4.1.2: the tokens issued from the code are revoked
    assert (await whoami(client)).status_code == 401
    with pytest.raises(OAuthError) as info:
        await client.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    assert info.value.error == "invalid_grant"


async def _redeemed(
    server: Server, oauth: Factory, alice: User, reg: Registered
) -> tuple[dict[str, str], dict[str, Any]]:
    """A code redeemed by ``reg``: the redemption's form and its token response."""
    client = oauth(reg)
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    code = redirect_query(await sign_in_and_consent(server, url, alice))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CB,
        "code_verifier": code_verifier,
    }
    first = await server.token({**form, "client_id": reg.client_id})
    assert first.status_code == 200, first.text
    return form, first.json()


async def _still_live(server: Server, reg: Registered, issued: dict[str, Any]) -> None:
    assert (await server.resource(issued["access_token"])).status_code == 200
    refreshed = await server.refresh(reg, issued["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize(
    "change",
    [
        {"code_verifier": "w" * 43},  # well formed, but not the code's verifier
        {"redirect_uri": "https://app.example/other"},
        {"redirect_uri": None},  # the authorization request sent one: it must be repeated
    ],
    ids=["wrong_verifier", "wrong_redirect_uri", "no_redirect_uri"],
)
async def test_a_replay_that_is_no_valid_redemption_revokes_nothing(
    server: Server, oauth: Factory, alice: User, change: dict[str, str | None]
) -> None:
    """RFC 6749 §4.1.2, RFC 9700 §4.5: whoever merely saw a used code (not its verifier)
    is refused, and cannot make the server revoke the user's tokens."""
    reg = await app(server)
    form, issued = await _redeemed(server, oauth, alice, reg)
    replay = {**form, **change, "client_id": reg.client_id}
    refused = await server.token({k: v for k, v in replay.items() if v is not None})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    await _still_live(server, reg, issued)


async def test_a_replay_by_another_client_revokes_nothing(
    server: Server, oauth: Factory, alice: User
) -> None:
    """The right verifier, but the wrong client: the code was not issued to it."""
    reg = await app(server)
    form, issued = await _redeemed(server, oauth, alice, reg)
    other = await app(server, name="another app")
    for caller in (other, await app(server, name="confidential", public=False)):
        refused = await server.token(
            {**form, **({"client_id": caller.client_id} if caller.secret is None else {})},
            caller.basic if caller.secret is not None else None,
        )
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
    await _still_live(server, reg, issued)


async def test_a_valid_replay_revokes_the_codes_tokens(
    server: Server, oauth: Factory, alice: User
) -> None:
    reg = await app(server)
    form, issued = await _redeemed(server, oauth, alice, reg)
    replay = await server.token({**form, "client_id": reg.client_id})
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert (await server.resource(issued["access_token"])).status_code == 401
    refreshed = await server.refresh(reg, issued["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def test_twenty_parallel_redemptions_give_one_token(
    server: Server, oauth: Factory, alice: User
) -> None:
    reg = await app(server)
    client = oauth(reg)
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    code = redirect_query(await sign_in_and_consent(server, url, alice))["code"]
    data = {
        "grant_type": "authorization_code",
        "client_id": reg.client_id,
        "code": code,
        "redirect_uri": CB,
        "code_verifier": code_verifier,
    }
    responses = await asyncio.gather(*(server.token(data) for _ in range(20)))
    assert sorted(r.status_code for r in responses) == [200] + [400] * 19
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    # The other 19 were second uses of the code: RFC 6749 §4.1.2 has its tokens revoked,
    # the winner's included, so no token obtained with a doubly used code stays live.
    winner = next(r for r in responses if r.status_code == 200).json()
    assert (await server.resource(winner["access_token"])).status_code == 401
    assert all(t.revoked_at is not None for t in server.tokens().values())


async def test_expired_code(server: Server, oauth: Factory, alice: User) -> None:
    client = oauth(await app(server))
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    location = await sign_in_and_consent(server, url, alice)
    server.clock.advance(61)
    with pytest.raises(OAuthError) as info:
        await client.fetch_token(
            TOKEN_URL, authorization_response=location, code_verifier=code_verifier
        )
    assert info.value.error == "invalid_grant"


# redirect URIs


async def test_unregistered_redirect_uri_is_never_redirected(
    server: Server, oauth: Factory
) -> None:
    client = oauth(await app(server), redirect_uri="https://evil.example/callback")
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier())
    with pytest.raises(NonRedirectableError) as info:
        await endpoint(server).validate(url_params(url))
    assert info.value.error == "invalid_request"


async def test_token_request_with_another_redirect_uri(
    server: Server, oauth: Factory, alice: User
) -> None:
    other = "https://app.example/other"
    reg = await app(server, redirect_uris=(CB, other))
    client = oauth(reg)
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    location = await sign_in_and_consent(server, url, alice)
    client.redirect_uri = other
    with pytest.raises(OAuthError) as info:
        await client.fetch_token(
            TOKEN_URL, authorization_response=location, code_verifier=code_verifier
        )
    assert info.value.error == "invalid_grant"
    client.redirect_uri = CB
    await client.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=code_verifier
    )


# consent and scope


async def test_consent_declined(server: Server, oauth: Factory) -> None:
    client = oauth(await app(server))
    url, state = client.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier())
    request = await endpoint(server).validate(url_params(url))
    location = endpoint(server).deny(request)
    back = redirect_query(location)
    assert back["error"] == "access_denied"
    assert (back["state"], back["iss"]) == (state, ISSUER)
    # the client's own parser finds no code to redeem
    with pytest.raises(MissingCodeException):
        parse_authorization_code_response(location, state=state)
    assert server.storage.codes == {}
    assert server.tokens() == {}


async def test_scope_widening(server: Server, oauth: Factory, alice: User) -> None:
    reg = await app(server)
    consent = server.engine.consent
    assert consent is not None
    client = oauth(reg, scope="read")
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    location = await sign_in_and_consent(server, url, alice)
    token = await client.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=code_verifier
    )
    assert token["scope"] == "read"

    # a refresh cannot widen the grant (RFC 6749 §6)
    with pytest.raises(OAuthError) as info:
        await client.refresh_token(TOKEN_URL, scope="read write")
    assert info.value.error == "invalid_scope"

    # asking for more scope needs consent again; what was approved does not
    wider = oauth(reg, scope="read write")
    url, _ = wider.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier())
    request = await endpoint(server).validate(url_params(url))
    assert await consent.needs_consent(alice.user_id, reg.client_id, request.scopes)
    assert not await consent.needs_consent(alice.user_id, reg.client_id, ("read",))
    # a scope the client was never allowed is refused outright, back at the client
    url, state = wider.create_authorization_url(
        AUTHORIZE_URL, code_verifier=verifier(), scope="read admin"
    )
    with pytest.raises(RedirectError) as raised:
        await endpoint(server).validate(url_params(url))
    back = redirect_query(raised.value.location)
    assert (back["error"], back["state"]) == ("invalid_scope", state)


async def test_withdrawn_consent_revokes_and_asks_again(
    server: Server, oauth: Factory, alice: User
) -> None:
    reg = await app(server)
    client = oauth(reg)
    code_verifier = verifier()
    url, _ = client.create_authorization_url(AUTHORIZE_URL, code_verifier=code_verifier)
    location = await sign_in_and_consent(server, url, alice)
    await client.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=code_verifier
    )
    consent = server.engine.consent
    assert consent is not None
    assert await consent.revoke(alice.user_id, reg.client_id) == 2
    assert (await whoami(client)).status_code == 401
    with pytest.raises(OAuthError):
        await client.refresh_token(TOKEN_URL)
    assert await consent.needs_consent(alice.user_id, reg.client_id, ("read",))


async def test_metadata_advertises_the_code_flow(server: Server) -> None:
    doc = (await server.http.get("/.well-known/oauth-authorization-server")).json()
    assert doc["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "authorization_code" in doc["grant_types_supported"]
