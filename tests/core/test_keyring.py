"""Signing keys: sealing at rest, JWKS, rotation with a publication lead, retirement."""

from __future__ import annotations

import warnings

import orjson
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, KeySet

from mintage.core.clock import FrozenClock
from mintage.core.jose import JWSError, generate_key, key_fits, sign, verify
from mintage.core.keyring import KeyRing, KeyRingError
from mintage.core.sealing import Sealer, SealError, derive_key
from mintage.storage.memory import MemoryStorage

KEK = derive_key(b"k" * 32, "test")
LEAD = 600
LIFETIME = 3600


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


Parts = tuple[KeyRing, MemoryStorage, FrozenClock, Monotonic]


@pytest.fixture
def ring_parts() -> Parts:
    store, clock, mono = MemoryStorage(), FrozenClock(), Monotonic()
    ring = KeyRing(
        store, Sealer(KEK), clock, algs=("RS256", "ES256"), publish_lead=LEAD, monotonic=mono
    )
    return ring, store, clock, mono


def test_sealer_round_trip_and_tamper_detection() -> None:
    sealer = Sealer(KEK)
    sealed = sealer.seal(b"secret", b"kid-1")
    assert b"secret" not in sealed.encode()
    assert sealer.open(sealed, b"kid-1") == b"secret"
    with pytest.raises(SealError):
        sealer.open(sealed, b"kid-2")  # moved to another row
    with pytest.raises(SealError):
        Sealer(derive_key(b"other" * 8, "test")).open(sealed, b"kid-1")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError):
        sealer.open(flipped, b"kid-1")
    assert derive_key(b"x" * 32, "a") != derive_key(b"x" * 32, "b")


async def test_first_start_creates_one_key_per_algorithm_sealed(ring_parts: Parts) -> None:
    ring, store, clock, _ = ring_parts
    created = await ring.ensure()
    assert sorted(k.alg for k in created) == ["ES256", "RS256"]
    assert all(k.not_before == clock() for k in created)  # nothing to wait for
    assert await ring.ensure() == []  # idempotent
    for key in await store.list_signing_keys():
        public = orjson.loads(key.public_jwk)
        assert "d" not in public and "p" not in public
        assert '"d"' not in key.private_jwk_sealed and key.private_jwk_sealed.startswith("v1.")


