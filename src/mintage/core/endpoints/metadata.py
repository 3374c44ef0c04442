"""Authorization server metadata (RFC 8414 §2, §3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..http import OAuthRequest, OAuthResponse, json_response

_PUBLIC_CACHE = (("content-type", "application/json"), ("cache-control", "public, max-age=300"))


def metadata_document(
    issuer: str,
    endpoints: Mapping[str, str],
    grant_types: Iterable[str],
    auth_methods: Iterable[str],
    scopes: Iterable[str] = (),
    *,
    pkce_methods: Iterable[str] = ("S256",),
) -> dict[str, object]:
    """Exactly what this server has enabled; built once at start-up.

    ``endpoints`` are the served endpoints by metadata field (``core/paths.py``), each
    advertised as ``issuer + path``.  With the authorization endpoint come ``code``, its
    only response type (OAuth 2.1 §4.1), the PKCE methods
    (``code_challenge_methods_supported``, RFC 8414 §2) and ``iss`` in every
    authorization response (RFC 9207 §3).
    """
    methods = list(auth_methods)
    grants = sorted(grant_types)
    code_flow = "authorization_endpoint" in endpoints
    confidential = [m for m in methods if m != "none"]
    doc: dict[str, object] = {"issuer": issuer}
    doc.update((name, f"{issuer}{path}") for name, path in endpoints.items())
    doc.update(
        {
            "token_endpoint_auth_methods_supported": methods,
            "grant_types_supported": grants,
            # §2 lists this as REQUIRED; without the authorization endpoint no response
            # type is supported.
            "response_types_supported": ["code"] if code_flow else [],
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": confidential,
        }
    )
    if code_flow:
        doc["response_modes_supported"] = ["query"]
        doc["code_challenge_methods_supported"] = list(pkce_methods)
        doc["authorization_response_iss_parameter_supported"] = True
    scope_list = sorted(set(scopes))
    if scope_list:
        doc["scopes_supported"] = scope_list
    return doc


class MetadataEndpoint:
    def __init__(self, document: dict[str, object]) -> None:
        self._response = json_response(document, headers=_PUBLIC_CACHE)

    async def __call__(self, request: OAuthRequest | None = None) -> OAuthResponse:
        return self._response
