"""Authorization server metadata (RFC 8414 §2, §3)."""

from __future__ import annotations

from collections.abc import Iterable

from ..http import OAuthRequest, OAuthResponse, json_response

_PUBLIC_CACHE = (("content-type", "application/json"), ("cache-control", "public, max-age=300"))


def metadata_document(
    issuer: str,
    grant_types: Iterable[str],
    auth_methods: Iterable[str],
    scopes: Iterable[str] = (),
) -> dict[str, object]:
    """Exactly what this server has enabled; built once at start-up."""
    methods = list(auth_methods)
    confidential = [m for m in methods if m != "none"]
    doc: dict[str, object] = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "token_endpoint_auth_methods_supported": methods,
        "grant_types_supported": sorted(grant_types),
        # §2 lists this as REQUIRED; no authorization endpoint is enabled yet, so no
        # response type is supported.
        "response_types_supported": [],
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": confidential,
    }
    scope_list = sorted(set(scopes))
    if scope_list:
        doc["scopes_supported"] = scope_list
    return doc


class MetadataEndpoint:
    def __init__(self, document: dict[str, object]) -> None:
        self._response = json_response(document, headers=_PUBLIC_CACHE)

    async def __call__(self, request: OAuthRequest | None = None) -> OAuthResponse:
        return self._response
