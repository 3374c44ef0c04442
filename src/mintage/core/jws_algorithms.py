"""The JWS algorithms Mintage signs and verifies with, and the keys each needs.

RFC 8725 §3.1: an explicit allow-list on every verification, never the token's header
choosing; §3.2: a key's type and curve must fit the algorithm.  Imports only joserfc, so
the resource kit (``mintage.resource``) uses the same table without the server's
libraries; signing lives in :mod:`.jose`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from joserfc.errors import UnsupportedAlgorithmError
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
