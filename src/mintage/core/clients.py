"""Registering and changing clients: validation shared by the CLI and the library.

Each change is recorded as an audit event (``client.created``, ``client.secret_rotated``,
``client.deleted``) when the store keeps them, as every full
:class:`~mintage.core.storage.Storage` does; ``origin`` says who asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from urllib.parse import urlsplit

from .audit import AuditEventType, Auditor, Origin
from .clock import Clock, system_clock
from .credentials import SecretHasher, new_id
from .grants.registry import is_extension_grant_type
from .issuer import ACCESS_TOKEN_FORMATS
from .models import Client
from .redirect_uri import check_redirect_uri_scheme
from .scope import parse_scope
from .storage import AuditStore, ClientStore

#: grant types a client may be registered with (those the server implements)
KNOWN_GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token", "password")


def _split(values: Iterable[str]) -> list[str]:
    """Accept repeated options and space-separated lists alike."""
    out: list[str] = []
    for value in values:
        for item in value.split():
            if item not in out:
                out.append(item)
    return out


def _auditor(clients: ClientStore, clock: Clock) -> Auditor | None:
    return Auditor(clients, clock) if isinstance(clients, AuditStore) else None


def _hasher(hasher: SecretHasher | bytes) -> SecretHasher:
    return hasher if isinstance(hasher, SecretHasher) else SecretHasher(hasher)


def validate_redirect_uri(uri: str) -> str:
    """RFC 6749 §3.1.2: absolute, no fragment; plain http only for loopback hosts; none
    of the schemes a browser would run or read locally (:func:`check_redirect_uri_scheme`)."""
    check_redirect_uri_scheme(uri)
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "#" in uri:
        raise ValueError(f"redirect URI {uri!r} must be absolute and without a fragment")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError(f"redirect URI {uri!r} must use https (http only on loopback)")
    if parts.scheme in ("http", "https") and not parts.netloc:
        raise ValueError(f"redirect URI {uri!r} has no host")
    return uri


def validate_resource(uri: str) -> str:
    """RFC 8707 §2: a resource identifier is an absolute URI without a fragment."""
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "#" in uri:
        raise ValueError(f"resource {uri!r} must be an absolute URI without a fragment")
    if parts.scheme in ("http", "https") and not parts.netloc:
        raise ValueError(f"resource {uri!r} has no host")
    return uri


async def register_client(
    clients: ClientStore,
    hasher: SecretHasher | bytes,
    *,
    name: str,
    grant_types: Iterable[str],
    scopes: Iterable[str],
    redirect_uris: Iterable[str] = (),
    public: bool = False,
    access_token_lifetime: int | None = None,
    refresh_token_lifetime: int | None = None,
    client_id: str | None = None,
    require_pkce: bool = True,
    access_token_format: str | None = None,
    post_logout_redirect_uris: Iterable[str] = (),
    resources: Iterable[str] = (),
    clock: Clock = system_clock,
    origin: Origin | None = None,
) -> tuple[Client, str | None]:
    """Create a client; returns it and its secret (``None`` for public clients).

    ``hasher`` is the server secret (the ``pepper`` given to ``create_app``, or the
    ``secret_key``) or a :class:`SecretHasher` of it: the client's secret is checked
    with the same one.  The secret is generated here and only its keyed digest is
    stored: show it once.
    ``require_pkce=False`` lets a confidential client use the authorization code without
    PKCE; public clients always need it (RFC 9700 §2.1.1).  ``resources`` are the
    resource identifiers (RFC 8707) the client answers for as a protected resource: it
    may introspect the access tokens meant for them, so it must be confidential.
    """
    if not name.strip():
        raise ValueError("a client needs a name")
    grants = _split(grant_types)
    if not grants:
        raise ValueError("a client needs at least one grant type")
    # An extension grant (RFC 6749 §4.5) is an absolute URI, served by whatever
    # application registered it: the CLI cannot know it, so any such URI is accepted.
    unknown = [g for g in grants if g not in KNOWN_GRANT_TYPES and not is_extension_grant_type(g)]
    if unknown:
        raise ValueError(
            f"unknown grant type {', '.join(unknown)}; known: {', '.join(KNOWN_GRANT_TYPES)}, "
            "or an extension grant's absolute URI (RFC 6749 §4.5)"
        )
    if public and "client_credentials" in grants:
        raise ValueError("client_credentials needs a confidential client (RFC 6749 §4.4)")
    uris = tuple(validate_redirect_uri(u) for u in _split(redirect_uris))
    if "authorization_code" in grants and not uris:
        raise ValueError("authorization_code needs at least one redirect URI (RFC 6749 §3.1.2)")
    if public and not require_pkce:
        raise ValueError("a public client always requires PKCE (RFC 9700 §2.1.1)")
    scope_list = _split(scopes)
    parse_scope(" ".join(scope_list) or None)  # InvalidScopeError on bad characters
    if access_token_format not in (None, *ACCESS_TOKEN_FORMATS):
        raise ValueError(f"access token format must be one of {', '.join(ACCESS_TOKEN_FORMATS)}")
    # RP-Initiated Logout 1.0 §3.1: registered like redirect URIs, matched exactly.
    logout_uris = tuple(validate_redirect_uri(u) for u in _split(post_logout_redirect_uris))
    served = tuple(validate_resource(u) for u in _split(resources))
    if public and served:
        raise ValueError("a resource server introspects, so it needs a secret (RFC 7662 §2.1)")
    for lifetime in (access_token_lifetime, refresh_token_lifetime):
        if lifetime is not None and lifetime <= 0:
            raise ValueError("token lifetimes must be positive")
    secret, digest = (None, None) if public else _hasher(hasher).new_secret()
    client = Client(
        client_id=client_id or new_id(),
        name=name.strip(),
        grant_types=tuple(grants),
        scopes=tuple(scope_list),
        redirect_uris=uris,
        secret_digest=digest,
        access_token_lifetime=access_token_lifetime,
        refresh_token_lifetime=refresh_token_lifetime,
        created_at=clock(),
        require_pkce=require_pkce,
        access_token_format=access_token_format,
        post_logout_redirect_uris=logout_uris,
        resources=served,
    )
    if await clients.get_client(client.client_id) is not None:
        raise ValueError(f"client {client.client_id} already exists")
    await clients.save_client(client)
    audit = _auditor(clients, clock)
    if audit is not None:
        await audit.record(
            AuditEventType.CLIENT_CREATED,
            origin,
            client_id=client.client_id,
            name=client.name,
            public=client.is_public,
            grant_types=list(client.grant_types),
            scopes=list(client.scopes),
            redirect_uris=list(client.redirect_uris),
            resources=list(client.resources),
        )
    return client, secret


async def rotate_secret(
    clients: ClientStore,
    hasher: SecretHasher | bytes,
    client_id: str,
    *,
    clock: Clock = system_clock,
    origin: Origin | None = None,
) -> tuple[Client, str]:
    """Replace a confidential client's secret; the old one stops working at once.
    ``hasher``: as for :func:`register_client`."""
    client = await clients.get_client(client_id)
    if client is None:
        raise LookupError(f"no client {client_id}")
    if client.is_public:
        raise ValueError("a public client has no secret to rotate")
    secret, digest = _hasher(hasher).new_secret()
    client = dataclasses.replace(client, secret_digest=digest)
    await clients.save_client(client)
    audit = _auditor(clients, clock)
    if audit is not None:
        await audit.record(AuditEventType.CLIENT_SECRET_ROTATED, origin, client_id=client_id)
    return client, secret


async def delete_client(
    clients: ClientStore,
    client_id: str,
    *,
    clock: Clock = system_clock,
    origin: Origin | None = None,
) -> bool:
    """Delete a client with its tokens, codes and consents; ``True`` if it existed.

    Its audit events stay: they are the history of what it did.
    """
    audit = _auditor(clients, clock)
    # Read first so that the event can name what is gone.
    existing = await clients.get_client(client_id) if audit is not None else None
    deleted = await clients.delete_client(client_id)
    if deleted and audit is not None:
        name = existing.name if existing is not None else None
        await audit.record(AuditEventType.CLIENT_DELETED, origin, client_id=client_id, name=name)
    return deleted
