"""OpenID Connect Core 1.0 on top of the OAuth engine: claims, UserInfo, discovery,
JWKS and RP-initiated logout."""
