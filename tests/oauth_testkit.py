"""Helpers shared by the core, HTTP and flow suites (fixtures live in ``conftest.py``).

A :class:`Server` holds an app on the in-memory store with a frozen clock, its store and
an ``httpx.AsyncClient`` wired to it through ``ASGITransport``.  Clients are registered
through the library API (as the CLI does); users get a real Argon2 hash, computed once
per password because hashing is slow; signing keys come from :class:`KeyPool`, generated
once per session for the same reason.  ``tests/`` is on ``sys.path`` because pytest
imports ``tests/conftest.py`` from there, so test modules ``import oauth_testkit``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import argon2
import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from mintage import MemoryStorage, Settings, create_app
from mintage.core.clients import register_client
from mintage.core.clock import FrozenClock
from mintage.core.credentials import new_id
from mintage.core.jose import Key, generate_key
from mintage.core.models import Client, Token, User
from mintage.core.pkce import s256
from mintage.core.server import AuthorizationServer
from mintage.core.storage import Storage
from mintage.core.users import UserSource

PEPPER = b"test-pepper-0123456789abcdef-0123"
assert len(PEPPER) >= 32
BASE_URL = "http://testserver"
PASSWORD = "correct horse battery staple"

FORM_CT = "application/x-www-form-urlencoded"


# Argon2id with the library's parameters costs ~150 ms per hash *and per verification*
# (the cost travels inside the hash).  Test users get an Argon2id hash with minimal cost
# parameters, which the library verifies through exactly the same code path;
# ``tests/core/test_passwords.py`` covers ``hash_password`` itself.
_CHEAP_ARGON2 = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@functools.cache
def password_hash(password: str = PASSWORD) -> str:
    """A cheap Argon2id hash, computed once per distinct password."""
    return _CHEAP_ARGON2.hash(password)


class KeyPool:
    """Signing keys generated once per session, handed out to the servers of each test.

    A 2048-bit RSA key costs ~50 ms to generate, more than the rest of a test server's
    start.  Every :func:`server_factory` (one per test) takes keys from the start of the
    pool, so the servers and rotations *within* a test still get distinct keys; across
    tests the key material repeats (under new ``kid`` values), which no test can see.
    """

    def __init__(self) -> None:
        self._keys: dict[str, list[Key]] = {}

    def source(self) -> Callable[[str], Key]:
        """A ``KeyRing.generate`` for one test: the pool's keys of each algorithm in turn."""
        taken: dict[str, int] = {}

        def generate(alg: str) -> Key:
            keys = self._keys.setdefault(alg, [])
            index = taken[alg] = taken.get(alg, -1) + 1
            if index == len(keys):
                keys.append(generate_key(alg))
            return keys[index]

        return generate


KEYS = KeyPool()


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1 ``client_secret_basic`` header (ids are URL-safe already)."""
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclasses.dataclass(frozen=True)
class Registered:
    """A client as its owner knows it: id and the secret shown once."""

    client: Client
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def basic(self) -> dict[str, str]:
        assert self.secret is not None
        return basic(self.client_id, self.secret)

    @property
    def post(self) -> dict[str, str]:
        """``client_secret_post`` (or ``none`` for a public client) body parameters."""
        if self.secret is None:
            return {"client_id": self.client_id}
        return {"client_id": self.client_id, "client_secret": self.secret}


async def add_client(
    storage: Storage,
    server: AuthorizationServer,
    clock: FrozenClock,
    *,
    name: str = "test client",
    grant_types: Iterable[str] = ("client_credentials",),
    scopes: Iterable[str] = ("read",),
    public: bool = False,
    **kwargs: Any,
) -> Registered:
    client, secret = await register_client(
        storage,
        server.hasher,
        name=name,
        grant_types=grant_types,
        scopes=scopes,
        public=public,
        clock=clock,
        **kwargs,
    )
    return Registered(client, secret)


async def add_user(storage: Storage, username: str = "alice", password: str = PASSWORD) -> User:
    user = User(user_id=new_id(), username=username, password_hash=password_hash(password))
    await storage.save_user(user)
    return user


@dataclasses.dataclass
class Server:
    """One running app and what a test needs to drive and inspect it."""

    app: Starlette
    settings: Settings
    storage: MemoryStorage
    clock: FrozenClock
    http: httpx.AsyncClient

    @property
    def engine(self) -> AuthorizationServer:
        server: AuthorizationServer = self.app.state.mintage.server
        return server

    async def client(self, **kwargs: Any) -> Registered:
        return await add_client(self.storage, self.engine, self.clock, **kwargs)

    async def resource_server(self, name: str = "api", **kwargs: Any) -> Registered:
        """A confidential client serving the audience of the server's access tokens:
        it may introspect them (RFC 7662 §4)."""
        audience = self.engine.audiences.default
        return await self.client(name=name, scopes=(), resources=(audience,), **kwargs)

    async def user(self, username: str = "alice", password: str = PASSWORD) -> User:
        return await add_user(self.storage, username, password)

    def tokens(self) -> dict[str, Token]:
        """A snapshot of every stored token (frozen records compare by value)."""
        return dict(self.storage.tokens)

    async def token(
        self, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post("/oauth/token", data=data, headers=headers)

    async def client_credentials(self, reg: Registered, **params: str) -> dict[str, Any]:
        """Issue an access token by ``client_credentials`` and return the response body."""
        response = await self.token({"grant_type": "client_credentials", **params}, reg.basic)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def password_grant(
        self, reg: Registered, username: str = "alice", password: str = PASSWORD, **params: str
    ) -> dict[str, Any]:
        data = {"grant_type": "password", "username": username, "password": password, **params}
        if reg.secret is None:
            response = await self.token({**data, **reg.post})
        else:
            response = await self.token(data, reg.basic)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def refresh(self, reg: Registered, refresh_token: str, **params: str) -> httpx.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **params}
        if reg.secret is None:
            return await self.token({**data, **reg.post})
        return await self.token(data, reg.basic)

    async def resource(self, access_token: str) -> httpx.Response:
        return await self.http.get("/resource", headers=bearer(access_token))

    async def introspect(self, caller: Registered, token: str) -> dict[str, Any]:
        response = await self.http.post(
            "/oauth/introspect", data={"token": token}, headers=caller.basic
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


MakeServer = Callable[..., Awaitable[Server]]


@contextlib.asynccontextmanager
async def server_factory() -> AsyncIterator[MakeServer]:
    """Yields ``make(storage=None, users=None, grants=(), **settings_overrides)``
    (``users``: a user source of the test's own; ``grants`` are served besides the
    built-in ones, ``create_app(grants=)``); everything closes on exit."""
    generate = KEYS.source()
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            storage: MemoryStorage | None = None,
            users: UserSource | None = None,
            grants: Iterable[Any] = (),
            **overrides: Any,
        ) -> Server:
            # Rate limits off: suites that hammer one endpoint from one address would
            # test the limiter, not the endpoint.  tests/http/test_rate_limits.py and
            # test_rate_limits_redis.py turn them on.
            options: dict[str, Any] = {
                "database_url": "memory://",
                "purge_interval": 0,
                "rate_limits_enabled": False,
            }
            options.update(overrides)
            with warnings.catch_warnings():
                # development-only options (query tokens) warn loudly by design
                warnings.simplefilter("ignore", UserWarning)
                settings = Settings(**options)
            store = storage if storage is not None else MemoryStorage()
            clock = FrozenClock()
            app = create_app(
                settings, storage=store, pepper=PEPPER, clock=clock, users=users, grants=grants
            )
            app.state.mintage.server.keys.generate = generate  # before start-up makes keys
            await stack.enter_async_context(LifespanManager(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
            )
            return Server(app, settings, store, clock, http)

        yield make


class _FormParser(HTMLParser):
    """The forms of a page: action, method, and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(PageForm(a.get("action", ""), a.get("method", "get").lower()))
        elif self.forms and tag in ("input", "button") and a.get("name"):
            if tag == "button" or a.get("type") == "submit":
                self.forms[-1].buttons.append((a["name"], a.get("value", "")))
            else:
                self.forms[-1].fields[a["name"]] = a.get("value", "")


