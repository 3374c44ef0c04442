"""A FastAPI API with Mintage mounted at ``/auth``, its routes protected by scope, and
Swagger UI's "Authorize" button signing in through Mintage.

    pip install 'mintage[fastapi]' swagger-ui-bundle-v2
    python examples/fastapi_app.py        # http://127.0.0.1:8000/docs (PORT=… to change)

- ``mintage.mount`` mounts the authorization server and runs its lifespan (store,
  signing keys) inside the API's.
- ``require_scopes`` with ``Security(..., scopes=[...])`` and
  ``authorization_code_scheme``: the OpenAPI document shows the authorization code flow
  at the mounted issuer and the scopes of each route.
- Swagger UI (version 5, which reads FastAPI's OpenAPI 3.1) is served from the
  ``swagger-ui-bundle-v2`` package, not from a CDN, and signs in with PKCE (RFC 7636)
  as the public client ``api-docs``, registered on start-up with FastAPI's
  ``/docs/oauth2-redirect`` page as its redirect URI.
- A user ``demo`` is created on start-up; its password is ``DEMO_PASSWORD`` or a random
  one, printed once.

Access tokens are JWTs (RFC 9068), verified locally with the issuer's published keys.
Importing this module has no side effects: the app is built by :func:`build_app`.
"""

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

import uvicorn
from fastapi import FastAPI, Security
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

import mintage
from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher, new_id
from mintage.resource import AccessToken, verifier_for_issuer
from mintage.resource.fastapi import (
    authorization_code_scheme,
    install_error_handler,
    require_scopes,
)

MOUNT = "/auth"
DOCS_CLIENT_ID = "api-docs"
SCOPES = {"orders:read": "Read your orders", "orders:write": "Place orders"}


def same_origin_opener(response: HTMLResponse) -> HTMLResponse:
    """Swagger UI signs in in a popup that reports back to ``window.opener``.  Mintage's
    pages send ``Cross-Origin-Opener-Policy: same-origin``, which cuts a popup off from
    an opener with another policy (HTML Standard, "cross-origin opener policies"); the
    docs and their redirect page, on Mintage's origin, send the same policy."""
    response.headers["cross-origin-opener-policy"] = "same-origin"
    return response


def build_app(
    port: int | None = None,
    *,
    store: mintage.MemoryStorage | None = None,
    demo_password: str | None = None,
) -> FastAPI:
    """The API on ``port``, with Mintage at ``/auth`` on ``store`` (in memory)."""
    port = port or int(os.environ.get("PORT", "8000"))
    base = f"http://127.0.0.1:{port}"
    issuer = base + MOUNT
    store = store if store is not None else mintage.MemoryStorage()
    pepper = secrets.token_bytes(32)
    settings = mintage.Settings(issuer=issuer, database_url="memory://", access_token_format="jwt")
    auth = mintage.create_app(settings, storage=store, pepper=pepper)

    verifier = verifier_for_issuer(issuer)
    scheme = authorization_code_scheme(issuer, SCOPES)
    verify = require_scopes(verifier=verifier, scheme=scheme, realm="orders")
    OrdersReader = Annotated[AccessToken, Security(verify, scopes=["orders:read"])]
    OrdersWriter = Annotated[AccessToken, Security(verify, scopes=["orders:write"])]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Mintage's store is open here: ``mintage.mount`` runs its lifespan around this.
        await register_client(
            store,
            SecretHasher(pepper),
            client_id=DOCS_CLIENT_ID,
            name="API docs",
            grant_types=["authorization_code"],
            scopes=list(SCOPES),
            redirect_uris=[f"{base}/docs/oauth2-redirect"],
            public=True,
        )
        password = demo_password or os.environ.get("DEMO_PASSWORD")
        if password is None:
            password = secrets.token_urlsafe(12)
            print(f"sign in as demo / {password}", flush=True)
        await store.save_user(
            mintage.User(
                user_id=new_id(), username="demo", password_hash=mintage.hash_password(password)
            )
        )
        yield
        await verifier.aclose()

    app = FastAPI(title="Orders", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handler(app)
    mintage.mount(app, MOUNT, auth)
    app.mount("/swagger-ui", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return same_origin_opener(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title="Orders API",
                swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
                swagger_css_url="/swagger-ui/swagger-ui.css",
                swagger_favicon_url="/swagger-ui/favicon-32x32.png",
                oauth2_redirect_url="/docs/oauth2-redirect",
                init_oauth={
                    "clientId": DOCS_CLIENT_ID,
                    "usePkceWithAuthorizationCodeGrant": True,
                    "scopes": " ".join(SCOPES),
                },
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return same_origin_opener(get_swagger_ui_oauth2_redirect_html())

    @app.get("/orders")
    async def list_orders(token: OrdersReader) -> dict[str, object]:
        return {"owner": token.subject, "orders": ["espresso", "croissant"]}

    @app.post("/orders", status_code=201)
    async def place_order(token: OrdersWriter) -> dict[str, object]:
        return {"owner": token.subject, "placed": True}

    return app


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    uvicorn.run(build_app(port), host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main()
