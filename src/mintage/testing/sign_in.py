"""The contract of the sign-in concerns: codes, consents, sessions, revocation by subject."""

from __future__ import annotations

import asyncio

import pytest

from ..core.models import AuthorizationCode, TokenKind
from ..core.storage import (
    AuthorizationCodeStore,
    ConsentStore,
    SessionStore,
    Storage,
    SubjectTokenStore,
    TokenStore,
)
from ..core.stores import missing_methods
from .records import NOW, code, consent, requires, session, token


class AuthorizationCodeStoreContract:
    """Authorization codes: one winner per consume (RFC 6749 §4.1.2)."""

    async def test_implements_the_authorization_code_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, AuthorizationCodeStore), missing_methods(
            store, AuthorizationCodeStore
        )

    @pytest.mark.parametrize(
        "original",
        [
            code(),
            code(redirect_uri="", code_challenge=None, code_challenge_method=None, nonce=None),
            code(scope="", consumed_at=NOW - 1, code_challenge_method="plain"),
        ],
        ids=["full", "no-redirect-uri-no-pkce-no-nonce", "consumed-empty-scope"],
    )
    async def test_code_round_trips_every_field(
        self, store: Storage, original: AuthorizationCode
    ) -> None:
        await store.save_code(original)
        assert await store.get_code(original.digest) == original

    async def test_get_unknown_code_is_none(self, store: Storage) -> None:
        assert await store.get_code("nope") is None

    async def test_consume_code_wins_once_and_returns_the_code_as_it_was(
        self, store: Storage
    ) -> None:
        await store.save_code(code())
        assert await store.consume_code("code-1", NOW) == code()
        assert await store.get_code("code-1") == code(consumed_at=NOW)
        assert await store.consume_code("code-1", NOW) is None
        assert await store.consume_code("code-1", NOW + 1) is None
        assert await store.get_code("code-1") == code(consumed_at=NOW)

    async def test_consume_code_keeps_none_fields(self, store: Storage) -> None:
        bare = code(redirect_uri="", code_challenge=None, code_challenge_method=None, nonce=None)
        await store.save_code(bare)
        assert await store.consume_code("code-1", NOW) == bare

    @pytest.mark.parametrize(
        "spent",
        [
            code(consumed_at=NOW - 1),
            code(expires_at=NOW),  # expires_at must be strictly after now
            code(expires_at=NOW - 1),
        ],
        ids=["consumed", "expires-now", "expired"],
    )
    async def test_consume_code_refuses_spent_codes(
        self, store: Storage, spent: AuthorizationCode
    ) -> None:
        await store.save_code(spent)
        assert await store.consume_code(spent.digest, NOW) is None
        assert await store.get_code(spent.digest) == spent

    async def test_consume_unknown_code_is_none(self, store: Storage) -> None:
        assert await store.consume_code("nope", NOW) is None

    async def test_consume_code_just_before_expiry_wins(self, store: Storage) -> None:
        await store.save_code(code(expires_at=NOW + 1))
        assert await store.consume_code("code-1", NOW) is not None

    async def test_fifty_concurrent_code_consumes_have_one_winner(self, store: Storage) -> None:
        """RFC 6749 §4.1.2, RFC 9700 §4.14: a code redeemed concurrently wins exactly once."""
        await store.save_code(code())
        await store.save_code(code("other"))
        results = await asyncio.gather(*(store.consume_code("code-1", NOW) for _ in range(50)))
        assert [r for r in results if r is not None] == [code()]
        assert await store.get_code("code-1") == code(consumed_at=NOW)
        assert await store.get_code("other") == code("other")


