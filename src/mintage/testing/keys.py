"""The contract of :class:`KeyStore`: JWS signing keys (RFC 7517), private parts sealed."""

from __future__ import annotations

import dataclasses

from ..core.models import SigningKey
from ..core.storage import KeyStore, Storage
from ..core.stores import missing_methods
from .records import NOW


def key(kid: str = "kid-1", **changes: object) -> SigningKey:
    base = SigningKey(
        kid=kid,
        alg="RS256",
        public_jwk='{"kty":"RSA","n":"AQAB","e":"AQAB"}',
        private_jwk_sealed="v1.c2VhbGVk",
        created_at=NOW,
        not_before=NOW + 600,
        retired_at=NOW + 7200,
        publish_until=NOW + 10_800,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


class KeyStoreContract:
    """Signing keys, listed by creation then kid."""

    async def test_implements_the_key_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, KeyStore), missing_methods(store, KeyStore)

    async def test_signing_key_round_trips_every_field(self, store: Storage) -> None:
        await store.save_signing_key(key())
        assert await store.list_signing_keys() == [key()]

    async def test_signing_key_optional_fields_may_be_unset(self, store: Storage) -> None:
        fresh = key(retired_at=None, publish_until=None)
        await store.save_signing_key(fresh)
        assert await store.list_signing_keys() == [fresh]

    async def test_save_signing_key_replaces_by_kid(self, store: Storage) -> None:
        await store.save_signing_key(key(retired_at=None))
        await store.save_signing_key(key())
        assert await store.list_signing_keys() == [key()]

    async def test_signing_keys_are_listed_by_creation_then_kid(self, store: Storage) -> None:
        keys = [key("b", created_at=NOW), key("a", created_at=NOW), key("c", created_at=NOW - 1)]
        for k in keys:
            await store.save_signing_key(k)
        assert [k.kid for k in await store.list_signing_keys()] == ["c", "a", "b"]

    async def test_delete_signing_key(self, store: Storage) -> None:
        await store.save_signing_key(key())
        assert await store.delete_signing_key("kid-1") is True
        assert await store.delete_signing_key("kid-1") is False
        assert await store.list_signing_keys() == []