async def test_jwks_has_public_keys_only_and_verifies_signatures(ring_parts: Parts) -> None:
    ring, _, _, _ = ring_parts
    await ring.ensure()
    document = await ring.jwks()
    assert {k["alg"] for k in document["keys"]} == {"RS256", "ES256"}
    for jwk in document["keys"]:
        assert jwk["use"] == "sig" and jwk["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    kid, key = await ring.signer("ES256")
    token = sign({"x": 1}, key, alg="ES256", kid=kid, typ="JWT")
    # an independent check with joserfc and only the published JWKS
    keyset = KeySet.import_key_set(document)
    obj = jws.deserialize_compact(token, keyset, algorithms=["ES256"])
    assert orjson.loads(obj.payload) == {"x": 1}


async def test_rotation_publishes_before_signing_then_retires_the_old_key(
    ring_parts: Parts,
) -> None:
    ring, _, clock, mono = ring_parts
    await ring.ensure()
    old_kid, _ = await ring.signer("RS256")
    new = await ring.rotate("RS256", publish_for=LIFETIME)
    mono.now += 5
    published = {k["kid"] for k in (await ring.jwks())["keys"]}
    assert new.kid in published and old_kid in published
    assert (await ring.signer("RS256"))[0] == old_kid  # the new key waits for the lead
    clock.advance(LEAD)
    mono.now += 5
    assert (await ring.signer("RS256"))[0] == new.kid
    # the old key stays published while tokens it signed may live, then leaves
    clock.advance(LIFETIME - 1)
    mono.now += 5
    assert old_kid in {k["kid"] for k in (await ring.jwks())["keys"]}
    assert await ring.verification_key(old_kid) is not None
    clock.advance(1)
    mono.now += 5
    assert old_kid not in {k["kid"] for k in (await ring.jwks())["keys"]}
    assert await ring.verification_key(old_kid) is None
    assert await ring.prune() == 1
    # ES256 untouched
    assert len([k for k in await ring.keys() if k.alg == "ES256"]) == 1


async def test_rotation_of_an_empty_ring_signs_at_once(ring_parts: Parts) -> None:
    ring, _, clock, _ = ring_parts
    key = await ring.rotate("EdDSA", publish_for=LIFETIME)
    assert key.not_before == clock()
    assert (await ring.signer("EdDSA"))[0] == key.kid


async def test_retire_refuses_the_last_key_and_unpublish_drops_it(ring_parts: Parts) -> None:
    ring, _, clock, mono = ring_parts
    await ring.ensure()
    kid, _ = await ring.signer("RS256")
    with pytest.raises(KeyRingError, match="only RS256"):
        await ring.retire(kid, publish_for=LIFETIME)
    with pytest.raises(KeyRingError, match="no signing key"):
        await ring.retire("nope", publish_for=LIFETIME)
    new = await ring.rotate("RS256", publish_for=LIFETIME)
    retired = await ring.retire(kid, publish_for=LIFETIME, unpublish=True)
    assert retired.retired_at == clock() and retired.publish_until == clock()
    mono.now += 5
    assert kid not in {k["kid"] for k in (await ring.jwks())["keys"]}
    # the retired key no longer signs; the pending one is not due yet, so the ring
    # makes an immediate key rather than sign with nothing
    signer_kid, _ = await ring.signer("RS256")
    assert signer_kid not in (kid, new.kid)


async def test_other_instances_see_a_rotation_within_the_reload_interval(ring_parts: Parts) -> None:
    ring, store, clock, mono = ring_parts
    other = KeyRing(store, Sealer(KEK), clock, algs=("RS256",), publish_lead=LEAD, monotonic=mono)
    await ring.ensure()
    before = {k["kid"] for k in (await other.jwks())["keys"]}
    new = await ring.rotate("RS256", publish_for=LIFETIME)
    assert new.kid not in before
    mono.now += 0.5
    assert new.kid not in {k["kid"] for k in (await other.jwks())["keys"]}  # cached
    mono.now += 0.5
    assert new.kid in {k["kid"] for k in (await other.jwks())["keys"]}
    other.invalidate()  # a notification does it at once
    assert new.kid in {k["kid"] for k in (await other.jwks())["keys"]}


async def test_a_wrong_key_encryption_key_cannot_sign(ring_parts: Parts) -> None:
    ring, store, clock, _ = ring_parts
    await ring.ensure()
    thief = KeyRing(store, Sealer(derive_key(b"z" * 32, "x")), clock, algs=("RS256",))
    with pytest.raises(SealError):
        await thief.signer("RS256")


async def test_due_for_rotation(ring_parts: Parts) -> None:
    ring, _, clock, mono = ring_parts
    assert await ring.due_for_rotation("RS256", 86_400)
    await ring.ensure()
    assert not await ring.due_for_rotation("RS256", 86_400)
    clock.advance(86_400)
    mono.now += 5
    assert await ring.due_for_rotation("RS256", 86_400)


def test_verify_refuses_algorithms_and_key_type_confusion() -> None:
    rsa = generate_key("RS256")
    token = sign({"a": 1}, rsa, alg="RS256", kid="k", typ="JWT")
    assert verify(token, rsa, allowed=("RS256",))[1] == {"a": 1}
    with pytest.raises(JWSError):
        verify(token, rsa, allowed=("ES256",))
    ec = generate_key("ES256")
    with pytest.raises(JWSError):
        verify(token, ec, allowed=("RS256", "ES256"))  # RS256 header, EC key
    with pytest.raises(JWSError):
        verify("not.a.jws", rsa, allowed=("RS256",))


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_our_signatures_verify_with_an_independent_library(alg: str) -> None:
    key = generate_key(alg)
    token = sign({"sub": "ü", "n": 1}, key, alg=alg, kid="k1", typ="at+jwt")
    public = KeySet.import_key_set({"keys": [{**key.as_dict(private=False), "kid": "k1"}]})
    obj = jws.deserialize_compact(token, public, algorithms=[alg])
    assert obj.headers() == {"alg": alg, "typ": "at+jwt", "kid": "k1"}
    assert orjson.loads(obj.payload) == {"sub": "ü", "n": 1}


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_verifying_our_signatures_warns_nothing(alg: str) -> None:
    """joserfc flags EdDSA (RFC 9864); our allow-list registry asks it for no opinion."""
    key = generate_key(alg)
    token = sign({"sub": "s"}, key, alg=alg, kid="k1", typ="JWT")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert verify(token, key, allowed=(alg,))[1] == {"sub": "s"}
    assert [str(w.message) for w in caught] == []


def test_a_key_of_the_wrong_curve_does_not_fit() -> None:
    """RFC 8725 §3.2: the key must be of the type and curve the algorithm needs."""
    p384 = ECKey.generate_key("P-384")
    token = sign({"sub": "s"}, generate_key("ES256"), alg="ES256", kid="k1", typ="JWT")
    assert not key_fits(p384, "ES256") and key_fits(p384, "ES384")
    with pytest.raises(JWSError, match="not accepted"):
        verify(token, p384, allowed=("ES256",))
