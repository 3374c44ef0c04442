"""A web app with "Sign in with Mintage": the authorization code flow with PKCE.

    MINTAGE_URL=http://127.0.0.1:3000 CLIENT_ID=… [CLIENT_SECRET=…] [PORT=8000] \\
        python examples/webapp.py

Register it first (see the README, "Example web app"):

    mintage client create --name webapp --grant-type authorization_code \\
        --grant-type refresh_token --scope read \\
        --redirect-uri http://127.0.0.1:8000/callback

(add ``--public`` for a client without a secret, and leave ``CLIENT_SECRET`` unset).
The app uses Authlib's Starlette client: ``/login`` sends the browser to Mintage with a
PKCE challenge (RFC 7636, S256) and a ``state`` kept in the app's signed session cookie;
``/callback`` checks ``state`` and ``iss`` (RFC 9207: the answer comes from the server
we asked), redeems the code with the verifier, calls Mintage's ``/resource`` with the
access token and shows who signed in and with which scopes.  The tokens themselves stay
on the server side of this example and are never put in a cookie.
"""

from __future__ import annotations

import html
import os
import secrets
import warnings
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():  # Authlib announces its move to httpx2 on import
    warnings.simplefilter("ignore")
    from authlib.integrations.starlette_client import OAuth, OAuthError

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example web app</title>
<style>
body {{ font: 1rem/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto;
       padding: 0 1rem; color: #111827; }}
.button {{ display: inline-block; padding: .6rem 1.2rem; border-radius: .4rem;
          background: #1d4ed8; color: #fff; text-decoration: none; font-weight: 600;
          border: 0; font-size: 1rem; cursor: pointer; }}
:focus-visible {{ outline: 3px solid #b45309; outline-offset: 2px; }}
</style></head>
<body><main><h1>Example web app</h1>{body}</main></body></html>"""


def page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status)


def build_app(
    mintage_url: str,
    client_id: str,
    client_secret: str | None = None,
    *,
    port: int = 8000,
    scope: str = "read",
) -> Starlette:
    """The example app, talking to the Mintage server at ``mintage_url``."""
    issuer = mintage_url.rstrip("/")
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    oauth = OAuth()
    client_kwargs: dict[str, Any] = {"scope": scope, "code_challenge_method": "S256"}
    if not client_secret:  # a public client: PKCE alone protects the code
        client_kwargs["token_endpoint_auth_method"] = "none"
    oauth.register(
        "mintage",
        client_id=client_id,
        client_secret=client_secret or None,
        authorize_url=f"{issuer}/oauth/authorize",
        access_token_url=f"{issuer}/oauth/token",
        api_base_url=f"{issuer}/",
        client_kwargs=client_kwargs,
    )
    mintage = oauth.create_client("mintage")

    async def home(request: Request) -> Response:
        user = request.session.get("user")
        if not user:
            return page(
                '<p>You are not signed in.</p><p><a class="button" href="/login">'
                "Sign in with Mintage</a></p>"
            )
        scopes = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in user["scopes"])
        return page(
            f'<p>Signed in as <strong id="sub">{html.escape(user["sub"])}</strong>.</p>'
            f'<h2>Scopes of the access token</h2><ul id="scopes">{scopes}</ul>'
            '<form method="post" action="/logout"><button class="button">Sign out</button>'
            "</form>"
        )

    async def login(request: Request) -> Response:
        response: Response = await mintage.authorize_redirect(request, redirect_uri)
        return response

    async def callback(request: Request) -> Response:
        error = request.query_params.get("error")
        if error:
            described = request.query_params.get("error_description", "")
            return page(
                f'<p id="error">Sign-in did not complete: <code>{html.escape(error)}</code> '
                f'{html.escape(described)}</p><p><a href="/">Back</a></p>',
                400,
            )
        if request.query_params.get("iss") != issuer:  # RFC 9207 §2.4: mix-up defence
            return page('<p id="error">The answer did not come from the expected server.</p>', 400)
        try:
            token = await mintage.authorize_access_token(request)
        except OAuthError as exc:
            return page(f'<p id="error">Sign-in failed: {html.escape(exc.error)}</p>', 400)
        answer = await mintage.get("resource", token=token)
        answer.raise_for_status()
        who = answer.json()
        request.session["user"] = {"sub": who["sub"], "scopes": token["scope"].split()}
        return RedirectResponse("/", 303)

    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/", 303)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/callback", callback),
            Route("/logout", logout, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=os.environ.get("SESSION_SECRET") or secrets.token_urlsafe(32),
                session_cookie="webapp_session",  # cookies ignore ports: not Mintage's name
                same_site="lax",
                https_only=False,  # a local demo over http
            )
        ],
    )


def main() -> None:
    import uvicorn

    client_id = os.environ.get("CLIENT_ID")
    if not client_id:
        raise SystemExit("set CLIENT_ID (and CLIENT_SECRET for a confidential client)")
    port = int(os.environ.get("PORT", "8000"))
    app = build_app(
        os.environ.get("MINTAGE_URL", "http://127.0.0.1:3000"),
        client_id,
        os.environ.get("CLIENT_SECRET"),
        port=port,
        scope=os.environ.get("SCOPE", "read"),
    )
    print(f"Example web app on http://127.0.0.1:{port}/", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
