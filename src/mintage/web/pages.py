"""What the sign-in pages share: the engine's services, cookies, CSRF and rendering.

The login, consent and logout handlers (``login_pages``, ``authorize_pages``) are thin
methods over this object; :func:`page_routes` mounts them.  Everything here is built
once at start-up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..core.audit import Origin
from ..core.authorize_decision import AuthorizationDecider
from ..core.consent import ConsentService
from ..core.endpoints.authorize import AuthorizationRequest, AuthorizeEndpoint
from ..core.errors import OAuthError, StorageUnavailableError
from ..core.login import LoginService
from ..core.models import Session, User
from ..core.oidc.logout import EndSessionEndpoint
from ..core.params import parse_query
from ..core.paths import ENDPOINT_PATHS
from ..core.sealing import derive_key
from ..core.server import AuthorizationServer
from ..core.sessions import SessionService
from ..core.users import UserSource
from ..logs import request_id_var
from .cookies import CookiePolicy
from .csrf import FIELD, CsrfSigner, new_browser_secret
from .forms import BadForm
from .rendering import Pages, secure
from .sign_in_demand import SignInDemand

log = logging.getLogger("mintage")

AUTHORIZE_PATH = ENDPOINT_PATHS["authorization_endpoint"]
LOGIN_PATH = "/login"
RETRY_AFTER_OUTAGE = "5"

Endpoint = Callable[[Request], Awaitable[Response]]


class CsrfFailure(Exception):
    """A POST without this browser's token for the form: refused with 403."""


