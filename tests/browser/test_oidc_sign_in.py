"""An OpenID Connect sign-in in headless Chromium, as a person does it.

A relying party registered with the ``mintage`` command sends the browser to the
authorization endpoint with ``openid profile email``, PKCE and a nonce.  The person
signs in and allows access on the real pages; the browser's trip back to the relying
party is caught (its redirect URI serves nothing) and the test redeems the code, checks
the ID token against the published JWKS, and reads UserInfo.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from conftest import Deployment, mintage_command
from mintage.core.pkce import s256
from oauth_testkit import PASSWORD

CALLBACK = "http://127.0.0.1:9/oidc-callback"
SCOPE = "openid profile email"


def test_openid_sign_in_yields_a_valid_id_token(page: Any, deployment: Deployment) -> None:
    env = deployment.env
    mintage_command(
        "user", "set-claims", "olivia", "name=Olivia Newton", "email=olivia@example.com",
        "email_verified=true", env=env,
    )  # fmt: skip
    client = mintage_command(
        "client", "create", "--name", "Photo Album", "--public",
        "--grant-type", "authorization_code", "--scope", SCOPE, "--redirect-uri", CALLBACK,
        env=env,
    )  # fmt: skip
    verifier, nonce, state = (secrets.token_urlsafe(32) for _ in range(3))
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": state,
        "nonce": nonce,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    caught: list[str] = []

    def back_at_the_relying_party(route: Any) -> None:
        caught.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>Signed in</title>")

    page.route(CALLBACK + "?*", back_at_the_relying_party)
    page.goto(f"{deployment.mintage_url}/oauth/authorize?{urlencode(query)}")
    assert "Photo Album" in page.locator("main").inner_text()
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    consent = page.locator("main")
    consent.wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == "Allow Photo Album access?"
    for words in ("Confirm who you are", "See your profile", "See your email address"):
        assert words in consent.inner_text(), words
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(CALLBACK + "?*")

    back = dict(parse_qsl(urlsplit(caught[0]).query))
    assert (back["state"], back["iss"]) == (state, deployment.mintage_url)
    with httpx.Client(base_url=deployment.mintage_url) as http:
        token = http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": back["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
                "client_id": client["client_id"],
            },
        )
        assert token.status_code == 200, token.text
        tokens = token.json()
        keys = KeySet.import_key_set(http.get("/.well-known/jwks.json").json())
        claims = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
        userinfo = http.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert claims["iss"] == deployment.mintage_url
    assert claims["aud"] == client["client_id"]
    assert claims["sub"] == deployment.users["olivia"]
    assert claims["nonce"] == nonce
    assert userinfo.json() == {
        "sub": deployment.users["olivia"],
        "name": "Olivia Newton",
        "preferred_username": "olivia",
        "email": "olivia@example.com",
        "email_verified": True,
    }
