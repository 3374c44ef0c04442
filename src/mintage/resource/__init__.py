"""Protect an API with Mintage's access tokens (a resource server kit).

::

    from mintage.resource import BearerAuthMiddleware, verifier_for_issuer

    verifier = verifier_for_issuer(
        "https://auth.example.com",
        client_id="…", client_secret="…",  # a client created with --resource <audience>
    )
    app = BearerAuthMiddleware(app, verifier, prefixes=["/api"])

Verifiers share one interface, ``await verifier.verify(token) -> AccessToken``, raising
RFC 6750 §3.1 errors: :class:`JWTVerifier` (RFC 9068, local, keys from the issuer's
JWKS), :class:`IntrospectionVerifier` (RFC 7662, asks the issuer, short cache),
:class:`CombinedVerifier` (JWTs locally, everything else by introspection),
:class:`EngineVerifier` (a Mintage app in the same process, :func:`verifier_for_app`).  The FastAPI
dependency ``require_scopes`` lives in :mod:`mintage.resource.fastapi`.
docs/resource-servers.md has the whole story.

Names load lazily: ``import mintage.resource`` pulls in neither httpx, joserfc nor any
web framework, and no module here imports Starlette (the middleware speaks ASGI).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AccessToken": "mintage.resource.token",
    "BearerAuthMiddleware": "mintage.resource.middleware",
    "CombinedVerifier": "mintage.resource.verifier",
    "Discovery": "mintage.resource.discovery",
    "DiscoveryError": "mintage.resource.discovery",
    "EngineVerifier": "mintage.resource.engine",
    "InsufficientScopeError": "mintage.resource.errors",
    "IntrospectionVerifier": "mintage.resource.introspection",
    "InvalidRequestError": "mintage.resource.errors",
    "InvalidTokenError": "mintage.resource.errors",
    "JWTVerifier": "mintage.resource.jwt",
    "MissingTokenError": "mintage.resource.errors",
    "OAuthError": "mintage.resource.errors",
    "STATE_KEY": "mintage.resource.middleware",
    "ServerError": "mintage.resource.errors",
    "ServerMetadata": "mintage.resource.discovery",
    "TemporarilyUnavailableError": "mintage.resource.errors",
    "TokenVerifier": "mintage.resource.verifier",
    "bearer_token": "mintage.resource.bearer",
    "verifier_for_app": "mintage.resource.engine",
    "verifier_for_issuer": "mintage.resource.factory",
}

__all__ = [
    "STATE_KEY",
    "AccessToken",
    "BearerAuthMiddleware",
    "CombinedVerifier",
    "Discovery",
    "DiscoveryError",
    "EngineVerifier",
    "InsufficientScopeError",
    "IntrospectionVerifier",
    "InvalidRequestError",
    "InvalidTokenError",
    "JWTVerifier",
    "MissingTokenError",
    "OAuthError",
    "ServerError",
    "ServerMetadata",
    "TemporarilyUnavailableError",
    "TokenVerifier",
    "bearer_token",
    "verifier_for_app",
    "verifier_for_issuer",
]

if TYPE_CHECKING:
    from .bearer import bearer_token
    from .discovery import Discovery, DiscoveryError, ServerMetadata
    from .engine import EngineVerifier, verifier_for_app
    from .errors import (
        InsufficientScopeError,
        InvalidRequestError,
        InvalidTokenError,
        MissingTokenError,
        OAuthError,
        ServerError,
        TemporarilyUnavailableError,
    )
    from .factory import verifier_for_issuer
    from .introspection import IntrospectionVerifier
    from .jwt import JWTVerifier
    from .middleware import STATE_KEY, BearerAuthMiddleware
    from .token import AccessToken
    from .verifier import CombinedVerifier, TokenVerifier


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mintage.resource' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