@dataclasses.dataclass
class PageForm:
    action: str
    method: str
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    #: ``(name, value)`` of the submit buttons: a browser sends the one clicked
    buttons: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def page_forms(html: str) -> list[PageForm]:
    """The forms of an HTML page, with entities decoded as a browser would."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


async def sign_in_through_pages(
    http: httpx.AsyncClient,
    authorization_url: str,
    *,
    username: str = "alice",
    password: str = PASSWORD,
    decision: str = "approve",
    redirect_uri: str | None = None,
) -> str:
    """Play the browser through the real sign-in and consent pages.

    ``http`` keeps the cookies (the CSRF and session cookies), like a browser profile.
    From the authorization URL: the sign-in form is filled and posted with its CSRF
    field, the consent form (when asked) is answered with ``decision``, and the
    ``Location`` that leaves Mintage for the client's redirect URI is returned: one on
    another origin, or one starting with ``redirect_uri`` (a client on Mintage's origin).
    """
    url = start = httpx.URL(authorization_url)
    response = await http.get(url)
    for _ in range(6):
        if response.status_code in (302, 303):
            location = url.join(response.headers["location"])
            if redirect_uri is not None and str(location).startswith(redirect_uri + "?"):
                return str(location)
            if (location.scheme, location.host, location.port) != (
                start.scheme,
                start.host,
                start.port,
            ):
                return str(location)  # back to the client
            url = location
            response = await http.get(url)
            continue
        assert response.status_code == 200, f"{response.status_code} at {url}:\n{response.text}"
        forms = page_forms(response.text)
        login = next((f for f in forms if f.action.endswith("/login")), None)
        consent = next((f for f in forms if f.action.endswith("/authorize/decision")), None)
        if login is not None and "password" in response.text:
            url = url.join(login.action)
            data = {**login.fields, "username": username, "password": password}
        elif consent is not None:
            assert ("decision", decision) in consent.buttons, consent.buttons
            url = url.join(consent.action)
            data = {**consent.fields, "decision": decision}
        else:
            raise AssertionError(f"no sign-in or consent form at {url}:\n{response.text}")
        response = await http.post(url, data=data)
    raise AssertionError("the pages never sent the browser back to the client")


async def authorize_code(
    http: httpx.AsyncClient,
    client_id: str,
    *,
    redirect_uri: str,
    code_verifier: str,
    scope: str = "read",
    username: str = "alice",
    password: str = PASSWORD,
) -> str:
    """An authorization code the way a browser gets one (RFC 6749 §4.1.1–4.1.2, PKCE
    S256): :func:`sign_in_through_pages` from ``/oauth/authorize`` on ``http``'s base
    URL, which may be the ASGI app or a real server."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st",
        "code_challenge": s256(code_verifier),
        "code_challenge_method": "S256",
    }
    url = http.base_url.join("/oauth/authorize").copy_merge_params(params)
    location = await sign_in_through_pages(http, str(url), username=username, password=password)
    assert location.startswith(redirect_uri + "?"), location
    return parse_qs(urlsplit(location).query)["code"][0]
