"""An API protected by Mintage access tokens, with FastAPI and ``mintage.resource``.

    MINTAGE_ISSUER=http://127.0.0.1:3000 RESOURCE_CLIENT_ID=… RESOURCE_CLIENT_SECRET=… \\
        .venv/bin/python examples/resource_api.py                  # http://127.0.0.1:8001
    uvicorn --factory examples.resource_api:create_app --port 8001  # the same app

``MINTAGE_ISSUER`` is the authorization server's issuer URL (default
``http://127.0.0.1:3000``, what ``make run`` serves).  ``RESOURCE_CLIENT_ID`` and
``RESOURCE_CLIENT_SECRET`` (required) are this API's own client at that server,
registered for the tokens' audience (``mintage client create --name api --grant-type
client_credentials --resource http://127.0.0.1:3000/resource``): Mintage's access tokens
are opaque ``mint_at_…`` values by default, which only introspection can check, and
introspection answers only such a client (RFC 7662 §4).
``RESOURCE_AUDIENCE`` is this API's identifier in the tokens' ``aud`` (default
``{issuer}/resource``).

Routes: ``GET /`` is public; ``GET /api/me`` needs scope ``read``; ``POST /api/notes``
needs ``write``; everything under ``/admin`` is guarded by the middleware and needs
``admin``.  Importing this module has no side effects: the app is built by
:func:`create_app`.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the ``Reader``/``Writer``
# aliases below from the route signatures, and a string annotation naming a local alias
# would not resolve (the parameter would turn into a query parameter).
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request

from mintage.resource import (
    STATE_KEY,
    AccessToken,
    BearerAuthMiddleware,
    TokenVerifier,
    verifier_for_issuer,
)
from mintage.resource.fastapi import install_error_handler, require_scopes


def verifier_from_env() -> TokenVerifier:
    client_id = os.environ.get("RESOURCE_CLIENT_ID")
    client_secret = os.environ.get("RESOURCE_CLIENT_SECRET")
    if not client_id or not client_secret:
        # Without them every opaque token (Mintage's default) would be refused with 401.
        raise SystemExit(
            "set RESOURCE_CLIENT_ID and RESOURCE_CLIENT_SECRET to this API's client: "
            "mintage client create --name api --grant-type client_credentials "
            "--resource <issuer>/resource"
        )
    return verifier_for_issuer(
        os.environ.get("MINTAGE_ISSUER", "http://127.0.0.1:3000"),
        audience=os.environ.get("RESOURCE_AUDIENCE") or None,
        client_id=client_id,
        client_secret=client_secret,
    )


def create_app(verifier: TokenVerifier | None = None) -> FastAPI:
    verifier = verifier or verifier_from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await verifier.aclose()

    app = FastAPI(title="Notes API", lifespan=lifespan)
    # Refusals as RFC 6750 JSON, the same as the middleware's.
    install_error_handler(app)
    # Every /admin route needs a token with scope "admin", whatever the route declares.
    app.add_middleware(
        BearerAuthMiddleware, verifier=verifier, prefixes=["/admin"], scopes=["admin"]
    )

    Reader = Annotated[AccessToken, Depends(require_scopes("read", verifier=verifier))]
    Writer = Annotated[AccessToken, Depends(require_scopes("write", verifier=verifier))]
    notes: list[dict[str, Any]] = []

    @app.get("/")
    async def index() -> dict[str, str]:
        return {"hello": "anyone"}

    @app.get("/api/me")
    async def me(token: Reader) -> dict[str, Any]:
        return {"sub": token.subject, "client_id": token.client_id, "scope": token.scope}

    @app.post("/api/notes", status_code=201)
    async def add_note(token: Writer, note: dict[str, str]) -> dict[str, Any]:
        notes.append({"by": token.client_id, **note})
        return notes[-1]

    @app.get("/admin/stats")
    async def stats(request: Request) -> dict[str, Any]:
        token: AccessToken = getattr(request.state, STATE_KEY)  # put there by the middleware
        return {"notes": len(notes), "admin": token.client_id}

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8001")))
