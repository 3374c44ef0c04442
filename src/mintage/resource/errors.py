"""RFC 6750 §3 errors for resource servers, and how they are answered.

The verifiers raise the error classes of :mod:`mintage.core.errors`:

* :class:`~mintage.core.errors.InvalidTokenError` (401): expired, revoked, malformed,
  signed by an unknown key, meant for another audience (§3.1 ``invalid_token``);
* :class:`~mintage.core.errors.InvalidRequestError` (400): the request carries the token
  the wrong way (§3.1 ``invalid_request``);
* :class:`InsufficientScopeError` (403), which also carries the scope the resource
  requires, for the challenge's ``scope`` attribute (§3);
* :class:`~mintage.core.bearer.MissingTokenError` (401 with no error code, §3.1): no
  bearer token, or another scheme such as ``Basic``;
* :class:`~mintage.core.errors.TemporarilyUnavailableError` (503): the authorization
  server cannot be reached.  Never ``invalid_token`` for an outage: clients would throw
  away tokens that are still good (docs/architecture.md §2);
* :class:`~mintage.core.errors.ServerError` (500): the resource server is misconfigured
  (its introspection credentials are refused, the issuer's metadata names another
  issuer).  The detail goes to the ``mintage.resource`` log, not to the client.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from mintage.core.bearer import MissingTokenError
from mintage.core.bearer import challenge as _challenge
from mintage.core.errors import (
    InsufficientScopeError as _CoreInsufficientScopeError,
)
from mintage.core.errors import (
    InvalidRequestError,
    InvalidTokenError,
    OAuthError,
    ServerError,
    TemporarilyUnavailableError,
    safe_description,
)

__all__ = [
    "InsufficientScopeError",
    "InvalidRequestError",
    "InvalidTokenError",
    "MissingTokenError",
    "OAuthError",
    "ServerError",
    "TemporarilyUnavailableError",
    "challenge",
    "error_body",
    "error_headers",
]


class InsufficientScopeError(_CoreInsufficientScopeError):
    """RFC 6750 §3.1 ``insufficient_scope`` (403); ``required`` feeds the §3 ``scope``."""

    def __init__(self, required: Iterable[str], description: str | None = None) -> None:
        self.required = tuple(required)
        super().__init__(description or "the access token lacks the required scope")


def challenge(realm: str, exc: OAuthError) -> str:
    """The ``WWW-Authenticate: Bearer`` value for an error (RFC 6750 §3), with the scope
    an :class:`InsufficientScopeError` requires.

    ``realm`` must already be safe (see :func:`safe_realm`).
    """
    required = exc.required if isinstance(exc, InsufficientScopeError) else ()
    return _challenge(realm, exc, " ".join(required) or None)


def safe_realm(realm: str) -> str:
    """A realm that cannot break out of its quoted string (RFC 7235 §2.2)."""
    return safe_description(realm)


def error_headers(exc: OAuthError, realm: str) -> dict[str, str]:
    """Headers for an error response: the Bearer challenge on 400/401/403 (§3), the
    error's own headers (``Retry-After`` on 503), and ``Cache-Control: no-store``."""
    headers = {"cache-control": "no-store", **{k.lower(): v for k, v in exc.headers.items()}}
    if exc.status_code in (400, 401, 403):
        headers["www-authenticate"] = challenge(realm, exc)
    return headers


def error_body(exc: OAuthError) -> bytes:
    """The JSON body: ``{"error": ..., "error_description": ...}`` (empty for §3.1's
    missing token)."""
    return json.dumps(exc.body(), separators=(",", ":")).encode()


def raise_unless_scopes(granted: Iterable[str], required: Iterable[str]) -> None:
    """Raise :class:`InsufficientScopeError` unless every required scope is granted."""
    needed = tuple(required)
    have = set(granted)
    if any(s not in have for s in needed):
        raise InsufficientScopeError(needed)
