"""The sign-in, consent and logout pages over HTTP (ASGITransport).

Headers on every page, CSRF on every form, no open redirects, non-redirectable errors
on our own page, cookie flags, lock-out, sign-out and the full code flow.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from mintage.core.errors import StorageUnavailableError
from mintage.core.models import User
from mintage.core.pkce import s256
from mintage.storage.memory import MemoryStorage
from mintage.web.forms import local_path
from oauth_testkit import PASSWORD, MakeServer, Registered, Server

REDIRECT = "https://app.example/callback"
VERIFIER = "v" * 50
CSP_PARTS = (
    "default-src 'none'",
    "style-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
)


async def code_client(server: Server, **kwargs: Any) -> Registered:
    options: dict[str, Any] = {
        "name": "Photo <Printer>",
        "grant_types": ("authorization_code", "refresh_token"),
        "scopes": ("read", "write", "custom:thing"),
        "redirect_uris": (REDIRECT,),
        "public": True,
    }
    options.update(kwargs)
    return await server.client(**options)


def authorize_params(reg: Registered, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read write custom:thing",
        "state": "st-123",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def hidden(html: str) -> dict[str, str]:
    """The hidden fields of the first form on the page."""
    form = html.split("<form", 2)[1]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def forms(html: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', part))
        for part in html.split("<form")[1:]
    ]


def unescape(value: str) -> str:
    return (
        value.replace("&amp;", "&")
        .replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )


def assert_page_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    for part in CSP_PARTS:
        assert part in csp, csp
    assert "script-src" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-type"].startswith("text/html")


async def sign_in(
    server: Server, return_to: str = "", username: str = "alice", password: str = PASSWORD
) -> httpx.Response:
    page = await server.http.get("/login", params={"return_to": return_to} if return_to else {})
    fields = {k: unescape(v) for k, v in hidden(page.text).items()}
    return await server.http.post(
        "/login", data={**fields, "username": username, "password": password}
    )


async def test_login_page_headers_and_cookie_flags(server: Server) -> None:
    page = await server.http.get("/login")
    assert page.status_code == 200
    assert_page_headers(page)
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="en">' in page.text
    assert '<label for="username">' in page.text and 'id="username"' in page.text
    assert '<label for="password">' in page.text and 'id="password"' in page.text
    assert "<script" not in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("mintage_csrf=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # http issuer on localhost


async def test_https_issuer_secure_host_prefixed_cookies(make_server: MakeServer) -> None:
    server = await make_server(issuer="https://as.example")
    await server.user()
    page = await server.http.get("https://as.example/login")
    csrf_cookie = page.headers["set-cookie"]
    assert csrf_cookie.startswith("__Host-mintage_csrf=")
    assert "Secure" in csrf_cookie and "HttpOnly" in csrf_cookie and "Path=/" in csrf_cookie
    assert "Domain" not in csrf_cookie
    server.http.base_url = httpx.URL("https://as.example")
    signed = await sign_in(server)
    assert signed.status_code == 303
    session_cookie = signed.headers["set-cookie"]
    assert session_cookie.startswith("__Host-mintage_session=mint_ss_")
    for flag in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
        assert flag in session_cookie
    assert "Max-Age" not in session_cookie  # ends with the browser


async def test_stylesheet(server: Server) -> None:
    css = await server.http.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    assert ":focus-visible" in css.text


async def test_full_flow_with_consent_then_remembered(server: Server) -> None:
    reg = await code_client(server)
    await server.user()
    params = authorize_params(reg)
    first = await server.http.get("/oauth/authorize", params=params)
    assert first.status_code == 200
    assert_page_headers(first)
    assert "Photo &lt;Printer&gt;" in first.text  # escaped, named on the sign-in page
    # the login redirect may end at the client: its origin is a form-action target
    assert "form-action 'self' https://app.example" in first.headers["content-security-policy"]
    fields = {k: unescape(v) for k, v in hidden(first.text).items()}
    assert fields["return_to"].startswith("/oauth/authorize?")
    signed = await server.http.post(
        "/login", data={**fields, "username": "alice", "password": PASSWORD}
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == fields["return_to"]

    consent = await server.http.get(signed.headers["location"])
    assert consent.status_code == 200
    assert_page_headers(consent)
    assert consent.headers["cache-control"] == "no-store"
    # Chromium applies form-action to the redirect after Allow/Deny
    assert "form-action 'self' https://app.example;" in consent.headers["content-security-policy"]
    assert "Read your data" in consent.text and "Change your data" in consent.text
    assert "<code>custom:thing</code>" in consent.text  # unknown scope: by name
    assert "app.example" in consent.text
    decision_form, logout_form = forms(consent.text)
    carried = {k: unescape(v) for k, v in decision_form.items()}
    assert {k: v for k, v in carried.items() if k != "csrf_token"} == params
    approved = await server.http.post(
        "/oauth/authorize/decision", data={**carried, "decision": "approve"}
    )
    assert approved.status_code == 303
    answer = parse_qs(urlsplit(approved.headers["location"]).query)
    assert approved.headers["location"].startswith(REDIRECT + "?")
    assert answer["state"] == ["st-123"]
    assert answer["iss"] == [server.settings.issuer_url]
    token = await server.token(
        {
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
            "client_id": reg.client_id,
        }
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "read write custom:thing"

    # consent is remembered: the next request goes straight back to the client
    again = await server.http.get("/oauth/authorize", params={**params, "state": "two"})
    assert again.status_code == 303
    assert parse_qs(urlsplit(again.headers["location"]).query)["state"] == ["two"]
    # asking for a scope not yet approved asks again
    wider = await server.http.get("/oauth/authorize", params={**params, "scope": "read"})
    assert wider.status_code == 303
    assert logout_form["return_to"]


async def test_deny_redirects_access_denied(server: Server) -> None:
    reg = await code_client(server)
    await server.user()
    await sign_in(server)
    consent = await server.http.get("/oauth/authorize", params=authorize_params(reg))
    carried = {k: unescape(v) for k, v in hidden(consent.text).items()}
    denied = await server.http.post(
        "/oauth/authorize/decision", data={**carried, "decision": "deny"}
    )
    assert denied.status_code == 303
    answer = parse_qs(urlsplit(denied.headers["location"]).query)
    assert answer["error"] == ["access_denied"] and answer["state"] == ["st-123"]
    assert not server.storage.consents


async def test_decision_token_is_bound_to_the_request_shown(server: Server) -> None:
    reg = await code_client(server)
    await server.user()
    await sign_in(server)
    consent = await server.http.get("/oauth/authorize", params=authorize_params(reg, scope="read"))
    carried = {k: unescape(v) for k, v in hidden(consent.text).items()}
    widened = {**carried, "scope": "read write", "decision": "approve"}
    refused = await server.http.post("/oauth/authorize/decision", data=widened)
    assert refused.status_code == 403
    assert not server.storage.codes and not server.storage.consents


@pytest.mark.parametrize("token", [None, "", "forged"])
async def test_csrf_missing_or_wrong_on_login(server: Server, token: str | None) -> None:
    await server.user()
    page = await server.http.get("/login")
    fields = hidden(page.text)
    if token is None:
        del fields["csrf_token"]
    else:
        fields["csrf_token"] = token
    response = await server.http.post(
        "/login", data={**fields, "username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert_page_headers(response)
    assert "mintage_session" not in response.headers.get("set-cookie", "")
    assert not server.storage.sessions


async def test_csrf_token_of_another_browser_is_refused(server: Server) -> None:
    await server.user()
    page = await server.http.get("/login")
    fields = hidden(page.text)
    server.http.cookies.clear()
    await server.http.get("/login")  # a different CSRF cookie
    response = await server.http.post(
        "/login", data={**fields, "username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert not server.storage.sessions


async def test_cross_site_post_is_refused_even_with_a_token(server: Server) -> None:
    await server.user()
    page = await server.http.get("/login")
    response = await server.http.post(
        "/login",
        data={**hidden(page.text), "username": "alice", "password": PASSWORD},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 403


async def test_csrf_on_consent_and_logout(server: Server) -> None:
    reg = await code_client(server)
    await server.user()
    await sign_in(server)
    consent = await server.http.get("/oauth/authorize", params=authorize_params(reg))
    decision_form, logout_form = forms(consent.text)
    carried = {k: unescape(v) for k, v in decision_form.items()}
    del carried["csrf_token"]
    refused = await server.http.post(
        "/oauth/authorize/decision", data={**carried, "decision": "approve"}
    )
    assert refused.status_code == 403
    assert not server.storage.codes
    # a token for the logout form does not work on the consent form, and vice versa
    swapped = {**carried, "csrf_token": unescape(logout_form["csrf_token"])}
    wrong = await server.http.post(
        "/oauth/authorize/decision", data={**swapped, "decision": "approve"}
    )
    assert wrong.status_code == 403
    sessions = dict(server.storage.sessions)
    no_token = await server.http.post("/logout", data={"return_to": "/login"})
    assert no_token.status_code == 403
    assert server.storage.sessions == sessions


async def test_logout_ends_the_session_and_clears_the_cookie(server: Server) -> None:
    await server.user()
    await sign_in(server)
    assert len(server.storage.sessions) == 1
    page = await server.http.get("/login")
    assert "You are signed in" in page.text and "alice" in page.text
    fields = {k: unescape(v) for k, v in hidden(page.text).items()}
    out = await server.http.post("/logout", data=fields)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    cleared = out.headers["set-cookie"]
    assert cleared.startswith('mintage_session=""') or cleared.startswith("mintage_session=;")
    assert "Max-Age=0" in cleared
    assert not server.storage.sessions
    after = await server.http.get("/login")
    assert 'name="password"' in after.text


async def test_sign_in_never_adopts_a_planted_session_cookie(server: Server) -> None:
    """Session fixation: the cookie value is always new, never one the browser sent."""
    assert server.engine.sessions is not None
    await server.user()
    bob = await server.user("bob")
    planted = await server.engine.sessions.create(bob.user_id, 0)
    await server.engine.sessions.end(planted)  # known to the attacker, no longer valid
    server.http.cookies.set("mintage_session", planted)
    signed = await sign_in(server)
    assert signed.status_code == 303
    issued = signed.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert issued != planted
    assert len(server.storage.sessions) == 1


async def test_wrong_password_and_unknown_user_read_the_same(server: Server) -> None:
    await server.user()
    wrong = await sign_in(server, password="nope")
    unknown = await sign_in(server, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert_page_headers(wrong)
    assert "Incorrect username or password." in wrong.text
    message = re.compile(r'<p class="alert" role="alert"[^>]*>(.*?)</p>')
    assert message.findall(wrong.text) == message.findall(unknown.text)
    assert not server.storage.sessions


async def test_lock_out_answers_429_with_retry_after(server: Server) -> None:
    await server.user()
    for _ in range(5):
        assert (await sign_in(server, password="nope")).status_code == 401
    locked = await sign_in(server)  # even the right password
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in locked.text
    assert not server.storage.sessions
    server.clock.advance(int(locked.headers["retry-after"]))
    assert (await sign_in(server)).status_code == 303


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        " /login",
        "/login\n",
    ],
)
async def test_return_to_refuses_other_hosts(server: Server, target: str) -> None:
    await server.user()
    signed = await sign_in(server, return_to=target)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/login"
    assert local_path(target, "/x") == "/x"


async def test_return_to_local_path_is_followed(server: Server) -> None:
    await server.user()
    signed = await sign_in(server, return_to="/oauth/authorize?client_id=x")
    assert signed.headers["location"] == "/oauth/authorize?client_id=x"
    assert local_path("/%0d%0aSet-Cookie:x=y", "/x") == "/%0d%0aSet-Cookie:x=y"  # stays encoded
    again = await server.http.get("/login", params={"return_to": "https://evil.example"})
    assert again.status_code == 200  # signed in, nowhere to go: the signed-in page
    assert "evil" not in again.text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"client_id": "unknown"}, "unknown client_id"),
        ({"redirect_uri": "https://evil.example/cb"}, "not registered"),
        ({"client_id": ""}, "client_id"),
    ],
)
async def test_untrusted_client_or_redirect_uri_is_shown_not_redirected(
    server: Server, change: dict[str, str], words: str
) -> None:
    reg = await code_client(server)
    response = await server.http.get("/oauth/authorize", params=authorize_params(reg, **change))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert_page_headers(response)
    assert words in response.text
    assert "evil.example" not in response.headers["content-security-policy"]


async def test_repeated_parameter_is_shown_not_redirected(server: Server) -> None:
    reg = await code_client(server)
    query = urlencode(authorize_params(reg)) + "&redirect_uri=" + "https://evil.example/cb"
    response = await server.http.get("/oauth/authorize?" + query)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_redirectable_errors_go_back_to_the_client(server: Server) -> None:
    reg = await code_client(server)
    params = authorize_params(reg)
    del params["code_challenge"]
    response = await server.http.get("/oauth/authorize", params=params)
    assert response.status_code == 303
    answer = parse_qs(urlsplit(response.headers["location"]).query)
    assert answer["error"] == ["invalid_request"] and answer["state"] == ["st-123"]


async def test_post_authorization_request(server: Server) -> None:
    reg = await code_client(server)
    response = await server.http.post("/oauth/authorize", data=authorize_params(reg))
    assert response.status_code == 200
    assert 'name="password"' in response.text


async def test_form_must_be_url_encoded(server: Server) -> None:
    response = await server.http.post("/login", json={"username": "alice"})
    assert response.status_code == 415
    assert_page_headers(response)


async def test_pages_refuse_what_the_endpoints_refuse(server: Server) -> None:
    """The pages read fields with the endpoints' parser (core/params.py)."""
    reg = await code_client(server)
    long_state = authorize_params(reg, state="s" * 4097)
    for response in (
        await server.http.get("/oauth/authorize", params=long_state),
        await server.http.post("/oauth/authorize", data=long_state),
        await server.http.get("/oauth/authorize?client_id=%ff"),
        await server.http.post(
            "/oauth/authorize",
            content=urlencode(authorize_params(reg)) + "&nameonly",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
    ):
        assert response.status_code == 400
        assert "location" not in response.headers
        assert_page_headers(response)
    page = await server.http.get("/login")
    fields = {k: unescape(v) for k, v in hidden(page.text).items()}
    repeated = urlencode({**fields, "username": "alice", "password": PASSWORD}) + "&username=bob"
    response = await server.http.post(
        "/login", content=repeated, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert "username is repeated" in response.text


async def test_sign_in_carries_a_return_to_longer_than_one_parameter(server: Server) -> None:
    """``return_to`` holds a whole authorization request: only the body limit bounds it."""
    await server.user()
    target = "/oauth/authorize?" + urlencode(
        {"client_id": "x", "state": "s" * 4000, "n": "n" * 200}
    )
    signed = await sign_in(server, return_to=target)
    assert signed.status_code == 303
    assert signed.headers["location"] == target


async def test_mounted_under_a_prefix(server: Server) -> None:
    transport = httpx.ASGITransport(app=server.app, root_path="/auth")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = await http.get("/auth/login")
    assert 'href="/auth/static/style.css"' in page.text
    assert 'action="/auth/login"' in page.text


class BrokenUsers(MemoryStorage):
    """A store whose user look-ups fail with ``failure``."""

    failure: Exception = StorageUnavailableError("db.internal:5432 password=hunter2")

    async def get_user_by_username(self, username: str) -> User | None:
        raise self.failure


@pytest.mark.parametrize(
    ("failure", "status"),
    [(StorageUnavailableError("db.internal:5432 password=hunter2"), 503), (KeyError("x"), 500)],
)
async def test_store_failures_are_pages_without_detail(
    make_server: MakeServer, failure: Exception, status: int
) -> None:
    store = BrokenUsers()
    store.failure = failure
    server = await make_server(storage=store)
    response = await sign_in(server)
    assert response.status_code == status
    assert_page_headers(response)
    assert "hunter2" not in response.text and "KeyError" not in response.text
    if status == 503:
        assert response.headers["retry-after"].isdigit()
    assert not store.sessions
