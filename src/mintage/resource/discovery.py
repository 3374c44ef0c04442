"""Finding an authorization server's endpoints from its issuer URL (RFC 8414).

The document is fetched on first use, not at construction, so an API can build its
verifier at import time and start while the authorization server is still starting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ._http import HTTP, log, request_json
from .errors import OAuthError, ServerError, TemporarilyUnavailableError

Clock = Callable[[], float]

#: Seconds to wait after a failed discovery before trying again, so a down authorization
#: server is not asked once per incoming request.
RETRY_INTERVAL = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class ServerMetadata:
    """The parts of RFC 8414 §2 metadata a resource server uses."""

    issuer: str
    jwks_uri: str | None
    introspection_endpoint: str | None
    document: Mapping[str, Any] = dataclasses.field(repr=False)


def normalize_issuer(issuer: str) -> str:
    """The issuer as Mintage spells it in ``iss``: no trailing slash."""
    if not issuer.startswith(("https://", "http://")):
        raise ValueError(f"the issuer must be an http(s) URL, not {issuer!r}")
    return issuer.rstrip("/")


def metadata_urls(issuer: str) -> list[str]:
    """Where to look, in order.

    ``{issuer}/.well-known/oauth-authorization-server`` and ``.../openid-configuration``
    (OpenID Connect Discovery 1.0 §4, which Mintage also follows for RFC 8414), then,
    for an issuer with a path, RFC 8414 §3.1's form with the well-known segment inserted
    between host and path.
    """
    urls = [
        f"{issuer}/.well-known/oauth-authorization-server",
        f"{issuer}/.well-known/openid-configuration",
    ]
    parts = urlsplit(issuer)
    if parts.path not in ("", "/"):
        urls.append(
            f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}"
        )
    return urls


def _optional_url(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) and value else None


class Discovery:
    """Fetches and keeps one issuer's metadata; shared by the verifiers built from it."""

    def __init__(self, issuer: str, http: HTTP, *, clock: Clock = time.time) -> None:
        self.issuer = normalize_issuer(issuer)
        self._http = http
        self._clock = clock
        self._metadata: ServerMetadata | None = None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self._failure: OAuthError | None = None

    async def metadata(self) -> ServerMetadata:
        """The metadata, fetched once; raises 503 (or 500 when misconfigured) meanwhile."""
        if self._metadata is not None:
            return self._metadata
        async with self._lock:
            if self._metadata is not None:
                return self._metadata
            if self._failure is not None and self._clock() < self._retry_at:
                raise _again(self._failure)
            try:
                self._metadata = await self._fetch()
            except OAuthError as exc:
                self._failure = exc
                self._retry_at = self._clock() + RETRY_INTERVAL
                raise
            return self._metadata

    async def _fetch(self) -> ServerMetadata:
        for url in metadata_urls(self.issuer):
            status, document = await request_json(self._http.client, "GET", url, "discovery")
            if status != 200:
                continue
            if not isinstance(document, dict):
                log.error("discovery: %s is not a JSON object", url)
                raise ServerError()
            # RFC 8414 §3.3: the issuer in the document MUST be identical to the one the
            # metadata was requested for, or the document must not be used.
            if document.get("issuer") != self.issuer:
                log.error(
                    "discovery: %s names issuer %r, expected %r",
                    url,
                    document.get("issuer"),
                    self.issuer,
                )
                raise ServerError()
            return ServerMetadata(
                issuer=self.issuer,
                jwks_uri=_optional_url(document, "jwks_uri"),
                introspection_endpoint=_optional_url(document, "introspection_endpoint"),
                document=document,
            )
        log.error("discovery: no metadata found for issuer %s", self.issuer)
        raise ServerError()


def _again(failure: OAuthError) -> OAuthError:
    """A fresh exception like the last failure (an instance is not raised twice)."""
    if isinstance(failure, TemporarilyUnavailableError):
        return TemporarilyUnavailableError(failure.description)
    return ServerError()
