"""Authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.1.2; RFC 7636; RFC 9207; OAuth 2.1).

The engine half of ``/oauth/authorize``: :meth:`AuthorizeEndpoint.validate` checks a
request, :meth:`AuthorizeEndpoint.approve` issues a code once the user has signed in and
consented, :meth:`AuthorizeEndpoint.deny` answers ``access_denied``.  The pages
(sign-in, consent, error) belong to ``mintage.web``.

Errors come in two kinds (RFC 6749 §4.1.2.1):

* :class:`NonRedirectableError`: the client or its redirect URI could not be trusted.
  The user sees it on Mintage's own page; redirecting would make the server an open
  redirector (RFC 9700 §4.11.2).
* :class:`RedirectError`: anything found after the redirect URI was verified goes back
  to the client, with ``state`` and ``iss`` (RFC 9207 §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..clock import Clock
from ..credentials import AUTHORIZATION_CODE_PREFIX, mint, new_id, token_digest
from ..errors import (
    AccessDeniedError,
    InvalidRequestError,
    OAuthError,
    RegistrationNotSupportedError,
    RequestNotSupportedError,
    RequestUriNotSupportedError,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from ..http import OAuthRequest
from ..models import AuthorizationCode, Client
from ..params import parse_form, query_params
from ..pkce import check_challenge
from ..redirect_uri import check_redirect_uri_scheme, match_redirect_uri
from ..scope import format_scope, granted_scope
from ..storage import AuthorizationCodeStore, ClientStore

GRANT_TYPE = "authorization_code"
RESPONSE_TYPE = "code"
#: RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is
#: RECOMMENDED"; a browser redirect takes seconds, so a minute is plenty.
CODE_LIFETIME = 60


class NonRedirectableError(OAuthError):
    """An error shown on Mintage's own page, never redirected (RFC 6749 §4.1.2.1).

    Raised when ``client_id`` is missing or unknown, or ``redirect_uri`` is missing,
    malformed or not registered, and for malformed (repeated) parameters.
    """

    error = "invalid_request"


class RedirectError(Exception):
    """An error to send back to the client by redirecting the browser to ``location``.

    ``location`` already carries ``error``, ``error_description``, ``state`` and
    ``iss`` (RFC 6749 §4.1.2.1, RFC 9207 §2); ``error`` is the underlying OAuth error.
    """

    def __init__(self, location: str, error: OAuthError) -> None:
        super().__init__(error.error)
        self.location = location
        self.error = error


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).

    ``redirect_uri`` is the URI the response goes to; ``params`` are the request's
    original parameters, for the sign-in and consent forms to submit again.
    """

    client: Client
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    params: dict[str, str]
    #: OpenID Connect Core §3.1.2.1 ``prompt`` values (``none``, ``login``, ``consent``)
    prompt: frozenset[str] = frozenset()
    #: Core §3.1.2.1 ``max_age``: the longest acceptable age of the sign-in, in seconds
    max_age: int | None = None
    #: Core §3.1.2.1 ``login_hint``: pre-fills the sign-in form
    login_hint: str | None = None

    @property
    def login_demanded(self) -> bool:
        """Does the request ask for a new sign-in even with a session?

        ``prompt=login``, or ``max_age=0``: Core §3.1.2.1 says "max_age=0 is equivalent
        to prompt=login".
        """
        return "login" in self.prompt or self.max_age == 0

    def sign_in_too_old(self, auth_time: int, now: int, asked_at: int | None = None) -> bool:
        """Must the user sign in again before this request is answered?

        A request that demands a new sign-in (:attr:`login_demanded`) is met only by a
        sign-in at or after ``asked_at``, the moment it asked for one (``None``: it has
        not asked yet).  ``max_age`` (Core §3.1.2.1) bounds the age of the sign-in at
        every step, the consent form's answer included; ``max_age=0`` is met by the
        demanded sign-in, as no step could follow a sign-in within zero seconds.
        """
        if self.login_demanded and (asked_at is None or auth_time < asked_at):
            return True
        if not self.max_age:  # none asked, or 0: met by the demanded sign-in
            return False
        return now - auth_time > self.max_age

    @property
    def redirect_uri_given(self) -> bool:
        """Did the request carry ``redirect_uri`` (RFC 6749 §4.1.3 binds it then)?"""
        return bool(self.params.get("redirect_uri"))


