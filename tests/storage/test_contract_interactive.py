"""The storage contract of sign-in (codes, consents, sessions, revocation by subject,
purge), run against memory, SQLite and PostgreSQL; the lock-out has
``test_contract_login_failures.py``.

As ``test_contract.py``: every store must pass every test here unchanged.
"""

from __future__ import annotations

import asyncio

import pytest
from storage_records import NOW, client, code, consent, session, token

from mintage.core.models import AuthorizationCode, Client, TokenKind
from mintage.core.storage import (
    AuthorizationCodeStore,
    ConsentStore,
    LoginAttemptStore,
    SessionStore,
    Storage,
    SubjectTokenStore,
)


async def test_implements_the_sign_in_protocols(store: Storage) -> None:
    for protocol in (
        AuthorizationCodeStore,
        ConsentStore,
        SessionStore,
        LoginAttemptStore,
        SubjectTokenStore,
    ):
        assert isinstance(store, protocol), protocol.__name__


# clients and users: the sign-in fields --------------------------------------------------


@pytest.mark.parametrize("require_pkce", [True, False])
async def test_client_require_pkce_round_trips(store: Storage, require_pkce: bool) -> None:
    await store.save_client(client(require_pkce=require_pkce))
    loaded = await store.get_client("client-1")
    assert loaded == client(require_pkce=require_pkce)
    assert loaded is not None and loaded.require_pkce is require_pkce
    assert [c.require_pkce for c in await store.list_clients()] == [require_pkce]


async def test_client_require_pkce_defaults_to_true(store: Storage) -> None:
    await store.save_client(Client(client_id="c", name="", grant_types=(), scopes=()))
    loaded = await store.get_client("c")
    assert loaded is not None and loaded.require_pkce is True


# authorization codes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "original",
    [
        code(),
        code(redirect_uri="", code_challenge=None, code_challenge_method=None, nonce=None),
        code(scope="", consumed_at=NOW - 1, code_challenge_method="plain"),
    ],
    ids=["full", "no-redirect-uri-no-pkce-no-nonce", "consumed-empty-scope"],
)
async def test_code_round_trips_every_field(store: Storage, original: AuthorizationCode) -> None:
    await store.save_code(original)
    assert await store.get_code(original.digest) == original


async def test_get_unknown_code_is_none(store: Storage) -> None:
    assert await store.get_code("nope") is None


async def test_consume_code_wins_once_and_returns_the_code_as_it_was(store: Storage) -> None:
    await store.save_code(code())
    assert await store.consume_code("code-1", NOW) == code()
    assert await store.get_code("code-1") == code(consumed_at=NOW)
    assert await store.consume_code("code-1", NOW) is None
    assert await store.consume_code("code-1", NOW + 1) is None
    assert await store.get_code("code-1") == code(consumed_at=NOW)


async def test_consume_code_keeps_none_fields(store: Storage) -> None:
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
async def test_consume_code_refuses_spent_codes(store: Storage, spent: AuthorizationCode) -> None:
    await store.save_code(spent)
    assert await store.consume_code(spent.digest, NOW) is None
    assert await store.get_code(spent.digest) == spent


async def test_consume_unknown_code_is_none(store: Storage) -> None:
    assert await store.consume_code("nope", NOW) is None


async def test_consume_code_just_before_expiry_wins(store: Storage) -> None:
    await store.save_code(code(expires_at=NOW + 1))
    assert await store.consume_code("code-1", NOW) is not None


async def test_fifty_concurrent_code_consumes_have_one_winner(store: Storage) -> None:
    """RFC 6749 §4.1.2, RFC 9700 §4.14: a code redeemed concurrently wins exactly once."""
    await store.save_code(code())
    await store.save_code(code("other"))
    results = await asyncio.gather(*(store.consume_code("code-1", NOW) for _ in range(50)))
    assert [r for r in results if r is not None] == [code()]
    assert await store.get_code("code-1") == code(consumed_at=NOW)
    assert await store.get_code("other") == code("other")


# consents -------------------------------------------------------------------------------


async def test_consent_round_trips(store: Storage) -> None:
    await store.save_consent(consent())
    assert await store.get_consent("user-1", "client-1") == consent()
    assert await store.get_consent("user-1", "client-2") is None
    assert await store.get_consent("user-2", "client-1") is None


async def test_consent_with_no_scopes(store: Storage) -> None:
    await store.save_consent(consent(scopes=()))
    assert await store.get_consent("user-1", "client-1") == consent(scopes=())


async def test_save_consent_replaces_that_pair_only(store: Storage) -> None:
    await store.save_consent(consent())
    await store.save_consent(consent(client_id="client-2"))
    changed = consent(scopes=("openid", "api:read", "ünï"), granted_at=NOW + 5)
    await store.save_consent(changed)
    assert await store.get_consent("user-1", "client-1") == changed
    assert await store.get_consent("user-1", "client-2") == consent(client_id="client-2")
    assert await store.list_consents("user-1") == [changed, consent(client_id="client-2")]


