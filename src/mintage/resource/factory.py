"""Build a verifier from nothing but the issuer URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import httpx

from ._http import DEFAULT_TIMEOUT, log, new_client
from .discovery import Discovery
from .introspection import IntrospectionVerifier
from .jwt import DEFAULT_ALGORITHMS, JWTVerifier
from .verifier import CombinedVerifier


def verifier_for_issuer(
    issuer: str,
    *,
    audience: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
    leeway: float = 30.0,
    cache_ttl: float = 30.0,
    http: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> CombinedVerifier:
    """A verifier for every access token ``issuer`` mints.

    JWT access tokens (RFC 9068) are verified locally with the keys at the ``jwks_uri``
    its metadata names (RFC 8414).  With ``client_id`` and ``client_secret`` (a
    confidential client of that issuer), other tokens, such as Mintage's opaque
    ``mint_at_...`` tokens, are checked by introspection (RFC 7662) at its
    ``introspection_endpoint``; without them, only JWTs are accepted, and a warning is
    logged: Mintage issues opaque tokens unless a client or the server asks for JWTs.
    The client must be one introspection answers for these tokens: registered with
    ``--resource <audience>`` (RFC 7662 §4, docs/resource-servers.md).

    ``audience`` is this API's identifier as the issuer puts it in ``aud``; it defaults
    to ``{issuer}/resource``, Mintage's default.  Metadata is fetched once, on the first
    token; the two verifiers share it and one HTTP client, closed by ``aclose()``.
    """
    if (client_id is None) != (client_secret is None):
        raise ValueError("give both client_id and client_secret, or neither")
    if http is not None and transport is not None:
        raise ValueError("pass either an httpx client or a transport, not both")
    owned = None
    if http is None:
        owned = http = new_client(transport, timeout)
    jwt = JWTVerifier(
        issuer,
        audience=audience,
        algorithms=algorithms,
        leeway=leeway,
        http=http,
        clock=clock,
    )
    # One discovery for both: the metadata document is fetched once.
    discovery: Discovery = jwt.discovery
    introspection = None
    if client_id is None or client_secret is None:
        log.warning(
            "verifier for %s built without client_id/client_secret: only JWT access "
            "tokens can be verified, every opaque one (Mintage's default format) gets "
            "401 invalid_token",
            jwt.issuer,
        )
    else:
        introspection = IntrospectionVerifier(
            issuer,
            client_id=client_id,
            client_secret=client_secret,
            audience=audience,
            cache_ttl=cache_ttl,
            http=http,
            clock=clock,
            discovery=discovery,
        )
    return CombinedVerifier(jwt, introspection, owned_http=owned)
