"""Minting and recognising credentials.

Tokens and client secrets carry 256 bits from :func:`secrets.token_bytes`, a prefix that
secret scanners can match (``mint_at_``, ``mint_rt_``, ``mint_cs_``) and a CRC-32 check
suffix, so a mistyped or truncated value is rejected without a database round trip.
Only digests are stored (RFC 9700 §4.14, docs/architecture.md §4):

* tokens: SHA-256.  256 random bits cannot be brute-forced from a digest, and an
  unkeyed digest lets every instance validate without sharing a key.
* client secrets: HMAC-SHA256 keyed with the server's secret pepper, compared with
  :func:`hmac.compare_digest`.  A dump of the database alone yields nothing usable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import zlib

ACCESS_TOKEN_PREFIX = "mint_at_"
REFRESH_TOKEN_PREFIX = "mint_rt_"
CLIENT_SECRET_PREFIX = "mint_cs_"
AUTHORIZATION_CODE_PREFIX = "mint_ac_"
SESSION_PREFIX = "mint_ss_"

_RANDOM_BYTES = 32  # 256 bits
_BODY_LEN = 43  # base64url of 32 bytes, unpadded
_CHECK_LEN = 6


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _check(prefix: str, body: str) -> str:
    crc = zlib.crc32((prefix + body).encode("ascii")).to_bytes(4, "big")
    return _b64(crc)[:_CHECK_LEN]


def mint(prefix: str) -> str:
    """A new credential: prefix + 43 base64url chars (256 bits) + 6-char checksum."""
    body = _b64(secrets.token_bytes(_RANDOM_BYTES))
    return prefix + body + _check(prefix, body)


def well_formed(value: str, prefix: str) -> bool:
    """``True`` when ``value`` has this prefix, the right length and a valid checksum."""
    if len(value) != len(prefix) + _BODY_LEN + _CHECK_LEN or not value.startswith(prefix):
        return False
    body = value[len(prefix) : len(prefix) + _BODY_LEN]
    return hmac.compare_digest(value[-_CHECK_LEN:], _check(prefix, body))


def looks_like_jws(value: str) -> bool:
    """A JWS compact serialization's shape (RFC 7515 §7.1: three segments, a JSON object
    header): worth a JWS parse, which judges the rest.  A cheap pre-check for the hot
    paths and the resource kit's choice between JWT and introspection."""
    return value.count(".") == 2 and value.startswith("eyJ")


def token_digest(token: str) -> str:
    """The stored form of a token or code: hex SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_id(nbytes: int = 16) -> str:
    """A random identifier (client ids, family ids): not a secret.

    Never starts with ``-``, so an id can be passed on a command line (``mintage
    client show ID``, ``client_app.py ID SECRET``) without being read as an option.
    """
    while True:
        value = _b64(secrets.token_bytes(nbytes))
        if value[0] != "-":
            return value


class SecretHasher:
    """Keyed digests of client secrets (HMAC-SHA256 with the server pepper)."""

    __slots__ = ("_key",)

    def __init__(self, pepper: bytes) -> None:
        # Derive a purpose-bound key so the pepper can serve other uses later.
        self._key = hmac.new(pepper, b"mintage client secret v1", hashlib.sha256).digest()

    def digest(self, secret: str) -> str:
        return hmac.digest(self._key, secret.encode("utf-8", "surrogatepass"), "sha256").hex()

    def verify(self, secret: str, digest: str) -> bool:
        return hmac.compare_digest(self.digest(secret), digest)

    def new_secret(self) -> tuple[str, str]:
        """A fresh client secret and its digest; show the secret once, store the digest."""
        secret = mint(CLIENT_SECRET_PREFIX)
        return secret, self.digest(secret)
