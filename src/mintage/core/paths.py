"""Where each endpoint is served: one table for the router and the metadata documents.

:data:`ENDPOINT_PATHS` names each endpoint by its field in the authorization server
metadata (RFC 8414 §2) or the OpenID Provider metadata (OpenID Connect Discovery 1.0
§3); the web layer routes exactly the enabled ones (``web/app.py``) and the metadata
advertises exactly the same (``core/endpoints/metadata.py``, ``core/oidc/discovery.py``),
so a path cannot be served under one name and advertised under another.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: metadata field → path below the issuer
ENDPOINT_PATHS: Mapping[str, str] = MappingProxyType(
    {
        "authorization_endpoint": "/oauth/authorize",  # RFC 6749 §3.1
        "token_endpoint": "/oauth/token",  # RFC 6749 §3.2
        "revocation_endpoint": "/oauth/revoke",  # RFC 7009 §2
        "introspection_endpoint": "/oauth/introspect",  # RFC 7662 §2
        "jwks_uri": "/.well-known/jwks.json",  # RFC 7517 §5
        "userinfo_endpoint": "/userinfo",  # OpenID Connect Core §5.3
        "end_session_endpoint": "/oauth/logout",  # RP-Initiated Logout 1.0 §2
    }
)

#: RFC 8414 §3 and OpenID Connect Discovery 1.0 §4: fixed by the specifications
OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server"
OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"
#: the built-in protected resource (docs/resource-servers.md), advertised nowhere
RESOURCE_PATH = "/resource"