def authorization_params(request: OAuthRequest) -> dict[str, str]:
    """The parameters of a GET (query) or POST (form) authorization request.

    RFC 6749 §3.1: the endpoint supports GET and may support POST; a parameter "MUST
    NOT be included more than once".  A repeated or unparsable parameter is
    :class:`NonRedirectableError`: with a repeated ``client_id`` or ``redirect_uri``
    there is nothing trustworthy to redirect to.
    """
    try:
        if request.method == "POST":
            return parse_form(request.body)
        return query_params(request.query)
    except InvalidRequestError as exc:
        raise NonRedirectableError(exc.description) from None


def with_params(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query, keeping the query it had (§3.1.2)."""
    parts = urlsplit(uri)
    added = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


class AuthorizeEndpoint:
    """Validates authorization requests and issues authorization codes."""

    def __init__(
        self,
        clients: ClientStore,
        codes: AuthorizationCodeStore,
        clock: Clock,
        *,
        issuer: str,
        allow_plain_pkce: bool = False,
    ) -> None:
        self._clients = clients
        self._codes = codes
        self._clock = clock
        self._issuer = issuer
        self._allow_plain = allow_plain_pkce

    async def validate(self, params: dict[str, str]) -> AuthorizationRequest:
        """Check an authorization request; raises NonRedirectableError or RedirectError."""
        original = dict(params)
        # RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they
        # were omitted from the request."
        given = {k: v for k, v in params.items() if v != ""}
        client_id = given.get("client_id")
        if client_id is None:
            raise NonRedirectableError("missing parameter client_id")
        client = await self._clients.get_client(client_id)
        if client is None:
            raise NonRedirectableError("unknown client_id")
        redirect_uri = match_redirect_uri(given.get("redirect_uri"), client.redirect_uris)
        if redirect_uri is None:
            if "redirect_uri" not in given:
                raise NonRedirectableError("missing parameter redirect_uri")
            raise NonRedirectableError("redirect_uri is not registered for this client")
        try:
            # Registration refuses these schemes; a client stored before it did, or by a
            # store of one's own, must not get a code handed to script (RFC 6749 §10.14).
            check_redirect_uri_scheme(redirect_uri)
        except ValueError:
            raise NonRedirectableError(
                "the registered redirect_uri is never a redirect target; register another"
            ) from None
        state = given.get("state")
        # From here on, errors go back to the client.
        try:
            response_type = given.get("response_type")
            if response_type is None:
                raise InvalidRequestError("missing parameter response_type")
            if response_type != RESPONSE_TYPE:
                raise UnsupportedResponseTypeError("response_type must be code")
            if GRANT_TYPE not in client.grant_types:
                raise UnauthorizedClientError("this client may not use the authorization code")
            # Public clients always need PKCE; confidential ones unless relaxed.
            challenge, method = check_challenge(
                given.get("code_challenge"),
                given.get("code_challenge_method"),
                required=client.is_public or client.require_pkce,
                allow_plain=self._allow_plain,
            )
            scopes = granted_scope(given.get("scope"), client.scopes)
            prompt, max_age = _oidc_params(given)
        except OAuthError as exc:
            raise self._redirect_error(redirect_uri, exc, state) from None
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_challenge=challenge,
            code_challenge_method=method,
            nonce=given.get("nonce"),
            params=original,
            prompt=prompt,
            max_age=max_age,
            login_hint=given.get("login_hint"),
        )

    async def approve(self, request: AuthorizationRequest, user_id: str, auth_time: int) -> str:
        """Store a new code for the signed-in, consenting user; the redirect to the client.

        RFC 6749 §4.1.2: the code is single use, short-lived and bound to the client,
        the redirect URI and the PKCE challenge (RFC 7636 §4.4).  Only its digest is
        stored.
        """
        code = mint(AUTHORIZATION_CODE_PREFIX)
        now = self._clock()
        await self._codes.save_code(
            AuthorizationCode(
                digest=token_digest(code),
                client_id=request.client.client_id,
                # "" records that the request omitted redirect_uri: the token request
                # then need not send it (RFC 6749 §4.1.3).
                redirect_uri=request.redirect_uri if request.redirect_uri_given else "",
                scope=format_scope(request.scopes),
                subject=user_id,
                issued_at=now,
                expires_at=now + CODE_LIFETIME,
                family_id=new_id(),
                auth_time=auth_time,
                code_challenge=request.code_challenge,
                code_challenge_method=request.code_challenge_method,
                nonce=request.nonce,
            )
        )
        return with_params(
            request.redirect_uri, {"code": code, "state": request.state, "iss": self._issuer}
        )

    def refuse(self, request: AuthorizationRequest, error: OAuthError) -> str:
        """The redirect carrying ``error`` to the client (``login_required``...)."""
        return self._redirect_error(request.redirect_uri, error, request.state).location

    def deny(self, request: AuthorizationRequest) -> str:
        """The ``access_denied`` redirect for a user who declined (RFC 6749 §4.1.2.1)."""
        error = AccessDeniedError("the user denied the request")
        return self._redirect_error(request.redirect_uri, error, request.state).location

    def _redirect_error(
        self, redirect_uri: str, exc: OAuthError, state: str | None
    ) -> RedirectError:
        location = with_params(
            redirect_uri,
            {
                "error": exc.error,
                "error_description": exc.description,
                "state": state,
                "iss": self._issuer,  # RFC 9207 §2: error responses carry iss too
            },
        )
        return RedirectError(location, exc)


#: Core §3.1.2.1 prompt values; ``select_account`` is accepted and needs nothing here, as
#: a browser holds one session at a time.
_PROMPTS = frozenset({"none", "login", "consent", "select_account"})


def _oidc_params(given: Mapping[str, str]) -> tuple[frozenset[str], int | None]:
    """Check ``prompt``, ``max_age`` and ``redirect_uri`` (Core §3.1.2.1) and refuse
    request objects (§6)."""
    if "request" in given:
        raise RequestNotSupportedError("request objects are not supported")
    if "request_uri" in given:
        raise RequestUriNotSupportedError("request_uri is not supported")
    if "registration" in given:
        raise RegistrationNotSupportedError("the registration parameter is not supported")
    # OAuth 2.0 Multiple Response Types §2.1: the response goes in the query, the only
    # mode offered (response_modes_supported); a client asking for another one would
    # look for the code where it is not.
    if given.get("response_mode", "query") != "query":
        raise InvalidRequestError("response_mode must be query")
    # Core §3.1.2.1: redirect_uri is REQUIRED in an OpenID Connect request, even where
    # RFC 6749 §3.1.2.3 lets a client with one registered URI omit it.  The error goes
    # to that one registered URI, which is safe to redirect to.
    if "openid" in given.get("scope", "").split() and "redirect_uri" not in given:
        raise InvalidRequestError("redirect_uri is required with the openid scope")
    prompt = frozenset(given.get("prompt", "").split())
    unknown = prompt - _PROMPTS
    if unknown:
        raise InvalidRequestError(f"unsupported prompt value {sorted(unknown)[0]}")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values")
    max_age = None
    raw = given.get("max_age")
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
            raise InvalidRequestError("max_age must be a non-negative number of seconds")
        max_age = int(raw)
    return prompt, max_age
