"""An extension grant (RFC 6749 §4.5) of your own, served by Mintage's token endpoint.

    python examples/custom_grant.py          # http://127.0.0.1:8000 (PORT=… to change)

A grant is any object with a ``grant_type`` (an absolute URI for an extension grant),
``allows_public``, the ``parameters`` it reads, and ``async handle(request)`` returning
the token response (RFC 6749 §5.1).  ``create_app(settings, grants=[...])`` serves it
beside the built-in grants and lists it in the metadata's ``grant_types_supported``.
Only clients registered with the grant type may use it (RFC 6749 §10.1):
``mintage client create --grant-type urn:example:params:oauth:grant-type:demo``.

This toy grant issues a token for one configured subject to any confidential client
allowed to use it, for the scope the client may have.  A real extension grant checks an
assertion it is given (RFC 7521 §4.1: ``assertion``) before it issues anything.

Importing this module has no side effects: the app is built by :func:`build_app`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import uvicorn
from starlette.applications import Starlette

import mintage
from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher
from mintage.core.scope import granted_scope

DEMO_GRANT = "urn:example:params:oauth:grant-type:demo"


class DemoGrant:
    """Issues an access token for ``subject``, without a refresh token."""

    grant_type: ClassVar[str] = DEMO_GRANT
    #: only clients that authenticate (with a secret) may use it
    allows_public: ClassVar[bool] = False
    #: what the grant reads from the token request; nothing else reaches ``handle``
    parameters: ClassVar[tuple[str, ...]] = ("scope",)

    def __init__(self, subject: str) -> None:
        self.subject = subject

    async def handle(self, request: mintage.GrantRequest) -> dict[str, Any]:
        client = request.client.client
        # RFC 6749 §3.3: the requested scope, within what the client is registered for
        # (``invalid_scope`` otherwise); the client's whole scope when none is asked.
        scopes = granted_scope(request.params.get("scope"), client.scopes)
        return await request.ctx.issuer.issue(
            client,
            scopes,
            subject=self.subject,
            refresh=False,
            audit_as=self.grant_type,
            origin=request.ctx.origin,
        )


def build_app(port: int | None = None, *, subject: str = "demo-user") -> Starlette:
    """Mintage on the in-memory store, serving :class:`DemoGrant`; a client that may
    use it is registered on start-up and its credentials printed."""
    port = port or int(os.environ.get("PORT", "8000"))
    base = f"http://127.0.0.1:{port}"
    settings = mintage.Settings(issuer=base, database_url="memory://")
    store = mintage.MemoryStorage()
    pepper = secrets.token_bytes(32)
    app = mintage.create_app(settings, storage=store, pepper=pepper, grants=[DemoGrant(subject)])
    own_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with own_lifespan(app):
            client, secret = await register_client(
                store,
                SecretHasher(pepper),
                name="Demo grant client",
                grant_types=[DEMO_GRANT],
                scopes=["read"],
            )
            print(
                f"curl -s -u '{client.client_id}:{secret}' -d grant_type={DEMO_GRANT} "
                f"{base}/oauth/token",
                flush=True,
            )
            yield

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    uvicorn.run(build_app(port), host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main()
