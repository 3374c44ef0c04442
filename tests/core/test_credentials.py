"""Credential minting and digests (RFC 9700 §4.14, docs/architecture.md §4)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from mintage.core.credentials import (
    ACCESS_TOKEN_PREFIX,
    CLIENT_SECRET_PREFIX,
    REFRESH_TOKEN_PREFIX,
    SecretHasher,
    mint,
    new_id,
    token_digest,
    well_formed,
)

PEPPER = b"p" * 32


@pytest.mark.parametrize("prefix", [ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX])
def test_minted_tokens_carry_256_random_bits(prefix: str) -> None:
    token = mint(prefix)
    assert token.startswith(prefix)
    body = token[len(prefix) : len(prefix) + 43]
    assert len(base64.urlsafe_b64decode(body + "=")) * 8 >= 256
    assert well_formed(token, prefix)


def test_minted_tokens_differ() -> None:
    assert len({mint(ACCESS_TOKEN_PREFIX) for _ in range(1000)}) == 1000


def test_well_formed_checks_prefix_length_and_checksum() -> None:
    token = mint(ACCESS_TOKEN_PREFIX)
    assert not well_formed(token, REFRESH_TOKEN_PREFIX)
    assert not well_formed(token[:-1], ACCESS_TOKEN_PREFIX)
    assert not well_formed(token + "A", ACCESS_TOKEN_PREFIX)
    # one changed character in the random part breaks the CRC-32 check
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert not well_formed(flipped, ACCESS_TOKEN_PREFIX)
    assert not well_formed("", ACCESS_TOKEN_PREFIX)
    assert not well_formed("\ud800" * len(token), ACCESS_TOKEN_PREFIX)


def test_token_digest_is_hex_sha256() -> None:
    token = mint(ACCESS_TOKEN_PREFIX)
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in token_digest(token)


def test_token_digest_accepts_lone_surrogates() -> None:
    # JSON bodies can carry "\ud800"; digesting it must not raise
    assert len(token_digest("\ud800")) == 64


def test_new_id_is_url_safe_and_unique() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_secret_hasher_round_trip() -> None:
    hasher = SecretHasher(PEPPER)
    secret, digest = hasher.new_secret()
    assert secret.startswith(CLIENT_SECRET_PREFIX)
    assert secret not in digest
    assert hasher.verify(secret, digest)
    assert not hasher.verify(secret + "x", digest)
    assert not hasher.verify("", digest)


def test_secret_digest_depends_on_the_pepper() -> None:
    secret, digest = SecretHasher(PEPPER).new_secret()
    assert not SecretHasher(b"q" * 32).verify(secret, digest)
    # a database dump alone (the unkeyed digest) does not match either
    assert digest != hashlib.sha256(secret.encode()).hexdigest()


def test_new_id_never_starts_with_a_dash() -> None:
    # One id in 64 would start with "-" without the guard; 2,000 draws miss it
    # with probability (63/64)^2000, about 2e-14.
    assert not any(new_id().startswith("-") for _ in range(2000))
