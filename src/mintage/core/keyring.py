"""The signing keys in use: generation, rotation, retirement and JWKS (RFC 7517 §5).

Keys live in the :class:`~mintage.core.storage.KeyStore`, private parts sealed with the
key-encryption key.  Every instance reloads the list at most once per
``reload_interval`` (1 s), or at once when told (:meth:`KeyRing.invalidate`, wired to
cross-instance notifications where the store has them), so a rotation made by one
instance or the CLI reaches every other within a second.

Rotation (``mintage keys rotate``, or on a schedule) publishes the new key at once but
lets it sign only from ``not_before = now + publish_lead``: relying parties that cache
JWKS see it before any token carries its ``kid``.  The keys it replaces sign until then,
and stay published until every token they signed has expired (``publish_until``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from .clock import Clock
from .credentials import new_id
from .jose import Key, generate_key, import_key
from .jws_algorithms import SIGNING_ALGS
from .models import SigningKey
from .sealing import Sealer, SealError
from .storage import KeyStore


class KeyRingError(Exception):
    """A key operation that cannot be done (unknown kid, last signing key...)."""


class KeyRing:
    def __init__(
        self,
        store: KeyStore,
        sealer: Sealer,
        clock: Clock,
        *,
        algs: tuple[str, ...] = ("RS256",),
        publish_lead: int = 600,
        reload_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        generate: Callable[[str], Key] = generate_key,
    ) -> None:
        for alg in algs:
            if alg not in SIGNING_ALGS:
                raise ValueError(f"unsupported signing algorithm {alg!r}")
        self._store = store
        self._sealer = sealer
        self._clock = clock
        self.algs = algs
        self._lead = publish_lead
        self._interval = reload_interval
        self._monotonic = monotonic
        #: makes the private key of a new signing key for an algorithm; replaceable
        #: before the first key is made (test suites hand out keys generated once, as
        #: a 2048-bit RSA key costs ~50 ms to generate)
        self.generate = generate
        self._keys: list[SigningKey] = []
        self._loaded_at: float | None = None
        self._private: dict[str, Key] = {}
        self._public: dict[str, Key] = {}

    def now(self) -> int:
        return self._clock()

    # loading ------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Reload on next use (another instance changed the keys)."""
        self._loaded_at = None

    async def keys(self) -> list[SigningKey]:
        """Every stored key, reloaded when older than the reload interval."""
        now = self._monotonic()
        if self._loaded_at is None or now - self._loaded_at >= self._interval:
            self._keys = await self._store.list_signing_keys()
            self._loaded_at = now
        return self._keys

    def _private_key(self, key: SigningKey) -> Key:
        cached = self._private.get(key.kid)
        if cached is None:
            jwk = orjson.loads(self._sealer.open(key.private_jwk_sealed, key.kid.encode()))
            cached = self._private[key.kid] = import_key(jwk)
        return cached

    def _public_key(self, key: SigningKey) -> Key:
        cached = self._public.get(key.kid)
        if cached is None:
            cached = self._public[key.kid] = import_key(orjson.loads(key.public_jwk))
        return cached

    # use ------------------------------------------------------------------------------
    async def signer(self, alg: str) -> tuple[str, Key]:
        """The ``kid`` and private key that signs with ``alg`` now: of the keys whose
        signing window is open, the newest."""
        now = self._clock()
        candidates = [k for k in await self.keys() if k.alg == alg and k.signs_at(now)]
        if not candidates:
            # None yet (first start raced, or every key was retired by hand): a key made
            # now may sign at once, as no token can carry a kid nobody has seen.
            await self._create(alg, now, now)
            candidates = [k for k in await self.keys() if k.alg == alg and k.signs_at(now)]
        key = max(candidates, key=lambda k: (k.not_before, k.created_at, k.kid))
        return key.kid, self._private_key(key)

    async def verification_key(self, kid: str) -> tuple[str, Key] | None:
        """The algorithm and public key of a published key, or ``None``."""
        now = self._clock()
        for key in await self.keys():
            if key.kid == kid and key.published_at(now):
                return key.alg, self._public_key(key)
        return None

    async def jwks(self) -> dict[str, Any]:
        """The JWK Set to publish (RFC 7517 §5): public parts of published keys only."""
        now = self._clock()
        return {
            "keys": [
                {**orjson.loads(k.public_jwk), "kid": k.kid, "alg": k.alg, "use": "sig"}
                for k in await self.keys()
                if k.published_at(now)
            ]
        }

    # management -----------------------------------------------------------------------
    async def ensure(self) -> list[SigningKey]:
        """Create a key for every configured algorithm that has none able to sign now
        or later (first start); returns the keys created."""
        now = self._clock()
        self.invalidate()
        existing = await self.keys()
        created = []
        for alg in self.algs:
            if not any(
                k.alg == alg and (k.retired_at is None or k.retired_at > now) for k in existing
            ):
                created.append(await self._create(alg, now, now))
        return created

    async def rotate(self, alg: str, *, publish_for: int) -> SigningKey:
        """Publish a new ``alg`` key now that signs from ``now + publish_lead``; the keys
        it replaces stop signing then and stay published ``publish_for`` seconds more
        (the longest lifetime of a token they may have signed)."""
        if alg not in SIGNING_ALGS:
            raise KeyRingError(f"unsupported signing algorithm {alg!r}")
        now = self._clock()
        self.invalidate()
        keys = await self.keys()
        # With no key signing now, nothing can wait for the new one: it signs at once.
        signing = any(k.alg == alg and k.signs_at(now) for k in keys)
        starts = now + self._lead if signing else now
        for old in keys:
            if old.alg == alg and (old.retired_at is None or old.retired_at > starts):
                await self._store.save_signing_key(_retired(old, starts, starts + publish_for))
        key = await self._create(alg, now, starts)
        return key

    async def retire(self, kid: str, *, publish_for: int, unpublish: bool = False) -> SigningKey:
        """Stop signing with ``kid`` now.  It stays published ``publish_for`` seconds so
        the tokens it signed stay verifiable, or leaves JWKS at once with ``unpublish``
        (a compromised key: its tokens stop verifying).  Refused when it is the only key
        that can sign with its algorithm: rotate first."""
        now = self._clock()
        self.invalidate()
        keys = await self.keys()
        key = next((k for k in keys if k.kid == kid), None)
        if key is None:
            raise KeyRingError(f"no signing key {kid!r}")
        others = [
            k
            for k in keys
            if k.kid != kid and k.alg == key.alg and (k.retired_at is None or k.retired_at > now)
        ]
        if not others and key.alg in self.algs:
            raise KeyRingError(
                f"{kid} is the only {key.alg} signing key: run `mintage keys rotate` first"
            )
        retired = _retired(key, now, now if unpublish else now + publish_for)
        await self._store.save_signing_key(retired)
        self.invalidate()
        return retired

    async def reseal(self, previous: Sealer) -> int:
        """Seal every key under this ring's key-encryption key that is still sealed
        under ``previous`` (changing the key-encryption key); returns how many changed.
        Keys this ring can open already are left alone, so a rerun is harmless."""
        changed = 0
        self.invalidate()
        for key in await self.keys():
            aad = key.kid.encode()
            try:
                self._sealer.open(key.private_jwk_sealed, aad)
                continue
            except SealError:
                private = previous.open(key.private_jwk_sealed, aad)  # SealError: wrong key
            resealed = replace(key, private_jwk_sealed=self._sealer.seal(private, aad))
            await self._store.save_signing_key(resealed)
            changed += 1
        self.invalidate()
        return changed

    async def prune(self) -> int:
        """Delete keys no longer published; returns how many."""
        now = self._clock()
        gone = [k for k in await self.keys() if not k.published_at(now)]
        for key in gone:
            await self._store.delete_signing_key(key.kid)
        if gone:
            self.invalidate()
        return len(gone)

    async def due_for_rotation(self, alg: str, period: int) -> bool:
        """No key of ``alg`` is younger than ``period`` seconds (scheduled rotation)."""
        now = self._clock()
        newest = max((k.created_at for k in await self.keys() if k.alg == alg), default=None)
        return newest is None or now - newest >= period

    async def _create(self, alg: str, now: int, not_before: int) -> SigningKey:
        private = self.generate(alg)
        kid = new_id()
        public = private.as_dict(private=False)
        key = SigningKey(
            kid=kid,
            alg=alg,
            public_jwk=orjson.dumps(public).decode(),
            private_jwk_sealed=self._sealer.seal(
                orjson.dumps(private.as_dict(private=True)), kid.encode()
            ),
            created_at=now,
            not_before=not_before,
        )
        await self._store.save_signing_key(key)
        self._private[kid] = private
        self.invalidate()
        return key


def _retired(key: SigningKey, at: int, publish_until: int) -> SigningKey:
    return replace(key, retired_at=at, publish_until=max(publish_until, at))
