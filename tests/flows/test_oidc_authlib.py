"""OpenID Connect through Authlib's client, knowing nothing but the issuer URL.

Authlib's ``AsyncOAuth2Client`` is the relying party (OpenID Connect Core §3.1): it reads
the discovery document (Discovery §4), sends the user to the authorization endpoint
with PKCE, ``state`` and ``nonce``, redeems the code, and calls UserInfo and the token
endpoint again to refresh.  The user's part is played on the real sign-in and consent
pages (``oauth_testkit.sign_in_through_pages``: cookies and CSRF fields, as a browser).

Every ID token is validated the way Authlib's own OpenID integration does it
(``AsyncOpenIDMixin.parse_id_token``): the JWKS from ``jwks_uri``, the algorithms
from ``id_token_signing_alg_values_supported``, then ``authlib.oidc.core.CodeIDToken``
for ``iss``, ``aud``, ``azp``, ``exp``, ``nonce`` and ``at_hash``.  Mintage signs with
joserfc, which Authlib also verifies with, so the signature is checked a second time
with ``authlib.jose``, Authlib's own JWS code.

The server runs on a frozen clock, so tokens are validated at the server's "now".
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from mintage.core.models import User
from oauth_testkit import (
    PASSWORD,
    MakeServer,
    Registered,
    Server,
    page_forms,
    password_hash,
    sign_in_through_pages,
)

with warnings.catch_warnings():
    # see tests/flows/test_authlib_flows.py: Authlib warns when it falls back to httpx,
    # and authlib.jose warns that joserfc replaces it (Authlib 2.0).
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as authlib_jwt
    from authlib.jose.errors import BadSignatureError as AuthlibBadSignature
    from authlib.oidc.core import CodeIDToken

CB = "https://rp.example/callback"
SCOPE = "openid profile email"
ALICE_CLAIMS = {
    "name": "Alice Liddell",
    "given_name": "Alice",
    "email": "alice@example.com",
    "email_verified": "true",
    "address.locality": "Oxford",
    "phone_number": "+44 1865 000000",
}


@dataclass
class RelyingParty:
    """Authlib's client and what it learnt from the issuer URL."""

    oauth: AsyncOAuth2Client
    issuer: str
    metadata: dict[str, Any]
    jwks: dict[str, Any]
    server: Server

    @property
    def client_id(self) -> str:
        value: str = self.oauth.client_id
        return value

    async def authorize(self, user: str = "alice", **params: str) -> tuple[dict[str, Any], str]:
        """The code flow with PKCE and a nonce; the token response and the nonce."""
        verifier = secrets.token_urlsafe(48)
        nonce = params.pop("nonce", secrets.token_urlsafe(16))
        url, state = self.oauth.create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=verifier,
            nonce=nonce,
            **params,
        )
        async with browser(self.server) as http:
            location = await sign_in_through_pages(http, url, username=user, password=PASSWORD)
        back = dict(parse_qsl(urlsplit(location).query))
        assert back["state"] == state
        assert back["iss"] == self.issuer  # RFC 9207 §2.4: the response is from our issuer
        token: dict[str, Any] = await self.oauth.fetch_token(
            self.metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        return token, nonce

    def validate(
        self,
        id_token: str,
        *,
        nonce: str | None,
        access_token: str | None,
        now: int | None = None,
        client_id: str | None = None,
    ) -> CodeIDToken:
        """As Authlib's ``parse_id_token``; raises joserfc errors when invalid."""
        decoded = joserfc_jwt.decode(
            id_token,
            KeySet.import_key_set(self.jwks),
            registry=JWSRegistry(algorithms=self.metadata["id_token_signing_alg_values_supported"]),
        )
        options: Any = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": client_id or self.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        params: dict[str, Any] = {"client_id": client_id or self.client_id}
        if nonce is not None:
            params["nonce"] = nonce
        if access_token is not None:
            params["access_token"] = access_token
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        claims.validate(now=self.server.clock.now if now is None else now)
        # The signature once more, with Authlib's own JWS code rather than joserfc.
        legacy = authlib_jwt.decode(id_token, JsonWebKey.import_key_set(self.jwks))
        assert dict(legacy) == dict(claims)
        return claims

    async def userinfo(self, method: str = "GET") -> httpx.Response:
        response: httpx.Response = await self.oauth.request(
            method, self.metadata["userinfo_endpoint"]
        )
        return response


def browser(server: Server) -> httpx.AsyncClient:
    """A fresh cookie jar on the app, as a new browser profile."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app))


async def discover(server: Server, reg: Registered, scope: str = SCOPE) -> RelyingParty:
    """Only the issuer URL is known: everything else comes from discovery."""
    issuer = server.settings.issuer_url
    oauth = AsyncOAuth2Client(
        client_id=reg.client_id,
        client_secret=reg.secret,
        token_endpoint_auth_method="none" if reg.secret is None else "client_secret_basic",
        redirect_uri=CB,
        scope=scope,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=server.app),
    )
    response = await oauth.request(
        "GET", f"{issuer}/.well-known/openid-configuration", withhold_token=True
    )
    assert response.status_code == 200
    metadata: dict[str, Any] = response.json()
    # Discovery §4.3: the issuer in the document is the URL it was fetched from
    assert metadata["issuer"] == issuer
    jwks = (await oauth.request("GET", metadata["jwks_uri"], withhold_token=True)).json()
    return RelyingParty(oauth, issuer, metadata, jwks, server)


@pytest.fixture
async def oidc_server(make_server: MakeServer) -> Server:
    server = await make_server()
    await server.storage.save_user(
        User(
            user_id="u-alice",
            username="alice",
            password_hash=password_hash(),
            claims=dict(ALICE_CLAIMS),
        )
    )
    return server


@pytest.fixture
async def rps() -> AsyncIterator[list[RelyingParty]]:
    made: list[RelyingParty] = []
    yield made
    for rp in made:
        await rp.oauth.aclose()


async def relying_party(
    server: Server,
    rps: list[RelyingParty],
    *,
    public: bool = False,
    access_token_format: str | None = None,
    scope: str = SCOPE,
) -> RelyingParty:
    reg = await server.client(
        name="Relying party",
        grant_types=("authorization_code", "refresh_token"),
        scopes=("openid", "profile", "email", "address", "phone", "read", "offline_access"),
        redirect_uris=(CB,),
        public=public,
        access_token_format=access_token_format,
    )
    rp = await discover(server, reg, scope)
    rps.append(rp)
    return rp


# discovery


async def test_discovery_document_has_what_a_relying_party_needs(oidc_server: Server) -> None:
    issuer = oidc_server.settings.issuer_url
    doc = (await oidc_server.http.get(f"{issuer}/.well-known/openid-configuration")).json()
    # Discovery §3: REQUIRED members, and what the code flow with PKCE needs
    for name in (
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ):
        assert name in doc, name
    assert doc["response_types_supported"] == ["code"]
    assert "RS256" in doc["id_token_signing_alg_values_supported"]  # Core §15.1
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "openid" in doc["scopes_supported"]
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert doc[endpoint].startswith(issuer + "/"), endpoint
    # the RFC 8414 URL serves the same document
    oauth_doc = await oidc_server.http.get(f"{issuer}/.well-known/oauth-authorization-server")
    assert oauth_doc.json() == doc
    jwks = (await oidc_server.http.get(doc["jwks_uri"])).json()
    for key in jwks["keys"]:
        # RFC 7517 §5: public keys only
        assert {"d", "p", "q", "dp", "dq", "qi"}.isdisjoint(key), key["kid"]
        assert key["use"] == "sig" and key["kid"]
    assert "RS256" in {k["alg"] for k in jwks["keys"]}


# the code flow


@pytest.mark.parametrize("access_token_format", ["opaque", "jwt"])
async def test_code_flow_id_token_userinfo_and_refresh(
    oidc_server: Server, rps: list[RelyingParty], access_token_format: str
) -> None:
    # Core §11: a refresh token for a sign-in is offline access, asked for as such
    rp = await relying_party(
        oidc_server, rps, access_token_format=access_token_format, scope=f"{SCOPE} offline_access"
    )
    signed_in_at = oidc_server.clock.now
    token, nonce = await rp.authorize()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == f"{SCOPE} offline_access"
    assert token["access_token"].startswith("eyJ" if access_token_format == "jwt" else "mint_at_")

    claims = rp.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
    assert claims["sub"] == "u-alice"
    assert claims["aud"] == rp.client_id and claims["azp"] == rp.client_id
    assert claims["nonce"] == nonce
    assert claims["auth_time"] == signed_in_at
    assert claims["iat"] == signed_in_at
    assert claims["exp"] > claims["iat"]
    assert claims["amr"] == ["pwd"]
    assert "at_hash" in claims  # checked against the access token by CodeIDToken
    # the ID token carries identity, not profile data (Core §5.4: those go to UserInfo)
    assert "email" not in claims and "name" not in claims

    info = await rp.userinfo()
    assert info.status_code == 200
    assert info.headers["cache-control"] == "no-store"
    profile = info.json()
    # Core §5.3.2: the sub of UserInfo MUST equal the ID token's
    assert profile["sub"] == claims["sub"]
    assert profile["name"] == "Alice Liddell"
    assert profile["given_name"] == "Alice"
    assert profile["email"] == "alice@example.com"
    assert profile["email_verified"] is True  # §5.1: a boolean, not the string stored
    assert profile["preferred_username"] == "alice"
    assert "address" not in profile and "phone_number" not in profile  # not asked for
    assert (await rp.userinfo("POST")).json() == profile  # §5.3.1: GET and POST

    oidc_server.clock.advance(120)
    refreshed: dict[str, Any] = await rp.oauth.refresh_token(rp.metadata["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    again = rp.validate(refreshed["id_token"], nonce=None, access_token=refreshed["access_token"])
    # Core §12.2: same iss, sub, aud, azp and auth_time; a new iat; no nonce
    for name in ("iss", "sub", "aud", "azp", "auth_time"):
        assert again[name] == claims[name], name
    assert again["iat"] == signed_in_at + 120
    assert "nonce" not in again
    assert again["at_hash"] != claims["at_hash"]
    assert (await rp.userinfo()).json()["sub"] == claims["sub"]


async def test_a_sign_in_without_offline_access_gets_no_refresh_token(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    """Core §11: with ``openid``, a refresh token only for ``offline_access``; the
    client has the refresh_token grant and is allowed the scope, but did not ask."""
    rp = await relying_party(oidc_server, rps)
    token, nonce = await rp.authorize()
    assert token["scope"] == SCOPE
    assert "refresh_token" not in token
    rp.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
    assert (await rp.userinfo()).status_code == 200


async def test_offline_access_needs_the_refresh_grant(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    reg = await oidc_server.client(
        name="No refresh",
        grant_types=("authorization_code",),
        scopes=("openid", "offline_access"),
        redirect_uris=(CB,),
    )
    rp = await discover(oidc_server, reg, "openid offline_access")
    rps.append(rp)
    token, _ = await rp.authorize()
    assert "refresh_token" not in token


async def test_offline_access_is_not_granted_to_a_client_without_it(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    reg = await oidc_server.client(
        name="Online only",
        grant_types=("authorization_code", "refresh_token"),
        scopes=("openid",),
        redirect_uris=(CB,),
    )
    rp = await discover(oidc_server, reg, "openid offline_access")
    rps.append(rp)
    url, _ = rp.oauth.create_authorization_url(
        rp.metadata["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48)
    )
    refused = await oidc_server.http.get(url)
    assert refused.status_code in (302, 303), refused.text
    back = dict(parse_qsl(urlsplit(refused.headers["location"]).query))
    assert back["error"] == "invalid_scope"


async def test_plain_oauth_still_gets_a_refresh_token(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    """Without ``openid`` nothing changes: the refresh_token grant is enough."""
    rp = await relying_party(oidc_server, rps, scope="read")
    token, _ = await rp.authorize()
    assert "id_token" not in token
    assert token["refresh_token"].startswith("mint_rt_")


async def test_public_client(oidc_server: Server, rps: list[RelyingParty]) -> None:
    rp = await relying_party(oidc_server, rps, public=True, scope="openid email")
    token, nonce = await rp.authorize()
    claims = rp.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
    assert claims["aud"] == rp.client_id
    profile = (await rp.userinfo()).json()
    assert profile == {"sub": "u-alice", "email": "alice@example.com", "email_verified": True}


async def test_claims_follow_the_scope(oidc_server: Server, rps: list[RelyingParty]) -> None:
    rp = await relying_party(oidc_server, rps, scope="openid")
    await rp.authorize()
    assert (await rp.userinfo()).json() == {"sub": "u-alice"}
    wider = await relying_party(oidc_server, rps, scope="openid address phone")
    await wider.authorize()
    assert (await wider.userinfo()).json() == {
        "sub": "u-alice",
        "address": {"locality": "Oxford"},  # §5.1.1: an object
        "phone_number": "+44 1865 000000",
    }


async def test_consent_page_says_what_each_openid_scope_releases(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    rp = await relying_party(oidc_server, rps, scope="openid profile email address phone")
    url, _ = rp.oauth.create_authorization_url(
        rp.metadata["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48)
    )
    async with browser(oidc_server) as http:
        login = page_forms((await http.get(url)).text)[0]
        data = {**login.fields, "username": "alice", "password": PASSWORD}
        signed_in = await http.post(httpx.URL(url).join(login.action), data=data)
        consent = (await http.get(httpx.URL(url).join(signed_in.headers["location"]))).text
    for words in (
        "Confirm who you are",
        "See your profile",
        "See your email address",
        "See your postal address",
        "See your phone number",
    ):
        assert words in consent, words
    assert "<code>" not in consent  # no scope shown by its bare name


async def test_jwt_access_token_verifies_against_the_same_jwks(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    """RFC 9068 §4: a resource server can check the access token with ``jwks_uri``."""
    rp = await relying_party(oidc_server, rps, access_token_format="jwt")
    token, _ = await rp.authorize()
    decoded = joserfc_jwt.decode(
        token["access_token"],
        KeySet.import_key_set(rp.jwks),
        registry=JWSRegistry(algorithms=["ES256", "RS256", "EdDSA"]),
    )
    assert decoded.header["typ"] == "at+jwt"  # §2.1
    access = decoded.claims
    assert access["iss"] == rp.issuer
    assert access["aud"] == f"{rp.issuer}/resource"
    assert (access["sub"], access["client_id"]) == ("u-alice", rp.client_id)
    assert access["scope"] == SCOPE
    assert access["auth_time"] == oidc_server.clock.now
    # §2.1 / §4: an access token is not an ID token, and the ID token is not one either
    id_header = joserfc_jwt.decode(token["id_token"], KeySet.import_key_set(rp.jwks)).header
    assert id_header.get("typ") != "at+jwt"


async def test_without_openid_there_is_no_id_token(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    rp = await relying_party(oidc_server, rps, scope="read")
    token, _ = await rp.authorize()
    assert "id_token" not in token
    info = await rp.userinfo()
    assert info.status_code == 403  # Core §5.3.3 with RFC 6750 §3.1
    assert 'error="insufficient_scope"' in info.headers["www-authenticate"]
    assert 'scope="openid"' in info.headers["www-authenticate"]


# the validator bites: what a relying party must refuse, it refuses


async def test_relying_party_refuses_a_wrong_nonce_audience_or_lifetime(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    rp = await relying_party(oidc_server, rps)
    token, nonce = await rp.authorize(nonce="the-nonce-sent")
    assert nonce == "the-nonce-sent"
    id_token, access = token["id_token"], token["access_token"]
    rp.validate(id_token, nonce=nonce, access_token=access)
    with pytest.raises(InvalidClaimError, match="nonce"):
        rp.validate(id_token, nonce="another-nonce", access_token=access)
    with pytest.raises(InvalidClaimError, match="at_hash"):
        rp.validate(id_token, nonce=nonce, access_token=access + "x")
    with pytest.raises(InvalidClaimError, match="aud"):
        rp.validate(id_token, nonce=nonce, access_token=access, client_id="someone-else")
    lifetime = oidc_server.settings.id_token_lifetime
    with pytest.raises(ExpiredTokenError):
        rp.validate(
            id_token, nonce=nonce, access_token=access, now=oidc_server.clock.now + lifetime + 1
        )
    head, payload, signature = id_token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(BadSignatureError):
        rp.validate(f"{head}.{payload}.{flipped}", nonce=nonce, access_token=access)
    with pytest.raises(AuthlibBadSignature):
        authlib_jwt.decode(f"{head}.{payload}.{flipped}", JsonWebKey.import_key_set(rp.jwks))


async def test_relying_party_refuses_a_key_not_in_jwks(
    oidc_server: Server, rps: list[RelyingParty]
) -> None:
    """After a key is retired and unpublished, tokens it signed no longer verify."""
    rp = await relying_party(oidc_server, rps)
    token, nonce = await rp.authorize()
    kid = joserfc_jwt.decode(token["id_token"], KeySet.import_key_set(rp.jwks)).header["kid"]
    keys = oidc_server.engine.keys
    await keys.rotate("RS256", publish_for=0)
    oidc_server.clock.advance(oidc_server.settings.key_publish_lead)
    await keys.retire(kid, publish_for=0, unpublish=True)
    keys.invalidate()
    fresh = (await rp.oauth.request("GET", rp.metadata["jwks_uri"], withhold_token=True)).json()
    assert kid not in {k["kid"] for k in fresh["keys"]}
    rp.jwks = fresh
    with pytest.raises(JoseError):
        rp.validate(token["id_token"], nonce=nonce, access_token=token["access_token"])
