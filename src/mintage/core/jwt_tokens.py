"""JWT access tokens (RFC 9068) and OpenID Connect ID tokens (OpenID Connect Core §2).

Both are signed by the :class:`~mintage.core.keyring.KeyRing`.  The server still stores
a record of every JWT access token it issues, under the digest of the whole JWT, as for
opaque tokens: that record is the deny-list entry that revocation, refresh-reuse
detection and consent withdrawal mark, and introspection and ``/resource`` consult it.
The record is kept until the token expires (the purge removes only expired rows), so a
revoked JWT stays refused for its whole life.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from .credentials import new_id
from .jose import sign
from .keyring import KeyRing

#: RFC 9068 §2.1: the ``typ`` header of a JWT access token.
AT_JWT_TYP = "at+jwt"


@dataclass(frozen=True, slots=True)
class SignIn:
    """What the authorization server knows of how the user authenticated (Core §2)."""

    auth_time: int
    nonce: str | None = None
    #: Authentication Method Reference values (RFC 8176): ``pwd`` for our sign-in page
    amr: tuple[str, ...] = ("pwd",)


class JWTSigner:
    """Mints RFC 9068 access tokens and OpenID Connect ID tokens."""

    def __init__(
        self,
        keys: KeyRing,
        *,
        issuer: str,
        access_token_alg: str,
        audience: str,
        id_token_alg: str = "RS256",  # noqa: S107 - an algorithm name
        id_token_lifetime: int = 3600,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._at_alg = access_token_alg
        self._audience = audience
        self._id_alg = id_token_alg
        self.id_token_lifetime = id_token_lifetime

    async def access_token(
        self,
        *,
        client_id: str,
        subject: str,
        scope: str,
        issued_at: int,
        expires_at: int,
        sign_in: SignIn | None,
    ) -> str:
        """RFC 9068 §2.2: ``iss``, ``exp``, ``aud``, ``sub``, ``client_id``, ``iat``,
        ``jti``, and ``scope``; ``auth_time``/``amr`` when a user signed in (§2.2.1)."""
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "exp": expires_at,
            "aud": self._audience,
            "sub": subject,
            "client_id": client_id,
            "iat": issued_at,
            "jti": new_id(),
            "scope": scope,
        }
        if sign_in is not None:
            claims["auth_time"] = sign_in.auth_time
            claims["amr"] = list(sign_in.amr)
        kid, key = await self._keys.signer(self._at_alg)
        return sign(claims, key, alg=self._at_alg, kid=kid, typ=AT_JWT_TYP)

    async def id_token(
        self,
        *,
        client_id: str,
        subject: str,
        issued_at: int,
        sign_in: SignIn,
        access_token: str | None,
    ) -> str:
        """Core §2 and §3.1.3.6: ``iss``, ``sub``, ``aud``, ``exp``, ``iat``,
        ``auth_time``, ``nonce`` (echoed when the request had one), ``azp``, ``amr``, and
        ``at_hash`` of the access token issued beside it."""
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "aud": client_id,
            "exp": issued_at + self.id_token_lifetime,
            "iat": issued_at,
            "auth_time": sign_in.auth_time,
            "azp": client_id,
            "amr": list(sign_in.amr),
        }
        if sign_in.nonce is not None:
            claims["nonce"] = sign_in.nonce
        if access_token is not None:
            claims["at_hash"] = left_hash(access_token, self._id_alg)
        kid, key = await self._keys.signer(self._id_alg)
        return sign(claims, key, alg=self._id_alg, kid=kid, typ="JWT")


def left_hash(value: str, alg: str) -> str:
    """Core §3.1.3.6 ``at_hash``: base64url of the left half of the hash of the ASCII
    value, with the hash of the JWS algorithm (SHA-256 for RS256/ES256; SHA-512 for
    EdDSA with Ed25519, as the OpenID Foundation's errata settled)."""
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode("ascii").rstrip("=")
