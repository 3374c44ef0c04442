"""Sign in with your own users: an app keeps its accounts (and their bcrypt hashes) in its
own table, and Mintage signs them in on its pages without migrating anyone.

    pip install bcrypt
    python examples/external_users.py          # http://127.0.0.1:8000 (PORT=… to change)

The app's own table is ``accounts`` in a SQLite file (``ACCOUNTS_DB``, by default a
temporary one), filled by the app's own sign-up route::

    curl --json '{"email": "ada@example.com", "password": "a long passphrase"}' \\
        http://127.0.0.1:8000/accounts

Mintage is mounted at ``/auth`` and given :class:`AccountsSource`, a
:class:`mintage.UserSource` over that table (docs/users.md), with ``create_app(users=…)``.
The lock-out, sessions, consents and tokens stay in Mintage's store.  On start-up the
app registers a public client and prints an authorization URL to open in a browser.

Importing this module has no side effects: the app is built by :func:`build_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlencode

import bcrypt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import mintage
from mintage.core.clients import register_client

MOUNT = "/auth"
#: bcrypt's cost for new hashes; the dummy hash below must have the same
ROUNDS = 12
#: the work of a real check for unknown usernames: same algorithm, same cost
_DUMMY_HASH = bcrypt.hashpw(b"no such account", bcrypt.gensalt(ROUNDS))

_SCHEMA = """CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL
)"""


class Accounts:
    """The application's own user table (SQLite here; any database will do)."""

    def __init__(self, path: str) -> None:
        self.path = path
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute(_SCHEMA)

    def _query(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        with contextlib.closing(sqlite3.connect(self.path)) as db, db:
            row: tuple[object, ...] | None = db.execute(sql, args).fetchone()
            return row

    async def add(self, email: str, password: str, name: str) -> int:
        """A new account with a bcrypt hash of ``password``; its id."""
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(ROUNDS)).decode()

        def insert() -> int:
            with contextlib.closing(sqlite3.connect(self.path)) as db, db:
                cursor = db.execute(
                    "INSERT INTO accounts (email, password_hash, name) VALUES (?, ?, ?)",
                    (email, hashed, name),
                )
                return int(cursor.lastrowid or 0)

        return await asyncio.to_thread(insert)

    async def by_email(self, email: str) -> tuple[object, ...] | None:
        sql = "SELECT id, email, password_hash, name FROM accounts WHERE email = ?"
        return await asyncio.to_thread(self._query, sql, (email,))

    async def by_id(self, account_id: int) -> tuple[object, ...] | None:
        sql = "SELECT id, email, password_hash, name FROM accounts WHERE id = ?"
        return await asyncio.to_thread(self._query, sql, (account_id,))


class AccountsSource:
    """The :class:`mintage.UserSource` over :class:`Accounts`: the email is the
    username, the account's id the stable ``sub``."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    @staticmethod
    def _user(row: tuple[object, ...] | None) -> mintage.User | None:
        if row is None:
            return None
        account_id, email, password_hash, name = row
        return mintage.User(
            user_id=f"account-{account_id}",
            username=str(email),
            password_hash=str(password_hash),
            claims={"name": str(name), "email": str(email)},
        )

    async def get_user_by_username(self, username: str) -> mintage.User | None:
        return self._user(await self.accounts.by_email(username))

    async def get_user(self, user_id: str) -> mintage.User | None:
        prefix, _, number = user_id.partition("-")
        if prefix != "account" or not number.isdigit():
            return None
        return self._user(await self.accounts.by_id(int(number)))

    def verify_password(self, user: mintage.User | None, password: str) -> bool:
        # Runs on Mintage's password pool.  An unknown user costs one bcrypt check too,
        # against the dummy hash, so the answer's timing does not tell who exists.
        hashed = user.password_hash.encode() if user is not None else _DUMMY_HASH
        try:
            ok = bcrypt.checkpw(password.encode("utf-8", "surrogatepass"), hashed)
        except ValueError:  # a malformed stored hash, or a password beyond 72 bytes
            return False
        return ok and user is not None

    async def claims(self, user: mintage.User) -> Mapping[str, str]:
        return user.claims  # read with the row above; a real app may look up more


async def sign_up(request: Request) -> JSONResponse:
    """The application's own sign-up: a new row in its own table."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse({"error": "a JSON object"}, 400)
    email, password, name = (str(body.get(k, "")) for k in ("email", "password", "name"))
    if not email or len(password) < 12:
        return JSONResponse({"error": "an email and a password of 12 characters"}, 400)
    accounts: Accounts = request.app.state.accounts
    try:
        account_id = await accounts.add(email, password, name or email)
    except sqlite3.IntegrityError:
        return JSONResponse({"error": "that email has an account"}, 409)
    return JSONResponse({"id": account_id}, 201)


def build_app(port: int | None = None, *, accounts_db: str | None = None) -> Starlette:
    """The app with its ``accounts`` table, and Mintage at ``/auth`` signing them in."""
    port = port or int(os.environ.get("PORT", "8000"))
    base = f"http://127.0.0.1:{port}"
    path = accounts_db or os.environ.get("ACCOUNTS_DB") or _temporary_db()
    accounts = Accounts(path)
    settings = mintage.Settings(issuer=base + MOUNT, database_url="memory://")
    store = mintage.MemoryStorage()
    # The server secret keys client-secret digests; with stores of your own it is given
    # here (a real deployment reads it from its secret store: docs/storage.md).
    pepper = secrets.token_bytes(32)
    auth = mintage.create_app(
        settings, storage=store, pepper=pepper, users=AccountsSource(accounts)
    )
    redirect_uri = f"{base}/callback"

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Starlette does not run a mounted app's lifespan: run Mintage's here.
        async with auth.router.lifespan_context(auth):
            client, _ = await register_client(
                store,
                pepper,
                name="Example app",
                grant_types=["authorization_code"],
                scopes=["openid", "profile", "email"],
                redirect_uris=[redirect_uri],
                public=True,
            )
            app.state.client_id = client.client_id
            query = urlencode(
                {
                    "response_type": "code",
                    "client_id": client.client_id,
                    "redirect_uri": redirect_uri,
                    "scope": "openid profile email",
                    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    "code_challenge_method": "S256",
                }
            )
            print(f"client_id: {client.client_id}")
            print(f"sign in:   {base}{MOUNT}/oauth/authorize?{query}", flush=True)
            yield

    app = Starlette(
        routes=[
            Route("/accounts", sign_up, methods=["POST"]),
            Mount(MOUNT, app=auth, name="auth"),
        ],
        lifespan=lifespan,
    )
    app.state.accounts = accounts
    app.state.store = store
    return app


def _temporary_db() -> str:
    handle, path = tempfile.mkstemp(prefix="accounts-", suffix=".db")
    os.close(handle)
    return path


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    uvicorn.run(build_app(port), host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main()
