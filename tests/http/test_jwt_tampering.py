"""Forged and altered JWT access tokens (RFC 9068, RFC 8725) are refused everywhere.

With JWT access tokens on, a token Mintage issued is accepted at ``/resource``,
``/userinfo`` and introspection; every variation below is refused there: 401
``invalid_token`` with the Bearer challenge (RFC 6750 §3.1) at the two resources and
``{"active": false}`` alone at introspection (RFC 7662 §2.2).

The forgeries are built here from raw base64url, HMAC and joserfc, never with the
server's own token code: ``alg: none``, HS256 keyed with our public keys (RS/HS confusion, RFC 8725
§2.1), a key not ours under a well-formed ``kid`` (and under our ``kid``), claims edited
under the original signature, one flipped signature byte, and a token signed with our
own key by an insider that Mintage never issued.  An expired and a revoked token are
genuine tokens that stopped being valid.  An ID token is not an access token.

Access tokens are checked against their stored record (the digest of the whole JWT), so
any altered byte makes them unknown.  ID tokens have no record: the one place Mintage
verifies a JWT's signature itself is the ``id_token_hint`` of RP-Initiated Logout, where
a hint naming the signed-in user ends the session without asking.  The same forgeries,
made of the user's ID token, must not sign anyone out there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jwt import decode

from mintage.core.pkce import s256
from mintage.resource import InvalidTokenError, JWTVerifier
from oauth_testkit import MakeServer, Registered, Server, bearer, sign_in_through_pages

CB = "https://rp.example/callback"
BYE = "https://rp.example/signed-out"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, payload, signature = token.split(".")
    return json.loads(unb64(head)), json.loads(unb64(payload)), signature


def signed(claims: dict[str, Any], key: Any, header: dict[str, Any]) -> str:
    """A JWS made with joserfc, with exactly ``header`` as its protected header."""
    alg = header["alg"]
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=[alg])


def es256(claims: dict[str, Any], key: Any, kid: str, **header: Any) -> str:
    return signed(claims, key, {"alg": "ES256", "typ": "at+jwt", "kid": kid, **header})


def compact(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The JWS signing input (RFC 7515 §5.1 step 5)."""
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


class Setup:
    """A JWT-issuing server, a resource server client, and one genuine user token
    response, obtained in ``browser``, which stays signed in."""

    def __init__(
        self,
        server: Server,
        rs: Registered,
        app: Registered,
        issued: dict[str, Any],
        browser: httpx.AsyncClient,
    ) -> None:
        self.server = server
        self.rs = rs
        self.app = app
        self.issued = issued
        self.browser = browser

    @property
    def token(self) -> str:
        value: str = self.issued["access_token"]
        return value

    @property
    def id_token(self) -> str:
        value: str = self.issued["id_token"]
        return value

    async def logout(self, hint: str) -> httpx.Response:
        """RP-Initiated Logout from the signed-in browser, with ``hint``."""
        return await self.browser.get(
            f"{self.server.settings.issuer_url}/oauth/logout",
            params={"id_token_hint": hint, "post_logout_redirect_uri": BYE, "state": "z"},
        )

    async def logout_refused(self, hint: str) -> None:
        """Refused as a hint: our error page, no redirect, and still signed in."""
        sessions = dict(self.server.storage.sessions)
        response = await self.logout(hint)
        assert response.status_code == 400, response.text
        assert "location" not in response.headers
        assert self.server.storage.sessions == sessions

    async def jwks(self) -> dict[str, Any]:
        body: dict[str, Any] = (await self.server.http.get("/.well-known/jwks.json")).json()
        return body

    async def userinfo(self, token: str) -> httpx.Response:
        return await self.server.http.get("/userinfo", headers=bearer(token))

    async def accepted_everywhere(self, token: str) -> None:
        assert (await self.server.resource(token)).status_code == 200
        assert (await self.userinfo(token)).status_code == 200
        assert (await self.server.introspect(self.rs, token))["active"] is True

    async def refused_everywhere(self, token: str) -> None:
        for response in (await self.server.resource(token), await self.userinfo(token)):
            assert response.status_code == 401, (response.request.url, response.text)
            assert response.json()["error"] == "invalid_token"
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
        # RFC 7662 §2.2: nothing but active=false, whatever the reason
        assert await self.server.introspect(self.rs, token) == {"active": False}