@dataclass(frozen=True, slots=True)
class Services:
    """The engine parts the pages need."""

    authorize: AuthorizeEndpoint
    decider: AuthorizationDecider
    login: LoginService
    sessions: SessionService
    consent: ConsentService
    users: UserSource
    end_session: EndSessionEndpoint

    @classmethod
    def of(cls, server: AuthorizationServer) -> Services:
        return cls(
            server.authorize,
            server.decider,
            server.login,
            server.sessions,
            server.consent,
            server.users,
            server.end_session,
        )


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who is at the browser: their cookies and, if signed in, session and user."""

    browser: str | None  # the CSRF cookie
    session_cookie: str | None
    session: Session | None
    user: User | None


class Browser:
    """Cookies, CSRF, session look-up and rendering for the page handlers."""

    def __init__(
        self,
        server: AuthorizationServer,
        services: Services,
        pages: Pages,
        csrf_key: bytes,
        body_limit: int,
    ) -> None:
        self.server = server
        self.services = services
        self.pages = pages
        self.cookies = CookiePolicy.for_issuer(server.config.issuer)
        self.signer = CsrfSigner(csrf_key)
        # a key of its own (RFC 5869), so a stamp can never pass for a CSRF token
        self.demand = SignInDemand(derive_key(csrf_key, "mintage sign-in demand"))
        self.body_limit = body_limit

    # -- who is there ---------------------------------------------------------------

    async def visitor(self, request: Request) -> Visitor:
        """The visitor; a session whose user was deleted counts as signed out."""
        cookie = self.cookies.session(request)
        browser = self.cookies.csrf(request)
        session = await self.services.sessions.resolve(cookie) if cookie else None
        user = await self.services.users.get_user(session.user_id) if session else None
        if user is None:
            session = None
        return Visitor(browser, cookie, session, user)

    @staticmethod
    def origin(request: Request) -> Origin:
        """Where a page request came from, for its audit events: the peer address and
        the request id that the logs carry (set by :mod:`.instrument`)."""
        client = request.client
        return Origin(client.host if client else None, request_id_var.get())

    # -- CSRF -------------------------------------------------------------------------

    def check_csrf(
        self, request: Request, form: Mapping[str, str], purpose: str, data: bytes = b""
    ) -> None:
        """Raise :class:`CsrfFailure` unless the form carries this browser's token.

        Defence in depth on top of the token: browsers say where a request comes
        from (``Sec-Fetch-Site``), and a form post from another site is refused.
        """
        if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            raise CsrfFailure
        ok = self.signer.verify(
            form.get(FIELD),
            purpose,
            self.cookies.csrf(request),
            self.cookies.session(request),
            data,
        )
        if not ok:
            raise CsrfFailure

    def tokens(
        self, visitor: Visitor, purposes: Mapping[str, bytes], session_cookie: str | None = None
    ) -> tuple[dict[str, str], str | None]:
        """Form tokens by purpose, and a new CSRF cookie value if the browser has none."""
        browser, fresh = visitor.browser, None
        if browser is None:
            browser = fresh = new_browser_secret()
        session = session_cookie if session_cookie is not None else visitor.session_cookie
        made = {p: self.signer.token(p, browser, session, d) for p, d in purposes.items()}
        return made, fresh

    # -- responses --------------------------------------------------------------------

    def base(self, request: Request) -> str:
        """The path prefix when Mintage is mounted (``/auth``), else ``""``."""
        root: str = request.scope.get("root_path", "")
        return root.rstrip("/")

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status: int = 200,
        *,
        new_csrf_cookie: str | None = None,
        headers: Mapping[str, str] | None = None,
        form_targets: tuple[str, ...] = (),
    ) -> Response:
        context = {"base": self.base(request), **context}
        response = self.pages.render(
            template, context, status, headers=headers, form_targets=form_targets
        )
        if new_csrf_cookie is not None:
            self.cookies.set(response, self.cookies.csrf_name, new_csrf_cookie)
        return response

    def error(self, request: Request, status: int, title: str, message: str) -> Response:
        return self.render(
            request, "error.html", {"title": title, "message": message, "status": status}, status
        )

    def csrf_error(self, request: Request) -> Response:
        """403; a browser without a CSRF cookie gets one, so going back and reloading
        the form works."""
        response = self.error(
            request,
            403,
            "This form has expired",
            "The form was not sent from this site, or it is too old. "
            "Go back, reload the page and try again.",
        )
        if self.cookies.csrf(request) is None:
            self.cookies.set(response, self.cookies.csrf_name, new_browser_secret())
        return response

    def request_error(self, request: Request, exc: OAuthError) -> Response:
        """A non-redirectable authorization error, on our page (RFC 6749 §4.1.2.1)."""
        return self.error(
            request,
            exc.status_code if exc.status_code < 500 else 400,
            "This sign-in link is not valid",
            "The application that sent you here made a request that cannot be accepted: "
            f"{exc.description or exc.error}.",
        )

    @staticmethod
    def see_other(location: str) -> Response:
        """303: after a form post the browser must GET the next page (RFC 9700 §4.12:
        a 307 would re-send the password to wherever we redirect)."""
        return secure(RedirectResponse(location, 303))

    def authorize_url(self, request: Request, params: Mapping[str, str]) -> str:
        """The local path of the authorization request with these parameters."""
        return f"{self.base(request)}{AUTHORIZE_PATH}?{urlencode(params)}"

    async def request_of(self, request: Request, return_to: str) -> AuthorizationRequest | None:
        """The authorization request a ``return_to`` path continues, if it is valid."""
        parts = urlsplit(return_to)
        if parts.path != self.base(request) + AUTHORIZE_PATH:
            return None
        try:
            return await self.services.authorize.validate(parse_query(parts.query))
        except Exception:  # best effort: only the wording of the page depends on it
            return None


def guarded(handler: Callable[[Browser, Request], Awaitable[Response]]) -> Callable[..., Any]:
    """Map failures to pages: bad forms, CSRF, storage outage (503), anything else (500).

    docs/architecture.md §2: an unexpected exception shows a generic page; detail goes to the log.
    """

    @functools.wraps(handler)
    async def run(self: Browser, request: Request) -> Response:
        try:
            return await handler(self, request)
        except CsrfFailure:
            return self.csrf_error(request)
        except BadForm as exc:
            return self.error(request, exc.status, "This request is not valid", str(exc))
        except StorageUnavailableError:
            log.warning("storage unavailable", extra={"path": request.url.path})
            response = self.error(
                request, 503, "Please try again", "The service is busy. Try again shortly."
            )
            response.headers["retry-after"] = RETRY_AFTER_OUTAGE
            return response
        except Exception:
            log.exception("unexpected error", extra={"path": request.url.path})
            return self.error(
                request, 500, "Something went wrong", "Something went wrong on our side."
            )

    return run
