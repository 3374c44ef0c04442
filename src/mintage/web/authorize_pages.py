"""``GET/POST /oauth/authorize`` and ``POST /oauth/authorize/decision``.

The authorization endpoint (RFC 6749 §3.1, §4.1.1) with its sign-in and consent steps.

How the request travels through sign-in and consent: nothing is kept on the server
between the steps.  The original parameters ride along, as the ``return_to`` path of
the sign-in form and as hidden fields of the consent form, and **every step validates
them again** with the engine (client, exact redirect URI, PKCE, scope).  Editing them
therefore gains nothing that crafting a new authorization URL would not, and a worker
that never saw the first step can serve the next.  The consent form's CSRF token is an
HMAC over those exact parameters (and the browser's cookies), so a decision applies
only to the request that was shown, in the browser it was shown in.

What each step needs (sign-in, consent, a code, an error for the client) is the
engine's decision (``core/authorize_decision.py``); this module only renders it.

A request that demands a new sign-in (``prompt=login``, ``max_age=0``) never ends the
session it finds: it carries the moment it asked (:mod:`.sign_in_demand`) and waits for
a sign-in at or after it, which replaces the session (``login_pages``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ..core.authorize_decision import ConsentRequired, Decision, SignedIn, SignInRequired
from ..core.endpoints.authorize import (
    AuthorizationRequest,
    NonRedirectableError,
    RedirectError,
)
from .csrf import FIELD, canonical
from .forms import BadForm, query_fields, read_form
from .login_pages import LOGOUT, login_page
from .pages import Browser, Visitor, guarded

CONSENT = "consent"
DECISION = "decision"
#: form fields of ours that an authorization request cannot use as parameter names
RESERVED = frozenset({FIELD, DECISION})


def carried(params: dict[str, str]) -> dict[str, str]:
    """The parameters the consent form carries: ours never collide with the client's."""
    return {k: v for k, v in params.items() if k not in RESERVED}


@guarded
async def authorize(b: Browser, request: Request) -> Response:
    """Validate; then sign in, ask for consent, or answer the client at once."""
    try:
        if request.method == "POST":
            params = await read_form(request, b.body_limit)
        else:
            params = query_fields(request)
    except BadForm as exc:  # a repeated client_id / redirect_uri: nowhere safe to go
        return b.error(request, 400, "This sign-in link is not valid", str(exc))
    return await _proceed(b, request, carried(params))


async def _proceed(b: Browser, request: Request, params: dict[str, str]) -> Response:
    try:
        pending = await b.services.authorize.validate(params)
    except NonRedirectableError as exc:
        return b.request_error(request, exc)
    except RedirectError as exc:
        return b.see_other(exc.location)
    visitor = await b.visitor(request)
    decision = await b.services.decider.decide(
        pending, _signed_in(visitor), b.demand.moment(pending.params)
    )
    return await _render(b, request, visitor, pending, params, decision)


def _signed_in(visitor: Visitor) -> SignedIn | None:
    session, user = visitor.session, visitor.user
    if session is None or user is None:
        return None
    return SignedIn(user.user_id, session.auth_time)


async def _render(
    b: Browser,
    request: Request,
    visitor: Visitor,
    pending: AuthorizationRequest,
    params: dict[str, str],
    decision: Decision,
) -> Response:
    """The page or redirect for the engine's decision (core/authorize_decision.py)."""
    if isinstance(decision, SignInRequired):
        return await _sign_in(b, request, visitor, pending, stamp=decision.stamp)
    if isinstance(decision, ConsentRequired):
        return consent_page(b, request, visitor, pending, params)
    return b.see_other(decision.location)  # IssueCode, ErrorRedirect


async def _sign_in(
    b: Browser,
    request: Request,
    visitor: Visitor,
    pending: AuthorizationRequest,
    *,
    stamp: bool,
) -> Response:
    """The sign-in page, going on with ``pending`` once the user has signed in.

    A session the visitor has stays: a link from another site must not be able to sign
    anyone out.  A request demanding a new sign-in carries the moment it asked for it
    (``stamp``: from now), so going on without signing in leads back here; ``max_age``
    needs nothing more, as the request still carries it.
    """
    params = pending.params
    if stamp:
        params = b.demand.stamp(params, b.server.clock())
    return_to = b.authorize_url(request, params)
    return await login_page(b, request, visitor, return_to, pending=pending)


def consent_page(
    b: Browser,
    request: Request,
    visitor: Visitor,
    pending: AuthorizationRequest,
    params: dict[str, str],
) -> Response:
    """Who asks, for what, and where the answer goes; Allow or Deny."""
    assert visitor.user is not None
    tokens, fresh = b.tokens(visitor, {CONSENT: canonical(params.items()), LOGOUT: b""})
    context = {
        "client_name": pending.client.name,
        "username": visitor.user.username,
        "scopes": pending.scopes,
        # the host people recognise; ports and paths mean little to them
        "redirect_host": urlsplit(pending.redirect_uri).hostname or pending.redirect_uri,
        "params": sorted(params.items()),
        "csrf_token": tokens[CONSENT],
        "logout_token": tokens[LOGOUT],
        "return_to": b.authorize_url(request, params),
    }
    return b.render(
        request,
        "consent.html",
        context,
        new_csrf_cookie=fresh,
        form_targets=(pending.redirect_uri,),
    )


@guarded
async def decision(b: Browser, request: Request) -> Response:
    """Approve (remember the consent, issue a code) or deny (``access_denied``)."""
    form = await read_form(request, b.body_limit)
    params = carried(form)
    b.check_csrf(request, form, CONSENT, canonical(params.items()))
    choice = form.get(DECISION)
    if choice not in ("approve", "deny"):
        return b.error(request, 400, "This request is not valid", "Choose Allow or Deny.")
    try:
        pending = await b.services.authorize.validate(params)
    except NonRedirectableError as exc:
        return b.request_error(request, exc)
    except RedirectError as exc:
        return b.see_other(exc.location)
    visitor = await b.visitor(request)
    answer = await b.services.decider.answer(
        pending, _signed_in(visitor), b.demand.moment(pending.params), approved=choice == "approve"
    )
    return await _render(b, request, visitor, pending, params, answer)