async def user_token(
    server: Server, app: Registered, scope: str, browser: httpx.AsyncClient
) -> dict[str, Any]:
    """A code flow through the real pages: the token response for alice."""
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": CB,
        "scope": scope,
        "state": "s",
        "nonce": "n",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    url = f"{server.settings.issuer_url}/oauth/authorize?{urlencode(query)}"
    location = await sign_in_through_pages(browser, url)
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    response = await server.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CB,
            "code_verifier": verifier,
        },
        app.basic,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def setup(make_server: MakeServer) -> AsyncIterator[Setup]:
    server = await make_server(access_token_format="jwt")
    alice = await server.user()
    rs = await server.resource_server("resource server")
    app = await server.client(
        name="web app",
        grant_types=("authorization_code", "refresh_token"),
        scopes=("openid", "profile", "read", "offline_access"),
        redirect_uris=(CB,),
        post_logout_redirect_uris=(BYE,),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app)) as browser:
        issued = await user_token(server, app, "openid profile read offline_access", browser)
        s = Setup(server, rs, app, issued, browser)
        header, claims, _ = parts(s.token)
        assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
        assert claims["sub"] == alice.user_id
        await s.accepted_everywhere(s.token)
        assert len(server.storage.sessions) == 1
        yield s


# forgeries made without any key of ours

Forge = Callable[[Setup, str], Awaitable[list[str]]]


async def alg_none(s: Setup, token: str) -> list[str]:
    header, claims, _ = parts(token)
    unsigned = {"alg": "none", "typ": header["typ"]}
    return [
        compact(unsigned, claims) + ".",
        compact({**header, "alg": "none"}, claims) + ".",  # our kid kept
        compact({**header, "alg": "None"}, claims) + ".",
    ]


async def hs256_with_public_keys(s: Setup, token: str) -> list[str]:
    """RFC 8725 §2.1: a verifier that let the header pick HMAC would key it with the
    public key it has for the ``kid``; the attacker knows that key too."""
    header, claims, _ = parts(token)
    forged = []
    for jwk in (await s.jwks())["keys"]:
        public = (RSAKey if jwk["kty"] == "RSA" else ECKey).import_key(jwk)
        materials = [
            public.as_pem(private=False),
            json.dumps(jwk).encode(),
            json.dumps(public.as_dict(private=False)).encode(),
        ]
        for material in materials:
            signing_input = compact({**header, "alg": "HS256", "kid": jwk["kid"]}, claims)
            mac = hmac.new(material, signing_input.encode(), hashlib.sha256).digest()
            forged.append(f"{signing_input}.{b64(mac)}")
    return forged


async def foreign_key(s: Setup, token: str) -> list[str]:
    """Well-formed tokens signed by keys that are not ours: one of the token's own
    algorithm and one of the other, under an unknown ``kid`` and under ours."""
    header, claims, _ = parts(token)
    strangers = {"ES256": ECKey.generate_key("P-256"), "RS256": RSAKey.generate_key(2048)}
    forged = []
    for alg, stranger in strangers.items():
        for kid in ("k-" + secrets.token_urlsafe(16), header["kid"]):
            forged.append(signed(claims, stranger, {**header, "alg": alg, "kid": kid}))
        # the attacker's public key carried in the header itself ("jwk", RFC 7515 §4.1.3)
        jwk = stranger.as_dict(private=False)
        forged.append(signed(claims, stranger, {**header, "alg": alg, "jwk": jwk}))
    return forged


async def claims_edited(s: Setup, token: str) -> list[str]:
    """The original signature over edited claims: a wider scope, another subject."""
    header, claims, signature = parts(token)
    edits = [
        {**claims, "scope": claims.get("scope", "openid") + " admin"},
        {**claims, "sub": "someone-else"},
        {**claims, "exp": claims["exp"] + 86400},
    ]
    return [f"{compact(header, edit)}.{signature}" for edit in edits]


async def signature_byte_flipped(s: Setup, token: str) -> list[str]:
    head, payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    last = bytearray(unb64(signature))
    last[-1] ^= 0x80
    return [f"{head}.{payload}.{b64(bytes(raw))}", f"{head}.{payload}.{b64(bytes(last))}"]


async def signed_by_an_insider(s: Setup, token: str) -> list[str]:
    """Correctly signed with the server's own current key, but never issued: without
    a stored record it is refused, whatever its claims say."""
    _, claims, _ = parts(token)
    kid, key = await s.server.engine.keys.signer("ES256")
    variants = [
        {**claims, "aud": "https://other-api.example"},
        {**claims, "jti": secrets.token_urlsafe(16)},
        {**claims, "scope": "openid profile read admin"},
    ]
    forged = [es256(c, key, kid) for c in variants]
    # they are genuine signatures: they verify against the published JWKS
    keys = KeySet.import_key_set(await s.jwks())
    for token in forged:
        assert decode(token, keys, algorithms=["ES256"]).claims["iss"] == claims["iss"]
    return forged


FORGERIES = [alg_none, hs256_with_public_keys, foreign_key, claims_edited, signature_byte_flipped]


