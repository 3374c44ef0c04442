"""The routes of the browser pages, mounted by :func:`mintage.web.app.create_app`."""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.routing import Route

from ..core.server import AuthorizationServer
from .authorize_pages import authorize, decision
from .csrf import derive_key
from .login_pages import login_get, login_post, logout_post
from .logout_pages import end_session
from .pages import AUTHORIZE_PATH, LOGIN_PATH, Browser, Services
from .rendering import Pages


def page_routes(
    server: AuthorizationServer,
    pepper: bytes,
    body_limit: int,
    templates_dir: Path | None = None,
) -> list[Route]:
    """Sign-in, consent and logout pages, and their stylesheets (docs/pages.md): the
    authorization endpoint, and RP-Initiated Logout when the server serves it
    (``server.endpoints``)."""
    pages = Pages(templates_dir)
    b = Browser(server, Services.of(server), pages, derive_key(pepper), body_limit)
    routes = [
        Route("/static/style.css", pages.style, methods=["GET"]),
        Route(AUTHORIZE_PATH, functools.partial(authorize, b), methods=["GET", "POST"]),
        Route(AUTHORIZE_PATH + "/decision", functools.partial(decision, b), methods=["POST"]),
        Route(LOGIN_PATH, functools.partial(login_get, b), methods=["GET"]),
        Route(LOGIN_PATH, functools.partial(login_post, b), methods=["POST"]),
        Route("/logout", functools.partial(logout_post, b), methods=["POST"]),
    ]
    if pages.theme is not None:
        routes.append(Route("/static/theme.css", pages.theme_style, methods=["GET"]))
    end_session_path = server.endpoints.get("end_session_endpoint")
    if end_session_path is not None:
        routes.append(
            Route(end_session_path, functools.partial(end_session, b), methods=["GET", "POST"])
        )
    return routes
