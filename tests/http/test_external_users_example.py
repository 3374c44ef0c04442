"""``examples/external_users.py``: an app's own accounts, with bcrypt hashes, signing in
through Mintage's pages (RFC 6749 §4.1), lock-out kept by Mintage (RFC 6749 §10.10)."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from mintage.core.login import LOCK_THRESHOLD
from mintage.core.pkce import s256
from mintage.web.login_pages import FAILED
from oauth_testkit import page_forms, sign_in_through_pages

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "external_users.py"
BASE = "http://127.0.0.1:8000"
EMAIL, PASSWORD = "ada@example.com", "analytical engine notes"
VERIFIER = "a-verifier-of-the-example-test-0123456789-abcdefgh"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("external_users", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str, object]]:
    app = load_example().build_app(8000, accounts_db=str(tmp_path / "accounts.db"))
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=BASE) as http,
    ):
        signed_up = await http.post(
            "/accounts", json={"email": EMAIL, "password": PASSWORD, "name": "Ada Lovelace"}
        )
        assert signed_up.status_code == 201, signed_up.text
        yield http, app.state.client_id, app


def authorization_url(client_id: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": f"{BASE}/callback",
        "scope": "openid profile email",
        "state": "st",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    return f"{BASE}/auth/oauth/authorize?{urlencode(query)}"


async def post_login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await http.get("/auth/login")
    (form,) = [f for f in page_forms(page.text) if f.action.endswith("/login")]
    data = {**form.fields, "username": username, "password": password}
    return await http.post("/auth/login", data=data)


async def test_an_account_of_the_app_signs_in_and_gets_its_claims(
    app_client: tuple[httpx.AsyncClient, str, object],
) -> None:
    http, client_id, _ = app_client
    location = await sign_in_through_pages(
        http,
        authorization_url(client_id),
        username=EMAIL,
        password=PASSWORD,
        redirect_uri=f"{BASE}/callback",
    )
    assert location.startswith(f"{BASE}/callback?"), location
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = await http.post(
        "/auth/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": f"{BASE}/callback",
            "client_id": client_id,
            "code_verifier": VERIFIER,
        },
    )
    assert token.status_code == 200, token.text
    assert "id_token" in token.json()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    userinfo = await http.get("/auth/userinfo", headers=bearer)
    assert userinfo.status_code == 200, userinfo.text
    # sub is the app's account id; the claims come from its own row
    assert userinfo.json() == {
        "sub": "account-1",
        "name": "Ada Lovelace",
        "email": EMAIL,
        "preferred_username": EMAIL,  # the username, as for Mintage's own users
    }


async def test_wrong_password_and_unknown_account_answer_alike_and_lock_out(
    app_client: tuple[httpx.AsyncClient, str, object],
) -> None:
    http, _, app = app_client
    unknown = await post_login(http, "nobody@example.com", PASSWORD)
    wrong = await post_login(http, EMAIL, "not the password at all")
    for answer in (unknown, wrong):
        assert answer.status_code == 401
        assert FAILED in answer.text
        assert answer.headers["www-authenticate"] == 'Form realm="mintage"'
    store = app.state.store  # type: ignore[attr-defined]
    # counted in Mintage's store, under keyed digests: neither username nor address
    assert len(store.login_failures) == 4
    assert EMAIL not in repr(store.login_failures)
    for _ in range(LOCK_THRESHOLD - 1):
        assert (await post_login(http, EMAIL, "not the password at all")).status_code == 401
    locked = await post_login(http, EMAIL, PASSWORD)  # the right password, now locked out
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    # the unknown account locks on the same schedule: nothing tells it from a real one
    for _ in range(LOCK_THRESHOLD - 1):
        assert (await post_login(http, "nobody@example.com", PASSWORD)).status_code == 401
    assert (await post_login(http, "nobody@example.com", PASSWORD)).status_code == 429


async def test_the_apps_sign_up_refuses_a_taken_email(
    app_client: tuple[httpx.AsyncClient, str, object],
) -> None:
    http, _, _ = app_client
    again = await http.post("/accounts", json={"email": EMAIL, "password": "x" * 12})
    assert again.status_code == 409