@pytest.mark.parametrize("forge", [*FORGERIES, signed_by_an_insider])
async def test_forged_jwt_is_refused(setup: Setup, forge: Forge) -> None:
    forged = await forge(setup, setup.token)
    assert forged
    for token in forged:
        assert token != setup.token
        await setup.refused_everywhere(token)
    # nothing forged disturbed the genuine token
    await setup.accepted_everywhere(setup.token)


@pytest.mark.parametrize("forge", FORGERIES)
async def test_resource_kit_refuses_the_forgeries_locally(setup: Setup, forge: Forge) -> None:
    """``mintage.resource.JWTVerifier`` checks signatures against this server's JWKS
    instead of a record: the forgeries fail there too.  (One signed with our own key
    would pass: local verification trusts the key; only introspection and Mintage's own
    endpoints consult the record.)"""
    server = setup.server
    local = JWTVerifier(
        server.settings.issuer_url,
        transport=httpx.ASGITransport(app=server.app),
        clock=server.clock,
    )
    try:
        genuine = await local.verify(setup.token)
        assert (genuine.client_id, genuine.subject) == (
            setup.app.client_id,
            parts(setup.token)[1]["sub"],
        )
        for token in await forge(setup, setup.token):
            with pytest.raises(InvalidTokenError):
                await local.verify(token)
        with pytest.raises(InvalidTokenError):  # typ JWT, aud the client: not for an API
            await local.verify(setup.id_token)
    finally:
        await local.aclose()


# id_token_hint at RP-Initiated Logout: the signature is what is checked


@pytest.mark.parametrize("forge", FORGERIES)
async def test_forged_id_token_hint_signs_nobody_out(setup: Setup, forge: Forge) -> None:
    forged = await forge(setup, setup.id_token)
    assert forged
    for hint in forged:
        assert hint != setup.id_token
        await setup.logout_refused(hint)
    # the genuine hint names the signed-in user: signed out at once, back to the client
    done = await setup.logout(setup.id_token)
    assert done.status_code == 303
    assert done.headers["location"] == f"{BYE}?state=z"
    assert not setup.server.storage.sessions


async def test_hint_must_be_an_id_token_of_this_issuer(setup: Setup) -> None:
    # a JWT access token is signed by one of our keys, but is not an ID token
    await setup.logout_refused(setup.token)
    # an ID token signed with our own key but naming another issuer
    header, claims, _ = parts(setup.id_token)
    kid, key = await setup.server.engine.keys.signer("RS256")
    elsewhere = signed({**claims, "iss": "https://other.example"}, key, {**header, "kid": kid})
    await setup.logout_refused(elsewhere)


# genuine tokens that stopped being valid


async def test_expired_jwt_is_refused(setup: Setup) -> None:
    _, claims, _ = parts(setup.token)
    clock = setup.server.clock
    clock.advance(claims["exp"] - clock.now - 1)
    await setup.accepted_everywhere(setup.token)  # the last second of its life
    clock.advance(1)
    await setup.refused_everywhere(setup.token)


async def test_revoked_jwt_is_refused(setup: Setup) -> None:
    revoked = await setup.server.http.post(
        "/oauth/revoke", data={"token": setup.token}, headers=setup.app.basic
    )
    assert revoked.status_code == 200
    await setup.refused_everywhere(setup.token)
    # the refresh token was not revoked with it (RFC 7009 §2.1 leaves that open) and
    # still yields a working access token
    refreshed = await setup.server.refresh(setup.app, setup.issued["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    await setup.accepted_everywhere(refreshed.json()["access_token"])


async def test_revoked_by_another_client_stays_valid(setup: Setup) -> None:
    """RFC 7009 §2.1: a client can revoke only its own tokens."""
    other = await setup.server.http.post(
        "/oauth/revoke", data={"token": setup.token}, headers=setup.rs.basic
    )
    assert other.status_code == 200  # §2.2: no hint either way
    await setup.accepted_everywhere(setup.token)


# an ID token is not an access token


async def test_id_token_is_not_an_access_token(setup: Setup) -> None:
    id_token = setup.issued["id_token"]
    header, claims, _ = parts(id_token)
    assert header["alg"] == "RS256" and claims["aud"] == setup.app.client_id
    await setup.refused_everywhere(id_token)


async def test_opaque_server_refuses_a_jwt_access_token_of_another(
    make_server: MakeServer, setup: Setup
) -> None:
    """A second server (other keys, other store) knows nothing of the first's tokens."""
    other = await make_server(access_token_format="jwt")
    rs = await other.resource_server("resource server")
    assert (await other.resource(setup.token)).status_code == 401
    assert (await other.introspect(rs, setup.token)) == {"active": False}
