"""JSON Web Signatures for tokens we issue and check (RFC 7515, RFC 7517, RFC 7519).

A thin layer over joserfc that pins what Mintage allows: the signing algorithms below,
always passed as an explicit allow-list (RFC 8725 §3.1: never let the token's header pick
the algorithm), and key types that must match the algorithm (§3.2, no RS/HS confusion).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

#: RS256 is required by OpenID Connect Core §15.1; ES256 is fast (a P-256 signature costs
#: a fraction of an RSA one); EdDSA (RFC 8037) with Ed25519.  Also what a resource server
#: accepts by default (``mintage.resource``).
SIGNING_ALGS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")

#: Every JWS algorithm Mintage can verify, with the key type (and curves) it needs
#: (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864 §2).  Symmetric (``HS*``) and ``none`` are
#: absent on purpose: nobody here holds a shared secret, and RS/HS confusion (verifying
#: an HMAC keyed with the public key's bytes) starts by accepting ``HS256``.
ALGORITHM_KEYS: Mapping[str, tuple[str, frozenset[str] | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
}

Key = RSAKey | ECKey | OKPKey


class AllowListRegistry(JWSRegistry):
    """Exactly the allow-listed algorithms (RFC 8725 §3.1): no library-wide "recommended"
    fallback, and no per-call deprecation warning for ``EdDSA`` (RFC 9864), which relying
    parties still expect and RFC 8037 registers."""

    def get_alg(self, name: str) -> Any:
        if not self.allowed or name not in self.allowed or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


@functools.cache
def allow_list(algorithms: tuple[str, ...]) -> AllowListRegistry:
    """The registry for ``algorithms``, built once per allow-list."""
    return AllowListRegistry(algorithms=algorithms)


def key_fits(key: Key | OctKey, alg: str) -> bool:
    """``True`` when ``key`` may verify ``alg`` (RFC 8725 §3.2): the type and curve the
    algorithm needs, and the key's own ``alg`` if it declares one."""
    kty, curves = ALGORITHM_KEYS.get(alg, ("", None))
    if key.key_type != kty:
        return False
    if curves is not None and not (isinstance(key, ECKey | OKPKey) and key.curve_name in curves):
        return False
    declared = key.alg
    return declared is None or declared == alg


class JWSError(Exception):
    """The JWS is malformed, uses a refused algorithm, or its signature is wrong."""


def generate_key(alg: str) -> Key:
    if alg == "RS256":
        return RSAKey.generate_key(2048)
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    raise ValueError(f"unsupported signing algorithm {alg!r}; use one of {SIGNING_ALGS}")


def import_key(jwk: dict[str, Any]) -> Key:
    kty = jwk.get("kty")
    if kty == "RSA":
        return RSAKey.import_key(jwk)
    if kty == "EC":
        return ECKey.import_key(jwk)
    if kty == "OKP":
        return OKPKey.import_key(jwk)
    raise ValueError(f"unsupported key type {kty!r}")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signature(alg: str, key: Key, signing_input: bytes) -> bytes:
    """RFC 7518 §3.3 (RS256), §3.4 (ES256: r ‖ s, 32 bytes each), RFC 8037 §3.1 (EdDSA).

    Signing goes straight to ``cryptography``: on the token endpoint the JOSE library's
    own checks of our own header cost about a third of an ES256 signature.  Verification
    (of tokens others present) stays with joserfc.
    """
    private = key.private_key
    if alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        return private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    if alg == "EdDSA" and isinstance(private, ed25519.Ed25519PrivateKey):
        return private.sign(signing_input)
    raise JWSError(f"cannot sign {alg} with this key")


def sign(claims: dict[str, Any], key: Key, *, alg: str, kid: str, typ: str) -> str:
    """A compact JWS over the JSON claims (RFC 7515 §7.1)."""
    header = orjson.dumps({"alg": alg, "typ": typ, "kid": kid})
    signing_input = _b64(header) + b"." + _b64(orjson.dumps(claims))
    return (signing_input + b"." + _b64(_signature(alg, key, signing_input))).decode("ascii")


def header_of(token: str) -> dict[str, Any]:
    """The protected header, unverified: only to pick the key by ``kid``."""
    try:
        head = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise JWSError("not a compact JWS") from exc
    return dict(head)


def verify(
    token: str, key: Key, *, allowed: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a JWS signed by ``key`` with an allowed algorithm."""
    header = header_of(token)
    alg = header.get("alg")
    if alg not in allowed or not isinstance(alg, str) or not key_fits(key, alg):
        raise JWSError("the JWS algorithm is not accepted")
    try:
        obj = jws.deserialize_compact(token, key, registry=allow_list((alg,)))
        claims = orjson.loads(obj.payload)
    except (JoseError, ValueError) as exc:
        raise JWSError("the JWS signature does not verify") from exc
    if not isinstance(claims, dict):
        raise JWSError("the JWS payload is not a JSON object")
    return header, claims
