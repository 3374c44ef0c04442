"""``GET/POST /login`` and ``POST /logout``: signing users in and out.

RFC 6749 §10.10 asks the server to stop the guessing of passwords: the engine
locks a source (a username from an address) out after repeated failures and rate
limits failures per address and per username (both shown here as 429 with
``Retry-After``; ``core/login.py`` has the model), and an unknown user and a wrong
password get the same words and status (401), so the page does not tell which usernames
exist.  When too many password checks are in progress the page answers 503 with
``Retry-After`` (``core/passwords.py``).  A new session cookie is issued on every sign-in
and the old session ended (session fixation, OWASP Session Management).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..core.endpoints.authorize import AuthorizationRequest
from ..core.errors import TemporarilyUnavailableError
from ..core.login import LoginFailed, LoginLocked, LoginThrottled
from .forms import local_path, read_form
from .pages import LOGIN_PATH, Browser, Visitor, guarded

LOGIN = "login"
LOGOUT = "logout"
FAILED = "Incorrect username or password."
#: RFC 9110 §15.5.2: a 401 names how to authenticate.  The way is this page's form; no
#: scheme is registered for that, and one no browser knows opens no password dialog.
FORM_CHALLENGE = 'Form realm="mintage"'


def _minutes(seconds: int) -> str:
    if seconds < 90:
        return f"{max(seconds, 1)} seconds"
    return f"{(seconds + 59) // 60} minutes"


async def login_page(
    b: Browser,
    request: Request,
    visitor: Visitor,
    return_to: str,
    *,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    pending: AuthorizationRequest | None = None,
) -> Response:
    """The sign-in form; it names the client when it continues an authorization.

    ``pending`` is that authorization when the caller has validated it already;
    otherwise it is recovered from ``return_to``.
    """
    if pending is None and return_to:
        pending = await b.request_of(request, return_to)
    tokens, fresh = b.tokens(visitor, {LOGIN: b""})
    context = {
        "csrf_token": tokens[LOGIN],
        "return_to": return_to,
        # OpenID Connect Core §3.1.2.1: login_hint pre-fills the username
        "username": username or (pending.login_hint or "" if pending else ""),
        "error": error,
        "client_name": pending.client.name if pending else None,
    }
    # Chromium checks form-action against each redirect after the post: signing in
    # may end at the client's redirect URI when its consent is remembered.
    targets = (pending.redirect_uri,) if pending else ()
    return b.render(
        request,
        "login.html",
        context,
        status,
        new_csrf_cookie=fresh,
        headers=headers,
        form_targets=targets,
    )


def signed_in_page(b: Browser, request: Request, visitor: Visitor) -> Response:
    tokens, fresh = b.tokens(visitor, {LOGOUT: b""})
    assert visitor.user is not None
    context = {"username": visitor.user.username, "logout_token": tokens[LOGOUT]}
    return b.render(request, "signed_in.html", context, new_csrf_cookie=fresh)


@guarded
async def login_get(b: Browser, request: Request) -> Response:
    """Show the form; a signed-in visitor goes on to ``return_to`` (a local path)."""
    visitor = await b.visitor(request)
    return_to = local_path(request.query_params.get("return_to"), "")
    if visitor.session is not None:
        if return_to:
            return b.see_other(return_to)
        return signed_in_page(b, request, visitor)
    return await login_page(b, request, visitor, return_to)


@guarded
async def login_post(b: Browser, request: Request) -> Response:
    """Check the CSRF token, then the password; on success a fresh session, 303 on."""
    form = await read_form(request, b.body_limit, max_value=None)
    b.check_csrf(request, form, LOGIN)  # before anything is looked up or counted
    visitor = await b.visitor(request)
    return_to = local_path(form.get("return_to"), "")
    username = form.get("username", "")
    password = form.get("password", "")
    try:
        if not username or not password:
            raise LoginFailed
        client = request.client
        user = await b.services.login.authenticate(
            username,
            password,
            client_ip=client.host if client else None,
            origin=b.origin(request),
        )
    except (LoginLocked, LoginThrottled) as exc:
        wait = max(exc.retry_after, 1)
        what = "failed sign-ins" if isinstance(exc, LoginLocked) else "sign-in attempts"
        error = f"Too many {what}. Wait {_minutes(wait)}, then try again."
        status, headers = 429, {"retry-after": str(wait)}
    except LoginFailed:
        error, status, headers = FAILED, 401, {"www-authenticate": FORM_CHALLENGE}
    except TemporarilyUnavailableError as exc:  # the password pool is full: 503
        error = f"Too many sign-ins in progress. Wait {_minutes(exc.retry_after)}, then try again."
        status, headers = 503, {"retry-after": str(exc.retry_after)}
    else:
        if visitor.session_cookie:
            await b.services.sessions.end(visitor.session_cookie)
        cookie = await b.services.sessions.create(user.user_id, auth_time=b.server.clock())
        response = b.see_other(return_to or b.base(request) + LOGIN_PATH)
        b.cookies.set(response, b.cookies.session_name, cookie)
        return response
    return await login_page(
        b,
        request,
        visitor,
        return_to,
        username=username,
        error=error,
        status=status,
        headers=headers,
    )


@guarded
async def logout_post(b: Browser, request: Request) -> Response:
    """End the server-side session and clear the cookie; 303 to a local page."""
    form = await read_form(request, b.body_limit, max_value=None)
    b.check_csrf(request, form, LOGOUT)
    cookie = b.cookies.session(request)
    if cookie:
        await b.services.sessions.end(cookie)
    response = b.see_other(local_path(form.get("return_to"), b.base(request) + LOGIN_PATH))
    b.cookies.clear(response, b.cookies.session_name)
    return response
