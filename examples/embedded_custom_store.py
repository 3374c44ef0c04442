"""Embed Mintage in your own Starlette app, with its clients and tokens in your tables.

    python examples/embedded_custom_store.py          # http://127.0.0.1:8000 (PORT=… to change)
    uvicorn --factory examples.embedded_custom_store:build_app

The authorization server is mounted at ``/auth``; it prints a client's credentials and
a curl line on start-up.  The store is written here: the origin library called it the
"model", the object the server asks for clients and tokens.  Two small classes keep
them in "your existing tables" (stdlib ``sqlite3`` here), one per concern
(:class:`mintage.ClientStore`, :class:`mintage.TokenStore`), and log every call the
server makes (never a secret or a token digest).  They pass the store contract for
those concerns (tests/e2e/test_e2e_embedded_example.py runs ``mintage.testing`` on them).

The sign-in concerns (codes, users, sessions, consents, signing keys, audit) this
service does not keep are given explicitly to an in-memory store: without a store for
them the server would refuse to start (docs/storage.md: which feature needs which).

Importing this module has no side effects: the app is built by :func:`build_app`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import mintage
from mintage import Client, Token, TokenKind

log = logging.getLogger("example.store")

MOUNT = "/auth"

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_clients (
    client_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
    digest TEXT PRIMARY KEY, client_id TEXT NOT NULL, family_id TEXT NOT NULL,
    subject TEXT, expires_at INTEGER NOT NULL, revoked_at INTEGER, consumed_at INTEGER,
    record TEXT NOT NULL);
"""


def connect(path: str = ":memory:") -> sqlite3.Connection:
    """Your database: here a SQLite file (or memory) with the two tables above."""
    db = sqlite3.connect(path, isolation_level=None)  # autocommit: each write is durable
    db.executescript(SCHEMA)
    return db


class Clients:
    """Clients in ``api_clients`` (a JSON record per client: the fields of :class:`Client`)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def get_client(self, client_id: str) -> Client | None:
        row = self.db.execute(
            "SELECT record FROM api_clients WHERE client_id = ?", (client_id,)
        ).fetchone()
        client = _client(row[0]) if row else None
        log.info("get_client(%s) -> %s", client_id, client.name if client else None)
        return client

    async def save_client(self, client: Client) -> None:
        log.info("save_client(%s, name=%r)", client.client_id, client.name)
        record = json.dumps({f: getattr(client, f) for f in Client.__dataclass_fields__})
        self.db.execute(
            "INSERT OR REPLACE INTO api_clients VALUES (?, ?, ?)",
            (client.client_id, client.created_at, record),
        )

    async def delete_client(self, client_id: str) -> bool:
        with self.db:  # one transaction: the client and its tokens
            self.db.execute("DELETE FROM api_tokens WHERE client_id = ?", (client_id,))
            deleted = self.db.execute("DELETE FROM api_clients WHERE client_id = ?", (client_id,))
        return deleted.rowcount > 0

    async def list_clients(self) -> list[Client]:
        rows = self.db.execute("SELECT record FROM api_clients ORDER BY created_at, client_id")
        return [_client(record) for (record,) in rows]


def _client(record: str) -> Client:
    fields = json.loads(record)
    tuples = ("grant_types", "scopes", "redirect_uris", "post_logout_redirect_uris", "resources")
    return Client(**{k: tuple(v) if k in tuples else v for k, v in fields.items()})


class Tokens:
    """Tokens in ``api_tokens``.  The event loop runs one call at a time and these
    never await between reading and writing, so a consume is atomic: one winner."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def save_token(self, token: Token) -> None:
        log.info("save_token(%s for %s, scope=%r)", token.kind, token.client_id, token.scope)
        self._write(token)

    async def get_token(self, digest: str) -> Token | None:
        row = self.db.execute("SELECT record FROM api_tokens WHERE digest = ?", (digest,))
        found = row.fetchone()
        return _token(found[0]) if found else None

    async def consume_token(
        self, digest: str, now: int, successor: str | None = None
    ) -> Token | None:
        token = await self.get_token(digest)
        won = token is not None and token.consumed_at is None and token.is_active(now)
        log.info("consume_token(…) -> %s", "consumed" if won else "refused")
        if not won or token is None:
            return None
        self._write(_replace(token, consumed_at=now, successor=successor))
        return token

    async def revoke_token(self, digest: str, now: int) -> bool:
        changed = self.db.execute(
            "UPDATE api_tokens SET revoked_at = ?, record = json_set(record, '$.revoked_at', ?) "
            "WHERE digest = ? AND revoked_at IS NULL",
            (now, now, digest),
        ).rowcount
        log.info("revoke_token(…) -> %s", changed > 0)
        return changed > 0

    async def revoke_family(self, family_id: str, now: int) -> int:
        changed: int = self.db.execute(
            "UPDATE api_tokens SET revoked_at = ?, record = json_set(record, '$.revoked_at', ?) "
            "WHERE family_id = ? AND revoked_at IS NULL",
            (now, now, family_id),
        ).rowcount
        log.info("revoke_family(%s) -> %d tokens", family_id, changed)
        return changed

    async def purge_expired(self, now: int, batch_size: int) -> int:
        deleted: int = self.db.execute(
            "DELETE FROM api_tokens WHERE digest IN (SELECT digest FROM api_tokens "
            "WHERE expires_at < ? ORDER BY expires_at LIMIT ?)",
            (now, batch_size),
        ).rowcount
        return deleted

    def _write(self, token: Token) -> None:
        record = json.dumps({f: getattr(token, f) for f in Token.__dataclass_fields__})
        self.db.execute(
            "INSERT OR REPLACE INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token.digest,
                token.client_id,
                token.family_id,
                token.subject,
                token.expires_at,
                token.revoked_at,
                token.consumed_at,
                record,
            ),
        )