async def test_list_consents_is_the_users_by_client_id(store: Storage) -> None:
    assert await store.list_consents("user-1") == []
    # Code point order for ids on every backend, as list_clients.
    for cid in ["b", "a", "B", "é", "a2"]:
        await store.save_consent(consent(client_id=cid))
    await store.save_consent(consent("user-2", "a"))
    listed = await store.list_consents("user-1")
    assert [c.client_id for c in listed] == ["B", "a", "a2", "b", "é"]
    assert all(c.user_id == "user-1" for c in listed)
    assert await store.list_consents("user-2") == [consent("user-2", "a")]


async def test_delete_consent(store: Storage) -> None:
    await store.save_consent(consent())
    await store.save_consent(consent(client_id="client-2"))
    await store.save_consent(consent("user-2"))
    assert await store.delete_consent("user-1", "client-1") is True
    assert await store.get_consent("user-1", "client-1") is None
    assert await store.delete_consent("user-1", "client-1") is False
    assert await store.delete_consent("nobody", "client-1") is False
    assert await store.list_consents("user-1") == [consent(client_id="client-2")]
    assert await store.get_consent("user-2", "client-1") == consent("user-2")


# sessions -------------------------------------------------------------------------------


async def test_session_round_trip_and_delete(store: Storage) -> None:
    await store.save_session(session())
    await store.save_session(session("session-2", user_id="user-2"))
    assert await store.get_session("session-1") == session()
    assert await store.delete_session("session-1") is True
    assert await store.get_session("session-1") is None
    assert await store.delete_session("session-1") is False
    assert await store.get_session("session-2") == session("session-2", user_id="user-2")


async def test_expired_session_is_still_returned(store: Storage) -> None:
    expired = session(expires_at=NOW - 1)
    await store.save_session(expired)
    assert await store.get_session("session-1") == expired


async def test_unknown_session_is_none(store: Storage) -> None:
    assert await store.get_session("nope") is None
    assert await store.delete_session("nope") is False


# revocation by subject ------------------------------------------------------------------


async def test_revoke_for_subject_touches_only_that_client_and_subject(store: Storage) -> None:
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


# purge ----------------------------------------------------------------------------------


async def test_purge_deletes_expired_codes_and_sessions(store: Storage) -> None:
    await store.save_code(code("old-code", expires_at=NOW - 1))
    await store.save_code(code("old-consumed", expires_at=NOW - 1, consumed_at=NOW - 30))
    await store.save_code(code("code-now", expires_at=NOW))
    await store.save_code(code("consumed-live", consumed_at=NOW - 1))
    await store.save_session(session("old-session", expires_at=NOW - 1))
    await store.save_session(session("session-now", expires_at=NOW))
    await store.save_token(token("old-token", expires_at=NOW - 1))
    await store.save_consent(consent())
    assert await store.purge_expired(NOW, 100) == 4
    assert await store.get_code("old-code") is None
    assert await store.get_code("old-consumed") is None
    assert await store.get_session("old-session") is None
    assert await store.get_token("old-token") is None
    assert await store.get_code("code-now") is not None
    # A consumed code stays until it expires: a replay must still be recognised.
    assert await store.get_code("consumed-live") is not None
    assert await store.get_session("session-now") is not None
    assert await store.get_consent("user-1", "client-1") == consent()
    assert await store.purge_expired(NOW, 100) == 0


async def test_purge_takes_at_most_a_batch_per_kind(store: Storage) -> None:
    for i in range(4):
        await store.save_token(token(f"t{i}", expires_at=NOW - 100 + i))
        await store.save_code(code(f"c{i}", expires_at=NOW - 100 + i))
        await store.save_session(session(f"s{i}", expires_at=NOW - 100 + i))
    await store.save_code(code("c-old-extra", expires_at=NOW - 200))
    await store.save_session(session("live"))
    assert await store.purge_expired(NOW, 2) == 6  # two of each, oldest first
    assert await store.get_code("c-old-extra") is None
    assert await store.get_token("t0") is None and await store.get_token("t2") is not None
    assert await store.purge_expired(NOW, 2) == 6  # the last two of each, and c3 waits
    assert await store.purge_expired(NOW, 2) == 1  # below the batch: all kinds drained
    assert await store.purge_expired(NOW, 2) == 0
    assert await store.get_session("live") == session("live")


async def test_purge_all_drains_every_kind(store: Storage) -> None:
    from mintage.core.stores import purge_all

    for i in range(5):
        await store.save_code(code(f"c{i}", expires_at=NOW - 1))
    for i in range(3):
        await store.save_session(session(f"s{i}", expires_at=NOW - 1))
    await store.save_token(token("t", expires_at=NOW - 1))
    assert await purge_all(store, NOW, 2) == 9
    assert await store.purge_expired(NOW, 2) == 0


async def test_delete_client_takes_its_codes_and_consents_along(store: Storage) -> None:
    await store.save_client(client("c1"))
    await store.save_client(client("c2"))
    await store.save_code(code("code-c1", client_id="c1"))
    await store.save_code(code("code-c2", client_id="c2"))
    await store.save_consent(consent("u1", "c1"))
    await store.save_consent(consent("u1", "c2"))

    assert await store.delete_client("c1") is True

    assert await store.get_code("code-c1") is None
    assert await store.get_consent("u1", "c1") is None
    # the other client's code and consent are untouched
    assert await store.get_code("code-c2") is not None
    assert [c.client_id for c in await store.list_consents("u1")] == ["c2"]
