"""OpenID Connect at the browser pages: prompt, max_age, login_hint (Core §3.1.2.1),
and RP-Initiated Logout 1.0."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from test_pages import hidden, sign_in, unescape

from mintage.core.jwt_tokens import SignIn
from mintage.core.pkce import s256
from oauth_testkit import PASSWORD, Registered, Server

CB = "https://rp.example/cb"
BYE = "https://rp.example/bye"


async def rp(server: Server) -> Registered:
    return await server.client(
        name="Relying Party",
        grant_types=("authorization_code",),
        scopes=("openid", "profile"),
        redirect_uris=(CB,),
        post_logout_redirect_uris=(BYE,),
    )


def params(reg: Registered, **extra: str) -> dict[str, str]:
    out = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": CB,
        "scope": "openid profile",
        "state": "st",
        "nonce": "nn",
        "code_challenge": s256("v" * 50),
        "code_challenge_method": "S256",
    }
    out.update(extra)
    return out


def redirect_query(location: str) -> dict[str, list[str]]:
    assert location.startswith(CB + "?") or location.startswith(BYE), location
    return parse_qs(urlsplit(location).query)


async def consented(server: Server, reg: Registered) -> None:
    user = await server.storage.get_user_by_username("alice")
    assert user is not None
    await server.engine.consent.remember(user.user_id, reg.client_id, ("openid", "profile"))


async def id_token_for(server: Server, reg: Registered) -> str:
    user = await server.storage.get_user_by_username("alice")
    assert user is not None
    return await server.engine.jwt.id_token(
        client_id=reg.client_id,
        subject=user.user_id,
        issued_at=server.clock(),
        sign_in=SignIn(auth_time=server.clock()),
        access_token=None,
    )


async def test_prompt_none_without_session_is_login_required(server: Server) -> None:
    reg = await rp(server)
    response = await server.http.get("/oauth/authorize", params=params(reg, prompt="none"))
    assert response.status_code == 303
    answer = redirect_query(response.headers["location"])
    assert answer["error"] == ["login_required"] and answer["state"] == ["st"]
    assert answer["iss"] == [server.settings.issuer_url]


async def test_prompt_none_without_consent_is_consent_required(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    response = await server.http.get("/oauth/authorize", params=params(reg, prompt="none"))
    assert redirect_query(response.headers["location"])["error"] == ["consent_required"]
    await consented(server, reg)
    silent = await server.http.get("/oauth/authorize", params=params(reg, prompt="none"))
    assert "code" in redirect_query(silent.headers["location"])


async def test_prompt_login_asks_again_even_when_signed_in(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    await consented(server, reg)
    server.clock.advance(30)
    page = await server.http.get("/oauth/authorize", params=params(reg, prompt="login"))
    assert page.status_code == 200 and 'name="password"' in page.text
    assert server.storage.sessions  # kept until the new sign-in (test_reauthentication)
    fields = {k: unescape(v) for k, v in hidden(page.text).items()}
    server.clock.advance(5)
    signed = await server.http.post(
        "/login", data={**fields, "username": "alice", "password": PASSWORD}
    )
    assert signed.status_code == 303
    done = await server.http.get(signed.headers["location"])
    code = redirect_query(done.headers["location"])["code"][0]
    stored = next(iter(server.storage.codes.values()))
    assert code and stored.auth_time == server.clock()  # the new sign-in


async def test_max_age_forces_a_fresh_sign_in(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    await consented(server, reg)
    server.clock.advance(120)
    fresh_enough = await server.http.get("/oauth/authorize", params=params(reg, max_age="300"))
    assert fresh_enough.status_code == 303
    too_old = await server.http.get("/oauth/authorize", params=params(reg, max_age="60"))
    assert too_old.status_code == 200 and 'name="password"' in too_old.text
    silent = await server.http.get(
        "/oauth/authorize", params=params(reg, max_age="60", prompt="none")
    )
    assert redirect_query(silent.headers["location"])["error"] == ["login_required"]


async def test_prompt_consent_shows_the_consent_page_again(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    await consented(server, reg)
    page = await server.http.get("/oauth/authorize", params=params(reg, prompt="consent"))
    assert page.status_code == 200 and 'value="approve"' in page.text


async def test_login_hint_prefills_the_username(server: Server) -> None:
    reg = await rp(server)
    page = await server.http.get(
        "/oauth/authorize", params=params(reg, login_hint="alice@example.com")
    )
    assert 'value="alice@example.com"' in page.text


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "sometimes"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://rp.example/r"}, "request_uri_not_supported"),
        ({"registration": "{}"}, "registration_not_supported"),
        ({"response_mode": "form_post"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
)
async def test_bad_oidc_parameters_go_back_to_the_client(
    server: Server, extra: dict[str, str], error: str
) -> None:
    reg = await rp(server)
    response = await server.http.get("/oauth/authorize", params=params(reg, **extra))
    assert response.status_code == 303
    assert redirect_query(response.headers["location"])["error"] == [error]


async def test_logout_with_a_matching_id_token_hint_ends_the_session(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    hint = await id_token_for(server, reg)
    response = await server.http.get(
        "/oauth/logout",
        params={"id_token_hint": hint, "post_logout_redirect_uri": BYE, "state": "bye-1"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BYE}?state=bye-1"
    assert not server.storage.sessions
    page = await server.http.get("/oauth/authorize", params=params(reg))
    assert 'name="password"' in page.text  # signed out


async def test_logout_without_hint_asks_the_user_first(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    ask = await server.http.get(
        "/oauth/logout", params={"client_id": reg.client_id, "post_logout_redirect_uri": BYE}
    )
    assert ask.status_code == 200 and "Relying Party" in ask.text
    assert server.storage.sessions  # nothing ended by a mere link
    fields = {k: unescape(v) for k, v in hidden(ask.text).items()}
    forged = await server.http.post(
        "/oauth/logout", data={**fields, "csrf_token": "x", "decision": "logout"}
    )
    assert forged.status_code == 403 and server.storage.sessions
    stay = await server.http.post("/oauth/logout", data={**fields, "decision": "stay"})
    assert stay.status_code == 303 and server.storage.sessions
    done = await server.http.post("/oauth/logout", data={**fields, "decision": "logout"})
    assert done.status_code == 303 and done.headers["location"] == BYE
    assert not server.storage.sessions


@pytest.mark.parametrize(
    "query",
    [
        {"post_logout_redirect_uri": BYE},  # no client identified
        {"post_logout_redirect_uri": "https://evil.example/", "client_id": "CLIENT"},
        {"post_logout_redirect_uri": BYE + "/x", "client_id": "CLIENT"},
        {"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
        {"client_id": "unknown"},
    ],
)
async def test_logout_never_redirects_where_it_should_not(
    server: Server, query: dict[str, Any]
) -> None:
    reg = await rp(server)
    query = {k: (reg.client_id if v == "CLIENT" else v) for k, v in query.items()}
    response = await server.http.get("/oauth/logout", params=query)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_logout_hint_of_another_client_must_match_client_id(server: Server) -> None:
    reg = await rp(server)
    other = await rp(server)
    await server.user()
    hint = await id_token_for(server, reg)
    response = await server.http.get(
        "/oauth/logout", params={"id_token_hint": hint, "client_id": other.client_id}
    )
    assert response.status_code == 400


async def test_logout_when_signed_out_just_returns(server: Server) -> None:
    reg = await rp(server)
    response = await server.http.get(
        "/oauth/logout",
        params={"client_id": reg.client_id, "post_logout_redirect_uri": BYE, "state": "z"},
    )
    assert response.status_code == 303 and response.headers["location"] == f"{BYE}?state=z"
    page = await server.http.get("/oauth/logout")
    assert page.status_code == 200 and "signed out" in page.text
