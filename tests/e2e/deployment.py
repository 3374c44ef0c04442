"""One Mintage deployment for end-to-end tests: a database and its server processes.

A :class:`Deployment` is a working directory plus the ``MINTAGE_*`` settings every
command and server of it shares (the database URL, the server secret).  Clients and
users are registered through the library calls the CLI makes (each ``mintage``
command costs a second and a half of start-up, and tests/e2e/test_e2e_serve.py covers
the CLI itself), then ``mintage serve`` runs on a free port; :meth:`Deployment.serve`
may be called again after a crash, on the same database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from serve_process import Process, clean_env, free_port

from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher, new_id, token_digest
from mintage.core.models import User
from mintage.storage import open_storage
from mintage.storage.sql.migrate import sqlite_path
from oauth_testkit import PASSWORD, password_hash

SECRET_KEY = "e2e-secret-key-0123456789-abcdefghijklmnop"
#: the audience of every access token of these deployments (``access_token_audience``)
AUDIENCE = "https://api.e2e.example/"


@dataclass
class Server:
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.popen.pid


@dataclass
class Credentials:
    client_id: str
    secret: str


@dataclass
class Deployment:
    workdir: Path
    database_url: str
    settings: dict[str, str] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            "MINTAGE_DATABASE_URL": self.database_url,
            "MINTAGE_SECRET_KEY": SECRET_KEY,
            "MINTAGE_CREATE_DEMO_CLIENT": "false",
            # These deployments test durability under load from one address and one
            # client, which the default rate limits would (rightly) refuse.
            "MINTAGE_RATE_LIMITS_ENABLED": "false",
            # Known before any server runs, so a resource server can be registered for it.
            "MINTAGE_ACCESS_TOKEN_AUDIENCE": AUDIENCE,
            **self.settings,
        }

    def client(
        self,
        name: str,
        *grant_types: str,
        scope: str = "read",
        redirect_uri: str | None = None,
        resource_server: bool = False,
    ) -> Credentials:
        """Register a confidential client, as ``mintage client create`` does; a
        ``resource_server`` serves :data:`AUDIENCE`, so it may introspect every access
        token (RFC 7662 §4)."""

        async def register() -> Credentials:
            store = open_storage(self.database_url)
            await store.open()  # creates or migrates the schema, as the CLI does
            try:
                client, secret = await register_client(
                    store,
                    SecretHasher(SECRET_KEY.encode()),
                    name=name,
                    grant_types=grant_types,
                    scopes=scope.split(),
                    redirect_uris=[redirect_uri] if redirect_uri else [],
                    resources=[AUDIENCE] if resource_server else [],
                )
            finally:
                await store.close()
            assert secret is not None
            return Credentials(client.client_id, secret)

        return asyncio.run(register())

    def user(self, username: str, password: str = PASSWORD) -> None:
        """A user with a cheap Argon2id hash (``oauth_testkit.password_hash``)."""

        async def create() -> None:
            store = open_storage(self.database_url)
            await store.open()
            try:
                hashed = password_hash(password)
                await store.save_user(User(new_id(), username, hashed))
            finally:
                await store.close()

        asyncio.run(create())

    @property
    def sqlite_path(self) -> str | None:
        if not self.database_url.startswith("sqlite:"):
            return None
        return sqlite_path(self.database_url)

    def integrity_check(self) -> list[tuple[str]]:
        """SQLite's ``PRAGMA integrity_check`` (``[("ok",)]`` when all is well)."""
        assert self.sqlite_path is not None
        db = sqlite3.connect(self.sqlite_path)
        try:
            rows: list[tuple[str]] = db.execute("PRAGMA integrity_check").fetchall()
            return rows
        finally:
            db.close()

    def stored(self, tokens: list[str]) -> set[str]:
        """Which of ``tokens`` the tokens table holds (by digest), read straight from the
        database rather than through a server."""
        by_digest = {token_digest(token): token for token in tokens}
        digests = list(by_digest)
        if self.sqlite_path is not None:
            db = sqlite3.connect(self.sqlite_path)
            try:
                found: set[str] = set()
                for start in range(0, len(digests), 500):
                    chunk = digests[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    sql = f"SELECT digest FROM tokens WHERE digest IN ({marks})"
                    found.update(row[0] for row in db.execute(sql, chunk))
            finally:
                db.close()
        else:

            async def query() -> set[str]:
                conn = await asyncpg.connect(self.database_url)
                try:
                    sql = "SELECT digest FROM tokens WHERE digest = ANY($1::text[])"
                    return {row["digest"] for row in await conn.fetch(sql, digests)}
                finally:
                    await conn.close()

            found = asyncio.run(query())
        return {by_digest[digest] for digest in found}

    def serve(self) -> Server:
        """Start ``mintage serve`` (one process: the uvicorn server itself) and wait
        until it is healthy."""
        port = free_port()
        args = [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port)]
        process = Process(args, self.workdir, clean_env(**self.env), f"serve-{len(self.servers)}")
        server = Server(process, port)
        self.servers.append(server)
        process.wait_healthy(server.url + "/healthz")
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.process.kill()
