"""Sealing secrets at rest with AES-256-GCM (NIST SP 800-38D).

Signing keys (and, where enabled, refresh-rotation replies) are stored sealed, so a
database dump yields nothing usable without the key-encryption key, which lives in the
settings or a file, never in the database (docs/architecture.md §4).

A sealed value is ``v1.`` + base64url(nonce ‖ ciphertext ‖ tag).  The associated data
binds it to its row (a key's ``kid``), so a sealed value copied onto another row fails
to open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1."
_NONCE = 12


class SealError(Exception):
    """The value was not sealed with this key, or was altered."""


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (RFC 5869 HKDF-SHA256, ``info`` = purpose), so one
    configured secret never keys two different uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret
    )


class Sealer:
    """Seals and opens small secrets with one AES-256-GCM key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the sealing key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, associated_data: bytes) -> str:
        nonce = os.urandom(_NONCE)  # 96-bit random nonces: far below GCM's 2^32 limit
        sealed = nonce + self._aead.encrypt(nonce, plaintext, associated_data)
        return _VERSION + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, sealed: str, associated_data: bytes) -> bytes:
        if not sealed.startswith(_VERSION):
            raise SealError("unknown sealed format")
        text = sealed[len(_VERSION) :]
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], associated_data)
        except (InvalidTag, ValueError) as exc:
            raise SealError("the sealed value does not open with this key") from exc
