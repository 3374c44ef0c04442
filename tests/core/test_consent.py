"""Remembered consent: asked again for more scope; withdrawing it revokes the client's
tokens for the user (RFC 9700 §4.14, OAuth 2.1 §7.9)."""

from __future__ import annotations

import pytest

from mintage.core.clock import FrozenClock
from mintage.core.consent import ConsentService
from mintage.core.models import Consent, Token, TokenKind
from mintage.core.server import AuthorizationServer
from mintage.storage.memory import MemoryStorage


@pytest.fixture
def consent(engine: AuthorizationServer) -> ConsentService:
    assert engine.consent is not None
    return engine.consent


async def test_needs_consent_until_remembered(consent: ConsentService) -> None:
    assert await consent.needs_consent("u", "c", ("read",))
    await consent.remember("u", "c", ("read",))
    assert not await consent.needs_consent("u", "c", ("read",))
    assert not await consent.needs_consent("u", "c", ())
    # more scope asks again; other users and clients have their own
    assert await consent.needs_consent("u", "c", ("read", "write"))
    assert await consent.needs_consent("u", "other", ("read",))
    assert await consent.needs_consent("v", "c", ("read",))


async def test_remember_adds_to_what_was_approved(
    consent: ConsentService, clock: FrozenClock
) -> None:
    await consent.remember("u", "c", ("read",))
    clock.advance(10)
    await consent.remember("u", "c", ("write", "read"))
    assert await consent.get("u", "c") == Consent("u", "c", ("read", "write"), clock.now)
    assert not await consent.needs_consent("u", "c", ("write", "read"))


async def test_list_by_client(consent: ConsentService, clock: FrozenClock) -> None:
    await consent.remember("u", "zeta", ("a",))
    await consent.remember("u", "alpha", ("b",))
    await consent.remember("v", "alpha", ("c",))
    assert [c.client_id for c in await consent.list("u")] == ["alpha", "zeta"]
    assert await consent.list("nobody") == []


def token(digest: str, client_id: str, subject: str) -> Token:
    return Token(digest, TokenKind.ACCESS, client_id, "read", 0, 10**10, "f-" + digest, subject)


async def test_revoke_forgets_consent_and_revokes_that_clients_tokens(
    consent: ConsentService, store: MemoryStorage, clock: FrozenClock
) -> None:
    await consent.remember("u", "c", ("read",))
    await consent.remember("u", "other", ("read",))
    for t in (
        token("1", "c", "u"),
        token("2", "c", "u"),
        token("3", "c", "v"),
        token("4", "other", "u"),
    ):
        await store.save_token(t)
    assert await consent.revoke("u", "c") == 2
    assert await consent.get("u", "c") is None
    assert await consent.needs_consent("u", "c", ("read",))
    revoked = {d for d, t in store.tokens.items() if t.revoked_at is not None}
    assert revoked == {"1", "2"}
    assert store.tokens["1"].revoked_at == clock.now
    assert [c.client_id for c in await consent.list("u")] == ["other"]
    assert await consent.revoke("u", "c") == 0  # nothing left