class ConsentStoreContract:
    """What each user granted each client."""

    async def test_implements_the_consent_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, ConsentStore), missing_methods(store, ConsentStore)

    async def test_consent_round_trips(self, store: Storage) -> None:
        await store.save_consent(consent())
        assert await store.get_consent("user-1", "client-1") == consent()
        assert await store.get_consent("user-1", "client-2") is None
        assert await store.get_consent("user-2", "client-1") is None

    async def test_consent_with_no_scopes(self, store: Storage) -> None:
        await store.save_consent(consent(scopes=()))
        assert await store.get_consent("user-1", "client-1") == consent(scopes=())

    async def test_save_consent_replaces_that_pair_only(self, store: Storage) -> None:
        await store.save_consent(consent())
        await store.save_consent(consent(client_id="client-2"))
        changed = consent(scopes=("openid", "api:read", "ünï"), granted_at=NOW + 5)
        await store.save_consent(changed)
        assert await store.get_consent("user-1", "client-1") == changed
        assert await store.get_consent("user-1", "client-2") == consent(client_id="client-2")
        assert await store.list_consents("user-1") == [changed, consent(client_id="client-2")]

    async def test_list_consents_is_the_users_by_client_id(self, store: Storage) -> None:
        assert await store.list_consents("user-1") == []
        # Code point order for ids on every backend, as list_clients.
        for cid in ["b", "a", "B", "é", "a2"]:
            await store.save_consent(consent(client_id=cid))
        await store.save_consent(consent("user-2", "a"))
        listed = await store.list_consents("user-1")
        assert [c.client_id for c in listed] == ["B", "a", "a2", "b", "é"]
        assert all(c.user_id == "user-1" for c in listed)
        assert await store.list_consents("user-2") == [consent("user-2", "a")]

    async def test_delete_consent(self, store: Storage) -> None:
        await store.save_consent(consent())
        await store.save_consent(consent(client_id="client-2"))
        await store.save_consent(consent("user-2"))
        assert await store.delete_consent("user-1", "client-1") is True
        assert await store.get_consent("user-1", "client-1") is None
        assert await store.delete_consent("user-1", "client-1") is False
        assert await store.delete_consent("nobody", "client-1") is False
        assert await store.list_consents("user-1") == [consent(client_id="client-2")]
        assert await store.get_consent("user-2", "client-1") == consent("user-2")


class SessionStoreContract:
    """Browser sign-in sessions."""

    async def test_implements_the_session_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, SessionStore), missing_methods(store, SessionStore)

    async def test_session_round_trip_and_delete(self, store: Storage) -> None:
        await store.save_session(session())
        await store.save_session(session("session-2", user_id="user-2"))
        assert await store.get_session("session-1") == session()
        assert await store.delete_session("session-1") is True
        assert await store.get_session("session-1") is None
        assert await store.delete_session("session-1") is False
        assert await store.get_session("session-2") == session("session-2", user_id="user-2")

    async def test_expired_session_is_still_returned(self, store: Storage) -> None:
        expired = session(expires_at=NOW - 1)
        await store.save_session(expired)
        assert await store.get_session("session-1") == expired

    async def test_unknown_session_is_none(self, store: Storage) -> None:
        assert await store.get_session("nope") is None
        assert await store.delete_session("nope") is False


class SubjectTokenStoreContract:
    """Revocation of a subject's tokens at one client."""

    async def test_implements_the_subject_token_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, SubjectTokenStore), missing_methods(
            store, SubjectTokenStore
        )

    async def test_revoke_for_subject_touches_only_that_client_and_subject(
        self, store: Storage
    ) -> None:
        requires(store, TokenStore)
        await store.save_token(token("mine-refresh"))
        await store.save_token(token("mine-access", kind=TokenKind.ACCESS, family_id="family-2"))
        await store.save_token(token("mine-old", revoked_at=NOW - 50))
        await store.save_token(token("other-subject", subject="user-2"))
        await store.save_token(token("other-client", client_id="client-2"))
        await store.save_token(token("no-subject", subject=None))
        assert await store.revoke_for_subject("client-1", "user-1", NOW) == 2
        assert await store.get_token("mine-refresh") == token("mine-refresh", revoked_at=NOW)
        assert await store.get_token("mine-access") == token(
            "mine-access", kind=TokenKind.ACCESS, family_id="family-2", revoked_at=NOW
        )
        assert await store.get_token("mine-old") == token("mine-old", revoked_at=NOW - 50)
        assert await store.get_token("other-subject") == token("other-subject", subject="user-2")
        assert await store.get_token("other-client") == token("other-client", client_id="client-2")
        assert await store.get_token("no-subject") == token("no-subject", subject=None)
        assert await store.revoke_for_subject("client-1", "user-1", NOW + 1) == 0
        assert await store.revoke_for_subject("client-1", "nobody", NOW) == 0
