"""Neutral request and response values: the engine's only view of HTTP.

The web adapter (``mintage.web``) builds an :class:`OAuthRequest` from the ASGI scope and
turns an :class:`OAuthResponse` back into bytes, so core never imports a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import InvalidClientError, OAuthError

# RFC 6749 §5.1: token responses "MUST include ... Cache-Control: no-store".
NO_STORE: tuple[tuple[str, str], ...] = (
    ("content-type", "application/json"),
    ("cache-control", "no-store"),
    ("pragma", "no-cache"),
)


@dataclass(frozen=True, slots=True)
class OAuthRequest:
    """An HTTP request reduced to what the protocol needs.

    ``headers`` keys are lower-case; ``query`` keeps repeated names as lists so
    duplicates can be rejected (RFC 6749 §3.1, §3.2).
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    client_ip: str | None = None
    #: correlates logs and audit events of one request (set by the web adapter)
    request_id: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = NO_STORE
    #: the RFC error code of an error answer (RFC 6749 §5.2), for metrics and logs
    error: str | None = None


def json_response(
    payload: Mapping[str, Any],
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = NO_STORE,
) -> OAuthResponse:
    return OAuthResponse(status, orjson.dumps(payload), headers)


#: The challenge of a failed client authentication (RFC 6749 §5.2, RFC 7617 §2).
CLIENT_CHALLENGE = 'Basic realm="mintage", charset="UTF-8"'


def error_response(exc: OAuthError) -> OAuthResponse:
    """RFC 6749 §5.2 error body.

    RFC 9110 §15.5.2: every 401 carries a challenge.  ``invalid_client`` gets the Basic
    one whichever way the client tried (Basic, the body, nothing at all): Basic is the
    method every client must be able to use (RFC 6749 §2.3.1).  The bearer endpoints add
    theirs (RFC 6750 §3; ``AuthorizationServer.handle_resource``).
    """
    headers = list(NO_STORE)
    if isinstance(exc, InvalidClientError):
        headers.append(("www-authenticate", CLIENT_CHALLENGE))
    headers.extend((k.lower(), v) for k, v in exc.headers.items())
    return OAuthResponse(exc.status_code, orjson.dumps(exc.body()), tuple(headers), exc.error)
