"""JSON Web Signatures for tokens we issue and check (RFC 7515, RFC 7517, RFC 7519).

A thin layer over joserfc that pins what Mintage allows: the signing algorithms of
:mod:`.jws_algorithms`, always passed as an explicit allow-list (RFC 8725 §3.1: never let
the token's header pick the algorithm), and key types that must match the algorithm
(§3.2, no RS/HS confusion).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from .jws_algorithms import SIGNING_ALGS, allow_list, key_fits
from .jws_algorithms import Key as Key  # re-exported: the key type of this module's API


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
