"""``GET/POST /oauth/logout``: RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0).

A relying party sends the browser here to end the user's session at Mintage.  A request
whose ``id_token_hint`` names the signed-in user ends the session at once; any other
asks the user first (§2: "the OP SHOULD ask the End-User whether to log out"), because
a plain link would otherwise let any site sign people out.  Then the browser returns to
the client's registered ``post_logout_redirect_uri`` with ``state`` (§3), or sees a
"signed out" page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..core.endpoints.authorize import with_params
from ..core.errors import InvalidRequestError
from ..core.oidc.logout import LogoutRequest
from .csrf import FIELD, canonical
from .forms import query_fields, read_form
from .pages import Browser, guarded

CONFIRM = "end_session"
DECISION = "decision"


@guarded
async def end_session(b: Browser, request: Request) -> Response:
    if request.method == "POST":
        form = await read_form(request, b.body_limit)
    else:
        form = query_fields(request)
    params = {k: v for k, v in form.items() if k not in (FIELD, DECISION)}
    try:
        pending = await b.services.end_session.validate(params)
    except InvalidRequestError as exc:
        return b.error(request, 400, "This sign-out link is not valid", f"{exc.description}.")
    visitor = await b.visitor(request)
    if DECISION in form:  # the user answered our question
        b.check_csrf(request, form, CONFIRM, canonical(params.items()))
        if form[DECISION] == "logout":
            return await _signed_out(b, request, pending)
        return _finish(b, request, pending, stayed=True)
    if visitor.session is None or visitor.user is None:
        return _finish(b, request, pending)
    if pending.subject is not None and pending.subject == visitor.user.user_id:
        return await _signed_out(b, request, pending)
    tokens, fresh = b.tokens(visitor, {CONFIRM: canonical(params.items())})
    context = {
        "client_name": pending.client.name if pending.client else None,
        "username": visitor.user.username,
        "params": sorted(params.items()),
        "csrf_token": tokens[CONFIRM],
    }
    targets = (pending.redirect_uri,) if pending.redirect_uri else ()
    return b.render(request, "logout.html", context, new_csrf_cookie=fresh, form_targets=targets)


async def _signed_out(b: Browser, request: Request, pending: LogoutRequest) -> Response:
    cookie = b.cookies.session(request)
    if cookie:
        await b.services.sessions.end(cookie)
    response = _finish(b, request, pending)
    b.cookies.clear(response, b.cookies.session_name)
    return response


def _finish(
    b: Browser, request: Request, pending: LogoutRequest, *, stayed: bool = False
) -> Response:
    if pending.redirect_uri is not None:
        return b.see_other(with_params(pending.redirect_uri, {"state": pending.state}))
    return b.render(request, "signed_out.html", {"stayed": stayed})
