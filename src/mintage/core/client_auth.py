"""Client authentication at the token, revocation and introspection endpoints.

RFC 6749 §2.3.1 (``client_secret_basic``, ``client_secret_post``), §2.1 and §3.2.1
(public clients identify themselves with ``client_id`` only: ``none``, RFC 7591 §2).
"The client MUST NOT use more than one authentication method in each request."

Each endpoint has its own authenticator, holding that endpoint's rate limits
(:class:`~mintage.core.client_throttle.ClientThrottle`): requests are counted per
address before authentication (:meth:`ClientAuthenticator.admit`), failed secrets per
address and per address and claimed client id (RFC 6749 §10.10: guessing must be
prevented), and requests per client only once it has authenticated, so that naming a
client id, which is public, spends nothing of that client's budget.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

from .client_throttle import NO_CLIENT_THROTTLE, ClientThrottle
from .credentials import SecretHasher
from .errors import InvalidClientError, InvalidRequestError
from .http import OAuthRequest
from .models import Client
from .storage import ClientStore

Method = Literal["client_secret_basic", "client_secret_post", "none"]
SUPPORTED_METHODS: tuple[Method, ...] = ("client_secret_basic", "client_secret_post", "none")

# Compared against when the client is unknown, so the miss costs the same HMAC as a hit.
_DUMMY_DIGEST = "0" * 64


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    client: Client
    method: Method


def _parse_basic(header: str) -> tuple[str, str]:
    _, _, encoded = header.partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClientError("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise InvalidClientError("malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
    return unquote_plus(client_id), unquote_plus(secret)


class ClientAuthenticator:
    """Finds and verifies the client of a request."""

    def __init__(
        self,
        clients: ClientStore,
        hasher: SecretHasher,
        throttle: ClientThrottle = NO_CLIENT_THROTTLE,
    ) -> None:
        self._clients = clients
        self._hasher = hasher
        self._throttle = throttle

    async def admit(self, request: OAuthRequest) -> None:
        """Count the request against the limit of its address (before anything else:
        a flood costs no secret check)."""
        if self._throttle.enabled:
            await self._throttle.admit(request.client_ip)

    def presented(self, request: OAuthRequest, params: dict[str, str]) -> bool:
        """Did the request carry any client identification at all?"""
        return "authorization" in request.headers or "client_id" in params

    async def authenticate(
        self, request: OAuthRequest, params: dict[str, str]
    ) -> AuthenticatedClient:
        """The client the request authenticates as, counted against its own limit."""
        authenticated = await self._authenticate(request, params)
        if self._throttle.enabled:
            await self._throttle.authenticated(
                request.client_ip,
                authenticated.client.client_id,
                public=authenticated.method == "none",
            )
        return authenticated

    async def _authenticate(
        self, request: OAuthRequest, params: dict[str, str]
    ) -> AuthenticatedClient:
        authorization = request.headers.get("authorization")
        body_id = params.get("client_id")
        body_secret = params.get("client_secret")
        if authorization is not None and authorization[:6].lower() == "basic ":
            if body_secret is not None:
                raise InvalidRequestError("use one client authentication method, not two")
            client_id, secret = _parse_basic(authorization)
            if body_id is not None and body_id != client_id:
                raise InvalidClientError("client_id does not match the credentials")
            return await self._verify(request, client_id, secret, "client_secret_basic", basic=True)
        if authorization is not None:
            raise InvalidClientError("unsupported Authorization scheme; use Basic")
        if not body_id:
            raise InvalidClientError("client authentication is required")
        if body_secret is not None:
            return await self._verify(
                request, body_id, body_secret, "client_secret_post", basic=False
            )
        client = await self._clients.get_client(body_id)
        if client is None or not client.is_public:
            raise InvalidClientError("client authentication failed")
        return AuthenticatedClient(client, "none")

    async def _verify(
        self, request: OAuthRequest, client_id: str, secret: str, method: Method, *, basic: bool
    ) -> AuthenticatedClient:
        throttle = self._throttle
        if throttle.enabled:
            await throttle.check_auth(request.client_ip, client_id)
        client = await self._clients.get_client(client_id)
        digest = client.secret_digest if client is not None else None
        ok = self._hasher.verify(secret, digest or _DUMMY_DIGEST)
        if client is None or digest is None or not ok:
            if throttle.enabled:
                await throttle.auth_failed(request.client_ip, client_id)
            raise InvalidClientError("client authentication failed")
        return AuthenticatedClient(client, method)
