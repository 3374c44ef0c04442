"""The HTTP calls a resource server makes to its authorization server.

One rule for every call (metadata, JWKS, introspection): an answer the kit cannot use
because the authorization server is down, overloaded or unreachable becomes a 503
``temporarily_unavailable``, never a verdict on the token (docs/architecture.md §2).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from .errors import ServerError, TemporarilyUnavailableError

log = logging.getLogger("mintage.resource")

#: Seconds for connecting, reading and writing: a resource server answers its own clients
#: and should not hang on an authorization server that does not answer.
DEFAULT_TIMEOUT = 5.0
_DEFAULT_RETRY_AFTER = 5


def new_client(
    transport: httpx.AsyncBaseTransport | None = None, timeout: float = DEFAULT_TIMEOUT
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        # RFC 8414 §3 and RFC 7662 name exact URLs; following a redirect would also
        # resend the introspection credentials somewhere else.
        follow_redirects=False,
        headers={"accept": "application/json"},
    )


class HTTP:
    """An ``httpx.AsyncClient``, either the caller's (left open) or our own (closed by
    :meth:`aclose`).  Passing ``transport`` (``httpx.ASGITransport``,
    ``httpx.MockTransport``) lets tests and embedders reach an app in process."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if client is not None and transport is not None:
            raise ValueError("pass either an httpx client or a transport, not both")
        self._owned = client is None
        self.client = client or new_client(transport, timeout)

    async def aclose(self) -> None:
        if self._owned:
            await self.client.aclose()


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    if value.isdigit():
        return max(1, min(int(value), 300))
    return _DEFAULT_RETRY_AFTER


async def request_json(
    client: httpx.AsyncClient, method: str, url: str, what: str, **kwargs: Any
) -> tuple[int, Any]:
    """Send one request; return ``(status, parsed JSON or None unless 200)``.

    Raises :class:`TemporarilyUnavailableError` when the server cannot be reached, times
    out, answers 5xx or 429, or answers 200 with something that is not JSON;
    :class:`ServerError` for a URL that cannot be requested (a misconfiguration).
    """
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.InvalidURL:
        log.error("%s: %r is not a usable URL", what, url)
        raise ServerError() from None
    except httpx.HTTPError as exc:
        log.warning("%s: %s unreachable: %s", what, url, type(exc).__name__)
        raise TemporarilyUnavailableError(
            "the authorization server cannot be reached; retry later"
        ) from None
    if response.status_code >= 500 or response.status_code == 429:
        log.warning("%s: %s answered %d", what, url, response.status_code)
        raise TemporarilyUnavailableError(
            "the authorization server is unavailable; retry later",
            retry_after=_retry_after(response),
        )
    if response.status_code != 200:
        return response.status_code, None
    try:
        return 200, response.json()
    except ValueError:
        log.warning("%s: %s answered 200 with a body that is not JSON", what, url)
        raise TemporarilyUnavailableError(
            "the authorization server is unavailable; retry later"
        ) from None
