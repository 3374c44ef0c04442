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
    """Where to look, in order, without repeats.

    RFC 8414 §3.1: ``/.well-known/oauth-authorization-server`` inserted between the host
    and the issuer's path (``https://h/.well-known/oauth-authorization-server/auth`` for
    the issuer ``https://h/auth``); OpenID Connect Discovery 1.0 §4:
    ``{issuer}/.well-known/openid-configuration``; then
    ``{issuer}/.well-known/oauth-authorization-server``, where a Mintage mounted under a
    path (README "Embedding") serves its document too.
    """
    parts = urlsplit(issuer)
    path = "" if parts.path == "/" else parts.path
    urls = [
        f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}",
        f"{issuer}/.well-known/openid-configuration",
        f"{issuer}/.well-known/oauth-authorization-server",
    ]
    return list(dict.fromkeys(urls))


class DiscoveryError(TemporarilyUnavailableError):
    """No usable metadata at any of the issuer's well-known URLs (RFC 8414 §3).

    The API's client gets 503 ``temporarily_unavailable``: the authorization server may
    still be starting.  ``tried`` pairs each URL with what it answered (``"404"``,
    ``"200, not a JSON object"``); ``str()`` and the ``mintage.resource`` log name them
    all, so a wrong issuer URL or mount point shows at once.  The client's response
    carries none of it.
    """

    def __init__(self, issuer: str, tried: tuple[tuple[str, str], ...]) -> None:
        super().__init__(
            "the authorization server's metadata cannot be found; retry later",
            retry_after=int(RETRY_INTERVAL),
        )
        self.issuer = issuer
        self.tried = tried

    def __str__(self) -> str:
        attempts = ", ".join(f"{url} ({outcome})" for url, outcome in self.tried)
        return f"no metadata for issuer {self.issuer}: tried {attempts}"


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
        """The metadata, fetched once; raises 503 meanwhile (:class:`DiscoveryError` when
        no URL has it), or 500 for a document naming another issuer."""
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
        tried: list[tuple[str, str]] = []
        for url in metadata_urls(self.issuer):
            status, document = await request_json(self._http.client, "GET", url, "discovery")
            if status != 200:
                tried.append((url, str(status)))
                continue
            if not isinstance(document, dict):
                tried.append((url, "200, not a JSON object"))
                continue
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
        failure = DiscoveryError(self.issuer, tuple(tried))
        log.error("discovery: %s", failure)
        raise failure


def _again(failure: OAuthError) -> OAuthError:
    """A fresh exception like the last failure (an instance is not raised twice)."""
    if isinstance(failure, DiscoveryError):
        return DiscoveryError(failure.issuer, failure.tried)
    if isinstance(failure, TemporarilyUnavailableError):
        return TemporarilyUnavailableError(failure.description)
    return ServerError()
