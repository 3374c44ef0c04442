"""OAuth error types: one class per registered error code.

RFC 6749 §5.2 (token endpoint), §4.1.2.1 (authorization endpoint), RFC 6750 §3.1 (bearer
token use), RFC 7009 §2.2.1 (revocation).  Each class carries the HTTP status it answers
with, so the web adapter never has to guess.
"""

from __future__ import annotations

import re
from typing import ClassVar

# RFC 6749 §5.2: error and error_description use %x20-21 / %x23-5B / %x5D-7E only
# (printable ASCII without '"' and '\\').
_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def safe_description(text: str) -> str:
    """Map a description into the character set RFC 6749 §5.2 allows."""
    return _UNSAFE.sub("?", text)


class OAuthError(Exception):
    """Base class.  ``error`` is the registered code, ``status_code`` the HTTP status."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(description or self.error)
        self.description = safe_description(description) if description else None
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


class InvalidRequestError(OAuthError):
    """RFC 6749 §5.2 ``invalid_request``: missing, repeated or malformed parameter."""

    error = "invalid_request"


class InvalidClientError(OAuthError):
    """RFC 6749 §5.2 ``invalid_client``: client authentication failed.

    401 with a ``WWW-Authenticate: Basic`` challenge whichever method the client tried
    (RFC 9110 §15.5.2: every 401 carries one; :func:`mintage.core.http.error_response`).
    """

    error = "invalid_client"
    status_code = 401


class InvalidGrantError(OAuthError):
    """RFC 6749 §5.2 ``invalid_grant``: the grant or refresh token is invalid."""

    error = "invalid_grant"


class UnauthorizedClientError(OAuthError):
    """RFC 6749 §5.2 ``unauthorized_client``: this client may not use this grant type."""

    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    """RFC 6749 §5.2 ``unsupported_grant_type``."""

    error = "unsupported_grant_type"


class InvalidScopeError(OAuthError):
    """RFC 6749 §5.2 ``invalid_scope``."""

    error = "invalid_scope"


class UnsupportedTokenTypeError(OAuthError):
    """RFC 7009 §2.2.1 ``unsupported_token_type``."""

    error = "unsupported_token_type"


class InvalidTokenError(OAuthError):
    """RFC 6750 §3.1 ``invalid_token``: expired, revoked, malformed or unknown."""

    error = "invalid_token"
    status_code = 401


class InsufficientScopeError(OAuthError):
    """RFC 6750 §3.1 ``insufficient_scope``."""

    error = "insufficient_scope"
    status_code = 403


class AccessDeniedError(OAuthError):
    """RFC 6749 §4.1.2.1 ``access_denied``."""

    error = "access_denied"
    status_code = 403


class UnsupportedResponseTypeError(OAuthError):
    """RFC 6749 §4.1.2.1 ``unsupported_response_type``: only ``code`` is served."""

    error = "unsupported_response_type"


class LoginRequiredError(OAuthError):
    """OpenID Connect Core §3.1.2.6 ``login_required``: ``prompt=none`` and nobody is
    signed in (or the sign-in is older than ``max_age``)."""

    error = "login_required"


class ConsentRequiredError(OAuthError):
    """OpenID Connect Core §3.1.2.6 ``consent_required``: ``prompt=none`` and the user
    has not approved these scopes for this client."""

    error = "consent_required"


class RequestNotSupportedError(OAuthError):
    """OpenID Connect Core §3.1.2.6 ``request_not_supported`` (§6 request objects)."""

    error = "request_not_supported"


class RequestUriNotSupportedError(OAuthError):
    """OpenID Connect Core §3.1.2.6 ``request_uri_not_supported``."""

    error = "request_uri_not_supported"


class RegistrationNotSupportedError(OAuthError):
    """OpenID Connect Core §3.1.2.6 ``registration_not_supported`` (the ``registration``
    parameter of Core §7.2.1)."""

    error = "registration_not_supported"


class RequestTooLargeError(OAuthError):
    """The request body exceeds the configured limit (HTTP 413)."""

    error = "invalid_request"
    status_code = 413


class ServerError(OAuthError):
    """RFC 6749 §5.2 ``server_error``: details go to the log, never to the client."""

    error = "server_error"
    status_code = 500


class TemporarilyUnavailableError(OAuthError):
    """``temporarily_unavailable`` (503): storage is down; clients should retry.

    Never answer ``invalid_grant`` or ``invalid_token`` for an outage: clients would throw
    away credentials that are still good.
    """

    error = "temporarily_unavailable"
    status_code = 503

    def __init__(self, description: str | None = None, *, retry_after: int = 5):
        super().__init__(description, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class StorageUnavailableError(Exception):
    """Raised by a store when its backend cannot be reached; maps to a 503."""


class StoreConfigurationError(ValueError):
    """The stores given to the server do not serve a feature it has on (raised at
    start-up by :func:`mintage.core.stores.check_stores`; docs/storage.md)."""


class TooManyRequestsError(TemporarilyUnavailableError):
    """``temporarily_unavailable`` with 429 (RFC 6585 §4): a rate limit was reached.

    RFC 6749 §5.2 registers no code for throttling; ``temporarily_unavailable`` is its
    code for "cannot handle the request ... due to a temporary overloading", and tells
    the client to retry, after ``Retry-After`` seconds, with the same credentials.
    """

    status_code = 429
