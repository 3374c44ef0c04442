"""Test support for the resource kit.

``FakeIssuer`` serves RFC 8414 metadata and a JWKS through ``httpx.MockTransport``,
counts the requests it gets, can be taken down or made to answer an error status, and
mints RFC 9068 access tokens with keys made here by joserfc.  (Mintage's own JWT access
tokens are tested end to end elsewhere; opaque tokens go through the real app.)
``CountingTransport`` wraps the real app's transport and counts the kit's requests.
"""

from __future__ import annotations

import base64
import collections
import functools
import hashlib
import hmac
import json
import warnings
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from mintage.core.clock import FrozenClock

ISSUER = "https://as.example"
AUDIENCE = "https://as.example/resource"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

ALGORITHMS = {"RS256": "rsa-1", "ES256": "ec-1", "EdDSA": "ed-1"}


@functools.cache
def signing_keys() -> dict[str, Key]:
    """One key per algorithm, made once per test session (RSA generation is slow)."""
    return {
        "rsa-1": RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"}),
        "ec-1": ECKey.generate_key("P-256", parameters={"kid": "ec-1"}),
        "ed-1": OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"}),
    }


@functools.cache
def spare_rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


class FakeIssuer:
    def __init__(self, issuer: str = ISSUER, clock: FrozenClock | None = None) -> None:
        self.issuer = issuer
        self.clock = clock or FrozenClock()
        self.published: list[Key] = list(signing_keys().values())
        self.extra_jwks: list[dict[str, Any]] = []
        self.metadata: dict[str, Any] = {
            "issuer": issuer,
            "jwks_uri": f"{issuer}{JWKS_PATH}",
            "introspection_endpoint": f"{issuer}/oauth/introspect",
        }
        self.requests: collections.Counter[str] = collections.Counter()
        self.down = False
        self.status: int | None = None
        self.transport = httpx.MockTransport(self.handle)

    @property
    def jwks_fetches(self) -> int:
        return self.requests[JWKS_PATH]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests[request.url.path] += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status is not None:
            return httpx.Response(self.status, text="unavailable")
        if request.url.path == METADATA_PATH:
            return httpx.Response(200, json=self.metadata)
        if request.url.path == JWKS_PATH:
            keys = [k.as_dict(private=False) for k in self.published] + self.extra_jwks
            return httpx.Response(200, json={"keys": keys})
        return httpx.Response(404, json={"error": "not_found"})

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = self.clock()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": f"{self.issuer}/resource",
            "client_id": "client-1",
            "scope": "read write",
            "jti": "jti-1",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self,
        alg: str = "RS256",
        *,
        key: Key | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed token; ``claim=None`` leaves a claim out, ``header`` overrides."""
        signing_key = key or signing_keys()[ALGORITHMS[alg]]
        protected = {"typ": "at+jwt", "alg": alg, "kid": signing_key.kid, **(header or {})}
        protected = {k: v for k, v in protected.items() if v is not None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc flags EdDSA as deprecated (RFC 9864)
            return jwt.encode(
                protected, self.claims(**claims), signing_key, algorithms=[alg], default_type=None
            )

    def sign_raw(self, header: dict[str, Any], alg: str = "RS256", **claims: Any) -> str:
        """Sign exactly this header (joserfc would refuse some on purpose, e.g. ``crit``)."""
        key = signing_keys()[ALGORITHMS[alg]]
        signing_input = f"{b64json({'alg': alg, **header})}.{b64json(self.claims(**claims))}"
        signature = JWSRegistry.algorithms[alg].sign(signing_input.encode(), key)
        return f"{signing_input}.{b64(signature)}"

    def unsigned(self, **claims: Any) -> str:
        """RFC 7519 §6 unsecured JWT: ``alg: none`` and an empty signature."""
        header = {"typ": "at+jwt", "alg": "none", "kid": "rsa-1"}
        return f"{b64json(header)}.{b64json(self.claims(**claims))}."

    def hs256_with_public_key(self) -> str:
        """The RS/HS confusion attack: HMAC keyed with the RSA public key's PEM bytes."""
        rsa = signing_keys()["rsa-1"]
        assert isinstance(rsa, RSAKey)
        secret = rsa.as_pem(private=False)
        header = {"typ": "at+jwt", "alg": "HS256", "kid": "rsa-1"}
        signing_input = f"{b64json(header)}.{b64json(self.claims())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests by path; ``down`` makes every request fail to connect."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: collections.Counter[str] = collections.Counter()
        self.down = False

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[request.url.path] += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)
