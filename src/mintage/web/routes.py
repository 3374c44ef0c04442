"""The routes of the browser pages, mounted by :func:`mintage.web.app.create_app`."""

from __future__ import annotations

import functools
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.server import AuthorizationServer
from .authorize_pages import authorize, decision
from .csrf import derive_key
from .login_pages import login_get, login_post, logout_post
from .pages import AUTHORIZE_PATH, LOGIN_PATH, Browser, Services
from .rendering import Pages

log = logging.getLogger("mintage")


async def _unavailable(pages: Pages, lacking: str, request: Request) -> Response:
    """501 on our own page when the store cannot keep what sign-in needs."""
    message = f"This server's store does not keep {lacking}, which signing in needs."
    base = request.scope.get("root_path", "").rstrip("/")
    return pages.render(
        "error.html",
        {"title": "Signing in is not available", "message": message, "status": 501, "base": base},
        501,
    )


def page_routes(server: AuthorizationServer, pepper: bytes, body_limit: int) -> list[Route]:
    """Sign-in, consent and logout pages, and their stylesheet.

    The pages need every engine service (codes, sessions, consents, lock-out).  With a
    store that lacks one, ``/oauth/authorize`` and ``/login`` answer 501 on our error
    page, saying what is missing, and start-up logs a warning.
    """
    pages = Pages()
    routes: list[Route] = [Route("/static/style.css", pages.style, methods=["GET"])]
    services = Services.of(server)
    if services is None:
        lacking = ", ".join(Services.missing(server))
        log.warning("sign-in pages are off: the store does not keep %s", lacking)
        unavailable = functools.partial(_unavailable, pages, lacking)
        routes += [
            Route(path, unavailable, methods=["GET", "POST"])
            for path in (AUTHORIZE_PATH, LOGIN_PATH)
        ]
        return routes
    b = Browser(server, services, pages, derive_key(pepper), body_limit)
    routes += [
        Route(AUTHORIZE_PATH, functools.partial(authorize, b), methods=["GET", "POST"]),
        Route(AUTHORIZE_PATH + "/decision", functools.partial(decision, b), methods=["POST"]),
        Route(LOGIN_PATH, functools.partial(login_get, b), methods=["GET"]),
        Route(LOGIN_PATH, functools.partial(login_post, b), methods=["POST"]),
        Route("/logout", functools.partial(logout_post, b), methods=["POST"]),
    ]
    return routes
