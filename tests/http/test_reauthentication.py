"""A new sign-in for ``prompt=login`` and ``max_age`` (OpenID Connect Core §3.1.2.1)
without signing anyone out, and ``max_age`` checked again when consent is given.

A link from another site can ask for a new sign-in but cannot end the session: it stays
until the new sign-in succeeds, which replaces it with a new session id.  Skipping the
sign-in (opening ``return_to`` directly) only leads back to the sign-in page.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from test_oidc_pages import consented, params, redirect_query, rp
from test_pages import hidden, sign_in, unescape

from oauth_testkit import PASSWORD, Registered, Server, page_forms

#: what a browser sends on a top-level navigation from another site's link
CROSS_SITE = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
#: the two ways a request asks for a sign-in newer than the session's
DEMANDS = ({"prompt": "login"}, {"max_age": "60"}, {"max_age": "0"})


def session_cookie(server: Server) -> str | None:
    return server.http.cookies.get("mintage_session")


def is_sign_in_page(response: httpx.Response) -> bool:
    return response.status_code == 200 and 'name="password"' in response.text


def is_consent_page(response: httpx.Response) -> bool:
    return response.status_code == 200 and 'value="approve"' in response.text


def return_to(page: httpx.Response) -> str:
    return unescape(hidden(page.text)["return_to"])


async def signed_in_and_consented(server: Server) -> Registered:
    """alice signed in 10 minutes ago, with consent remembered for the client."""
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    await consented(server, reg)
    server.clock.advance(600)
    return reg


async def sign_in_from(server: Server, page: httpx.Response) -> httpx.Response:
    """Fill in and post the sign-in form of ``page``."""
    fields = {k: unescape(v) for k, v in hidden(page.text).items()}
    return await server.http.post(
        "/login", data={**fields, "username": "alice", "password": PASSWORD}
    )


@pytest.mark.parametrize("demand", DEMANDS)
async def test_a_cross_site_link_signs_nobody_out(server: Server, demand: dict[str, str]) -> None:
    reg = await signed_in_and_consented(server)
    cookie, sessions = session_cookie(server), dict(server.storage.sessions)
    page = await server.http.get(
        "/oauth/authorize", params=params(reg, **demand), headers=CROSS_SITE
    )
    assert is_sign_in_page(page)
    assert "mintage_session" not in page.headers.get("set-cookie", "")
    assert session_cookie(server) == cookie and server.storage.sessions == sessions
    # the session still answers a request that asks for no new sign-in, without a page
    plain = await server.http.get("/oauth/authorize", params=params(reg))
    assert "code" in redirect_query(plain.headers["location"])
    assert next(iter(server.storage.codes.values())).auth_time == server.clock() - 600


@pytest.mark.parametrize("demand", DEMANDS)
async def test_skipping_the_new_sign_in_leads_back_to_it(
    server: Server, demand: dict[str, str]
) -> None:
    reg = await signed_in_and_consented(server)
    page = await server.http.get(
        "/oauth/authorize", params=params(reg, **demand), headers=CROSS_SITE
    )
    server.clock.advance(5)
    skipped = await server.http.get(return_to(page))
    assert is_sign_in_page(skipped)
    assert not server.storage.codes
    # through /login, which sends a signed-in visitor straight on to return_to
    via_login = await server.http.get("/login", params={"return_to": return_to(page)})
    assert via_login.status_code == 303
    assert is_sign_in_page(await server.http.get(via_login.headers["location"]))
    assert not server.storage.codes


@pytest.mark.parametrize("demand", DEMANDS)
async def test_the_new_sign_in_replaces_the_session(server: Server, demand: dict[str, str]) -> None:
    reg = await signed_in_and_consented(server)
    old_cookie, old_sessions = session_cookie(server), set(server.storage.sessions)
    page = await server.http.get(
        "/oauth/authorize", params=params(reg, **demand), headers=CROSS_SITE
    )
    server.clock.advance(20)  # the user types their password
    signed = await sign_in_from(server, page)
    assert signed.status_code == 303 and signed.headers["location"] == return_to(page)
    new_cookie = session_cookie(server)
    assert new_cookie and new_cookie != old_cookie  # against session fixation
    assert not old_sessions & set(server.storage.sessions)  # the old session is over
    server.clock.advance(2)  # a second or two before the browser follows the redirect
    done = await server.http.get(signed.headers["location"])
    answer = redirect_query(done.headers["location"])
    assert answer["state"] == ["st"] and answer["iss"] == [server.settings.issuer_url]
    (code,) = server.storage.codes.values()
    assert code.auth_time == server.clock() - 2  # the new sign-in's


async def test_prompt_login_without_a_session_waits_for_the_sign_in(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await consented(server, reg)
    page = await server.http.get("/oauth/authorize", params=params(reg, prompt="login"))
    assert is_sign_in_page(page)
    skipped = await server.http.get(return_to(page))
    assert is_sign_in_page(skipped)
    server.clock.advance(10)
    signed = await sign_in_from(server, page)
    done = await server.http.get(signed.headers["location"])
    assert "code" in redirect_query(done.headers["location"])


def edited(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), **changes}
    return parts._replace(query=urlencode(query)).geturl()


def stamp_of(page: httpx.Response) -> str:
    return dict(parse_qsl(urlsplit(return_to(page)).query))["sign_in_after"]


async def test_a_forged_or_moved_stamp_does_not_stand_in_for_the_sign_in(
    server: Server,
) -> None:
    reg = await rp(server)
    await server.user()
    await consented(server, reg)
    # a stamp the sign-in below meets, for a request with another state
    early = await server.http.get(
        "/oauth/authorize", params=params(reg, prompt="login", state="early")
    )
    await sign_in(server)
    server.clock.advance(600)
    page = await server.http.get("/oauth/authorize", params=params(reg, prompt="login"))
    moment, _, mac = stamp_of(page).partition(".")
    forged = (
        f"{int(moment) - 3600}.{mac}",  # back-dated
        stamp_of(early),  # lifted from another request
        "0.AAAA",  # made up
        f"{int(moment) - 3600}",  # no MAC
    )
    for stamp in forged:
        response = await server.http.get(edited(return_to(page), sign_in_after=stamp))
        assert is_sign_in_page(response), stamp
    assert not server.storage.codes
    # in its own request, the lifted stamp is met by the sign-in made after it
    own = await server.http.get(return_to(early))
    assert redirect_query(own.headers["location"])["state"] == ["early"]


async def test_max_age_is_checked_again_when_consent_is_given(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    asked = params(reg, max_age="60")
    consent = await server.http.get("/oauth/authorize", params=asked)
    assert is_consent_page(consent)
    server.clock.advance(61)  # the consent page stayed open past max_age
    (decision, _logout) = page_forms(consent.text)
    late = await server.http.post(
        "/oauth/authorize/decision", data={**decision.fields, "decision": "approve"}
    )
    assert is_sign_in_page(late)
    assert not server.storage.codes and not server.storage.consents
    signed = await sign_in_from(server, late)
    again = await server.http.get(signed.headers["location"])
    assert is_consent_page(again)
    (decision, _logout) = page_forms(again.text)
    approved = await server.http.post(
        "/oauth/authorize/decision", data={**decision.fields, "decision": "approve"}
    )
    assert "code" in redirect_query(approved.headers["location"])
    (code,) = server.storage.codes.values()
    assert code.auth_time == server.clock()


async def test_consent_within_max_age_is_answered(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    consent = await server.http.get("/oauth/authorize", params=params(reg, max_age="60"))
    server.clock.advance(60)  # exactly max_age: still acceptable
    (decision, _logout) = page_forms(consent.text)
    approved = await server.http.post(
        "/oauth/authorize/decision", data={**decision.fields, "decision": "approve"}
    )
    assert "code" in redirect_query(approved.headers["location"])


async def test_a_stale_sign_in_can_still_deny(server: Server) -> None:
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    consent = await server.http.get("/oauth/authorize", params=params(reg, max_age="60"))
    server.clock.advance(600)
    (decision, _logout) = page_forms(consent.text)
    denied = await server.http.post(
        "/oauth/authorize/decision", data={**decision.fields, "decision": "deny"}
    )
    assert redirect_query(denied.headers["location"])["error"] == ["access_denied"]
    assert not server.storage.codes


async def test_prompt_login_consent_answered_long_after_the_new_sign_in(server: Server) -> None:
    """prompt=login asks for one new sign-in, not for a race against the clock."""
    reg = await rp(server)
    await server.user()
    await sign_in(server)
    server.clock.advance(600)
    page = await server.http.get("/oauth/authorize", params=params(reg, prompt="login"))
    signed = await sign_in_from(server, page)
    consent = await server.http.get(signed.headers["location"])
    assert is_consent_page(consent)
    server.clock.advance(3600)
    (decision, _logout) = page_forms(consent.text)
    approved = await server.http.post(
        "/oauth/authorize/decision", data={**decision.fields, "decision": "approve"}
    )
    assert "code" in redirect_query(approved.headers["location"])
