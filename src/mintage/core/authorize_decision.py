"""The authorization decision: what a validated authorization request needs next.

RFC 6749 §4.1.1: the server "authenticates the resource owner and obtains an
authorization decision".  Which of that to do is decided here, once, so that any page
that renders it (Mintage's own in ``mintage.web``, or a custom UI) cannot get it wrong:

* :class:`SignInRequired`: no session, or one older than the request accepts (OpenID
  Connect Core §3.1.2.1 ``prompt=login``, ``max_age``);
* :class:`ConsentRequired`: ``prompt=consent``, a client whose identity cannot be
  proven (RFC 8252 §8.6, :func:`~.consent.remembered_consent_applies`), or scopes
  beyond those approved before;
* :class:`IssueCode`: the code is issued; send the browser to ``location``;
* :class:`ErrorRedirect`: ``prompt=none`` that would need a page (Core §3.1.2.6
  ``login_required``, ``consent_required``), or the user's denial (RFC 6749 §4.1.2.1
  ``access_denied``); send the browser to ``location``.

A request demanding a new sign-in (``prompt=login``, ``max_age=0``) is met only by a
sign-in at or after the moment it asked (``asked_at``): the page carries that moment
with the request (``web/sign_in_demand.py`` stamps it tamper-proof), and
:attr:`SignInRequired.stamp` says when to start carrying it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .clock import Clock
from .consent import ConsentService, remembered_consent_applies
from .endpoints.authorize import AuthorizationRequest, AuthorizeEndpoint
from .errors import AccessDeniedError, ConsentRequiredError, LoginRequiredError, OAuthError


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is signed in at the browser, and when they signed in (``auth_time``)."""

    user_id: str
    auth_time: int


@dataclass(frozen=True, slots=True)
class SignInRequired:
    """Show the sign-in page, then decide again.

    ``reason``: ``no_session``, ``login_demanded`` (``prompt=login``/``max_age=0``) or
    ``max_age`` (the sign-in is older).  ``stamp``: the request demands a new sign-in
    and does not carry the moment it asked yet: stamp it with now.
    """

    reason: Literal["no_session", "login_demanded", "max_age"]
    stamp: bool = False


@dataclass(frozen=True, slots=True)
class ConsentRequired:
    """Ask the user to approve ``scopes`` for the request's client.

    ``reason``: ``prompt`` (``prompt=consent``), ``unproven_client`` (RFC 8252 §8.6: a
    public native client is asked every time), ``new_scopes`` (the remembered consent
    lacks some) or ``none_remembered``.  ``remembered``: the scopes approved before, which
    stand for nothing with ``unproven_client``.
    """

    scopes: tuple[str, ...]
    reason: Literal["prompt", "unproven_client", "new_scopes", "none_remembered"]
    remembered: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IssueCode:
    """The code was issued; the redirect to the client carrying it (RFC 6749 §4.1.2)."""

    location: str


@dataclass(frozen=True, slots=True)
class ErrorRedirect:
    """The redirect to the client carrying ``error`` (RFC 6749 §4.1.2.1, RFC 9207)."""

    location: str
    error: OAuthError


Decision = SignInRequired | ConsentRequired | IssueCode | ErrorRedirect


class AuthorizationDecider:
    """Decides each step of a validated authorization request; issues the code."""

    def __init__(self, authorize: AuthorizeEndpoint, consent: ConsentService, clock: Clock):
        self._authorize = authorize
        self._consent = consent
        self._clock = clock

    def _sign_in(
        self, request: AuthorizationRequest, signed_in: SignedIn | None, asked_at: int | None
    ) -> SignInRequired | None:
        """Sign-in needed first?  (Core §3.1.2.1 ``prompt=login``, ``max_age``.)"""
        stamp = request.login_demanded and asked_at is None
        if signed_in is None:
            return SignInRequired("no_session", stamp)
        if not request.sign_in_too_old(signed_in.auth_time, self._clock(), asked_at):
            return None
        demanded = request.login_demanded and (asked_at is None or signed_in.auth_time < asked_at)
        return SignInRequired("login_demanded" if demanded else "max_age", stamp)

    async def decide(
        self, request: AuthorizationRequest, signed_in: SignedIn | None, asked_at: int | None
    ) -> Decision:
        """The next step for ``request`` with this browser's sign-in (``None``: none).

        ``asked_at``: the moment the request asked for a new sign-in, as carried with
        it (``None``: not yet).  Core §3.1.2.3: ``prompt=none`` never shows a page.
        """
        silent = "none" in request.prompt
        needed = self._sign_in(request, signed_in, asked_at)
        if needed is not None:
            if silent:
                return self._refuse(request, LoginRequiredError("sign-in required"))
            return needed
        assert signed_in is not None
        client = request.client
        consent = await self._consent.get(signed_in.user_id, client.client_id)
        remembered = consent.scopes if consent is not None else ()
        reason: Literal["prompt", "unproven_client", "new_scopes", "none_remembered"] | None
        if "consent" in request.prompt:
            reason = "prompt"
        elif not remembered_consent_applies(client, request.redirect_uri):
            reason = "unproven_client"
        elif consent is None:
            reason = "none_remembered"
        elif not set(request.scopes) <= set(remembered):
            reason = "new_scopes"
        else:
            reason = None
        if reason is not None:
            if silent:
                return self._refuse(request, ConsentRequiredError("consent needed"))
            return ConsentRequired(request.scopes, reason, remembered)
        return await self._issue(request, signed_in)

    async def answer(
        self,
        request: AuthorizationRequest,
        signed_in: SignedIn | None,
        asked_at: int | None,
        *,
        approved: bool,
    ) -> Decision:
        """The user's answer on the consent page: deny (``access_denied``), or remember
        the consent and issue the code.  A sign-in that ended, or grew older than
        ``max_age`` while the page stayed open (Core §3.1.2.1), asks for a new one."""
        if signed_in is None:
            return SignInRequired("no_session", request.login_demanded and asked_at is None)
        if not approved:
            return self._refuse(request, AccessDeniedError("the user denied the request"))
        needed = self._sign_in(request, signed_in, asked_at)
        if needed is not None:
            return needed
        await self._consent.remember(signed_in.user_id, request.client.client_id, request.scopes)
        return await self._issue(request, signed_in)

    async def _issue(self, request: AuthorizationRequest, signed_in: SignedIn) -> IssueCode:
        return IssueCode(
            await self._authorize.approve(request, signed_in.user_id, signed_in.auth_time)
        )

    def _refuse(self, request: AuthorizationRequest, error: OAuthError) -> ErrorRedirect:
        return ErrorRedirect(self._authorize.refuse(request, error), error)
