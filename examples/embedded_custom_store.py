"""Embed Mintage in your own Starlette app, with a store of your own.

    python examples/embedded_custom_store.py          # http://127.0.0.1:8000 (PORT=… to change)
    uvicorn --factory examples.embedded_custom_store:build_app

The authorization server is mounted at ``/auth``; it prints a client's credentials and
a curl line on start-up.  The store is written here: the origin library called it the
"model", the object the server asks for clients, tokens and users.  Any object meeting
the protocols of :mod:`mintage.core.storage` will do; this one extends the in-memory
store to log every call the server makes (never a secret or a token digest), which is
also a quick way to see what each endpoint does.

Importing this module has no side effects: the app is built by :func:`build_app`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import mintage
from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher
from mintage.core.models import Client, Token, User

log = logging.getLogger("example.store")

MOUNT = "/auth"


class LoggingStore(mintage.MemoryStorage):
    """The in-memory store, telling what the server asks of it.

    Override any method of the protocols (``get_client``, ``save_token``,
    ``consume_token``…) to keep the data elsewhere: a dict here, your own tables or
    service in a real application.
    """

    async def get_client(self, client_id: str) -> Client | None:
        client = await super().get_client(client_id)
        log.info("get_client(%s) -> %s", client_id, client.name if client else None)
        return client

    async def save_client(self, client: Client) -> None:
        log.info("save_client(%s, name=%r)", client.client_id, client.name)
        await super().save_client(client)

    async def save_token(self, token: Token) -> None:
        log.info("save_token(%s for %s, scope=%r)", token.kind, token.client_id, token.scope)
        await super().save_token(token)

    async def consume_token(
        self, digest: str, now: int, successor: str | None = None
    ) -> Token | None:
        won = await super().consume_token(digest, now, successor)
        log.info("consume_token(…) -> %s", "consumed" if won else "refused")
        return won

    async def revoke_token(self, digest: str, now: int) -> bool:
        changed = await super().revoke_token(digest, now)
        log.info("revoke_token(…) -> %s", changed)
        return changed

    async def revoke_family(self, family_id: str, now: int) -> int:
        changed = await super().revoke_family(family_id, now)
        log.info("revoke_family(%s) -> %d tokens", family_id, changed)
        return changed

    async def get_user_by_username(self, username: str) -> User | None:
        user = await super().get_user_by_username(username)
        log.info("get_user_by_username(%r) -> %s", username, "found" if user else None)
        return user


async def home(request: Request) -> JSONResponse:
    """The host application's own route, beside the mounted server."""
    metadata = request.url_for("auth", path="/.well-known/oauth-authorization-server")
    return JSONResponse({"app": "my service", "authorization_server_metadata": str(metadata)})


def build_app(port: int | None = None) -> Starlette:
    """The host app with Mintage mounted at ``/auth`` on a :class:`LoggingStore`."""
    port = port or int(os.environ.get("PORT", "8000"))
    base = f"http://127.0.0.1:{port}"
    settings = mintage.Settings(issuer=base + MOUNT, database_url="memory://")
    store = LoggingStore()
    # One pepper shared by the server (to verify client secrets) and by the set-up
    # below (to register a client); a real deployment loads it from its configuration.
    pepper = secrets.token_bytes(32)
    auth = mintage.create_app(settings, storage=store, pepper=pepper)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Starlette does not run a mounted app's lifespan: run Mintage's here, so the
        # store is opened on start-up and closed on shutdown.
        async with auth.router.lifespan_context(auth):
            client, secret = await register_client(
                store,
                SecretHasher(pepper),
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
