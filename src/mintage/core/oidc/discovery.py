"""OpenID Provider metadata and JWKS (OpenID Connect Discovery 1.0 §3, RFC 7517 §5)."""

from __future__ import annotations

import orjson

from ..http import OAuthRequest, OAuthResponse
from ..keyring import KeyRing
from .claims import SCOPE_CLAIMS, claims_supported

_PUBLIC_CACHE = (("content-type", "application/json"), ("cache-control", "public, max-age=300"))

#: OpenID Connect Core §3.1.2.1 ``prompt`` values we honour.
PROMPT_VALUES = ("none", "login", "consent")


def openid_configuration(
    oauth_metadata: dict[str, object], *, id_token_algs: tuple[str, ...]
) -> dict[str, object]:
    """RFC 8414 metadata plus what Discovery §3 requires of an OpenID Provider.

    The endpoints (``jwks_uri``, ``userinfo_endpoint``, ``end_session_endpoint``) are
    in ``oauth_metadata`` already, from the one table of paths (``core/paths.py``).
    """
    doc = dict(oauth_metadata)
    scopes = set(doc.get("scopes_supported", ()) or ())  # type: ignore[call-overload]
    # offline_access: refresh tokens for sign-ins (Core §11, core/grants/authorization_code.py)
    scopes.update(("openid", "offline_access", *SCOPE_CLAIMS))
    doc.update(
        {
            "scopes_supported": sorted(scopes),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(id_token_algs),
            "claims_supported": claims_supported(),
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            # Discovery §3: defaults to true when omitted.
            "request_uri_parameter_supported": False,
            "prompt_values_supported": list(PROMPT_VALUES),
        }
    )
    return doc


class JWKSEndpoint:
    """``GET /.well-known/jwks.json``: the public keys only (RFC 7517 §5)."""

    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    async def __call__(self, request: OAuthRequest | None = None) -> OAuthResponse:
        # Five minutes of caching: a rotated-in key is published ``key_publish_lead``
        # (10 minutes by default) before it signs.
        return OAuthResponse(200, orjson.dumps(await self._keys.jwks()), _PUBLIC_CACHE)