def _token(record: str) -> Token:
    fields = json.loads(record)
    return Token(**{**fields, "kind": TokenKind(fields["kind"])})


def _replace(token: Token, **changes: object) -> Token:
    fields = {f: getattr(token, f) for f in Token.__dataclass_fields__}
    return Token(**{**fields, **changes})  # type: ignore[arg-type]


async def home(request: Request) -> JSONResponse:
    """The host application's own route, beside the mounted server."""
    metadata = request.url_for("auth", path="/.well-known/oauth-authorization-server")
    return JSONResponse({"app": "my service", "authorization_server_metadata": str(metadata)})


def build_app(port: int | None = None) -> Starlette:
    """The host app with Mintage mounted at ``/auth`` over :class:`Clients` and
    :class:`Tokens`."""
    port = port or int(os.environ.get("PORT", "8000"))
    base = f"http://127.0.0.1:{port}"
    settings = mintage.Settings(issuer=base + MOUNT, database_url="memory://")
    db = connect()
    clients = Clients(db)
    # The server secret keys the client-secret digests: the server checks secrets with
    # it and the set-up below registers a client with it.  A real deployment loads it
    # from its configuration (the same on every instance).
    pepper = secrets.token_bytes(32)
    auth = mintage.create_app(
        settings,
        stores=mintage.Stores(clients=clients, tokens=Tokens(db)),
        storage=mintage.MemoryStorage(),  # the concerns this service does not keep
        pepper=pepper,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Starlette does not run a mounted app's lifespan: run Mintage's here, so the
        # stores are opened on start-up and closed on shutdown.
        async with auth.router.lifespan_context(auth):
            client, secret = await mintage.register_client(
                clients,
                pepper,
                name="Example service",
                grant_types=["client_credentials"],
                scopes=["read"],
            )
            print(f"client_id:     {client.client_id}")
            print(f"client_secret: {secret}")
            print(
                f"curl -s -u '{client.client_id}:{secret}' -d grant_type=client_credentials "
                f"{base}{MOUNT}/oauth/token",
                flush=True,
            )
            yield

    return Starlette(
        routes=[Route("/", home), Mount(MOUNT, app=auth, name="auth")], lifespan=lifespan
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    port = int(os.environ.get("PORT", "8000"))
    uvicorn.run(build_app(port), host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main()
