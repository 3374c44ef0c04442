"""The contract of :class:`ClientStore`, :class:`TokenStore` and :class:`UserStore`."""

from __future__ import annotations

import asyncio

import pytest

from ..core.models import Client, Token, TokenKind
from ..core.storage import ClientStore, Storage, TokenStore, UserStore
from ..core.stores import missing_methods
from .records import NOW, client, requires, token, user

SEALED = "v1." + "A" * 300  # what the refresh grant stores: opaque text, a few hundred bytes


class ClientStoreContract:
    """Registered clients (RFC 6749 §2)."""

    async def test_implements_the_client_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, ClientStore), missing_methods(store, ClientStore)

    async def test_client_round_trips_every_field(self, store: Storage) -> None:
        original = client()
        await store.save_client(original)
        assert await store.get_client("client-1") == original

    async def test_public_client_with_defaults_and_empty_tuples(self, store: Storage) -> None:
        public = Client(client_id="public", name="", grant_types=(), scopes=())
        await store.save_client(public)
        loaded = await store.get_client("public")
        assert loaded == public
        assert loaded is not None and loaded.is_public
        assert loaded.redirect_uris == () and loaded.access_token_lifetime is None

    async def test_save_client_replaces_by_id(self, store: Storage) -> None:
        await store.save_client(client())
        changed = client(name="Renamed", scopes=("email",), secret_digest=None, created_at=NOW)
        await store.save_client(changed)
        assert await store.get_client("client-1") == changed
        assert await store.list_clients() == [changed]

    async def test_client_resources_round_trip_and_replace(self, store: Storage) -> None:
        """RFC 8707 resource identifiers a client serves: kept in order, replaced on save."""
        await store.save_client(client())
        loaded = await store.get_client("client-1")
        assert loaded is not None
        assert loaded.resources == ("https://api.example/v1", "urn:example:ré:source")
        await store.save_client(client(resources=("https://other.example/",)))
        assert [c.resources for c in await store.list_clients()] == [("https://other.example/",)]
        await store.save_client(client(resources=()))
        loaded = await store.get_client("client-1")
        assert loaded is not None and loaded.resources == ()

    async def test_get_unknown_client_is_none(self, store: Storage) -> None:
        assert await store.get_client("nope") is None

    async def test_list_clients_orders_by_created_at_then_id(self, store: Storage) -> None:
        assert await store.list_clients() == []
        # Code point order for ids (upper case before lower, accents last) on every backend.
        for cid in ["b", "a", "B", "é", "a2"]:
            await store.save_client(client(cid, created_at=NOW))
        await store.save_client(client("z-old", created_at=NOW - 5))
        listed = [c.client_id for c in await store.list_clients()]
        assert listed == ["z-old", "B", "a", "a2", "b", "é"]

    async def test_delete_client_deletes_its_tokens_only(self, store: Storage) -> None:
        requires(store, TokenStore)
        await store.save_client(client("c1"))
        await store.save_client(client("c2"))
        await store.save_token(token("t1", client_id="c1"))
        await store.save_token(token("t2", client_id="c1", kind=TokenKind.ACCESS))
        await store.save_token(token("t3", client_id="c2"))
        assert await store.delete_client("c1") is True
        assert await store.get_client("c1") is None
        assert await store.get_token("t1") is None
        assert await store.get_token("t2") is None
        assert await store.get_token("t3") == token("t3", client_id="c2")
        assert await store.get_client("c2") is not None
        assert await store.delete_client("c1") is False

    async def test_delete_unknown_client_is_false(self, store: Storage) -> None:
        assert await store.delete_client("nope") is False

    @pytest.mark.parametrize("require_pkce", [True, False])
    async def test_client_require_pkce_round_trips(
        self, store: Storage, require_pkce: bool
    ) -> None:
        await store.save_client(client(require_pkce=require_pkce))
        loaded = await store.get_client("client-1")
        assert loaded == client(require_pkce=require_pkce)
        assert loaded is not None and loaded.require_pkce is require_pkce
        assert [c.require_pkce for c in await store.list_clients()] == [require_pkce]

    async def test_client_require_pkce_defaults_to_true(self, store: Storage) -> None:
        await store.save_client(Client(client_id="c", name="", grant_types=(), scopes=()))
        loaded = await store.get_client("c")
        assert loaded is not None and loaded.require_pkce is True


class TokenStoreContract:
    """Issued tokens: one winner per consume (RFC 9700 §4.14), families, purge."""

    async def test_implements_the_token_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, TokenStore), missing_methods(store, TokenStore)

    @pytest.mark.parametrize(
        "original",
        [
            token(),
            token(kind=TokenKind.ACCESS, subject=None, scope=""),
            token(revoked_at=NOW - 1, consumed_at=NOW - 2, scope="ünï códe"),
        ],
        ids=["refresh", "access-no-subject", "revoked-consumed"],
    )
    async def test_token_round_trips_every_field(self, store: Storage, original: Token) -> None:
        await store.save_token(original)
        loaded = await store.get_token(original.digest)
        assert loaded == original
        assert loaded is not None and type(loaded.kind) is TokenKind

    async def test_get_unknown_token_is_none(self, store: Storage) -> None:
        assert await store.get_token("nope") is None

    async def test_consume_wins_once_and_returns_the_token_as_it_was(self, store: Storage) -> None:
        await store.save_token(token())
        assert await store.consume_token("digest-1", NOW) == token()
        assert await store.get_token("digest-1") == token(consumed_at=NOW)
        assert await store.consume_token("digest-1", NOW) is None
        assert await store.consume_token("digest-1", NOW + 1) is None

    @pytest.mark.parametrize(
        "spent",
        [
            token(revoked_at=NOW - 1),
            token(consumed_at=NOW - 1),
            token(expires_at=NOW),  # expires_at must be strictly after now
            token(expires_at=NOW - 1),
        ],
        ids=["revoked", "consumed", "expires-now", "expired"],
    )
    async def test_consume_refuses_spent_tokens(self, store: Storage, spent: Token) -> None:
        await store.save_token(spent)
        assert await store.consume_token(spent.digest, NOW) is None
        assert await store.get_token(spent.digest) == spent

    async def test_consume_unknown_token_is_none(self, store: Storage) -> None:
        assert await store.consume_token("nope", NOW) is None

    async def test_consume_just_before_expiry_wins(self, store: Storage) -> None:
        await store.save_token(token(expires_at=NOW + 1))
        assert await store.consume_token("digest-1", NOW) is not None

    async def test_fifty_concurrent_consumes_have_one_winner(self, store: Storage) -> None:
        """RFC 9700 §4.14: a refresh token or code redeemed concurrently wins exactly once."""
        await store.save_token(token())
        results = await asyncio.gather(*(store.consume_token("digest-1", NOW) for _ in range(50)))
        winners = [r for r in results if r is not None]
        assert winners == [token()]
        stored = await store.get_token("digest-1")
        assert stored is not None and stored.consumed_at == NOW

    async def test_revoke_token(self, store: Storage) -> None:
        await store.save_token(token("t1"))
        await store.save_token(token("t2"))
        assert await store.revoke_token("t1", NOW) is True
        assert await store.get_token("t1") == token("t1", revoked_at=NOW)
        assert await store.revoke_token("t1", NOW + 5) is False  # keeps the first time
        assert await store.get_token("t1") == token("t1", revoked_at=NOW)
        assert await store.get_token("t2") == token("t2")
        assert await store.revoke_token("nope", NOW) is False

    async def test_revoke_family_touches_only_that_family(self, store: Storage) -> None:
        await store.save_token(token("f1-a", family_id="f1"))
        await store.save_token(token("f1-b", family_id="f1", kind=TokenKind.ACCESS))
        await store.save_token(token("f1-old", family_id="f1", revoked_at=NOW - 50))
        await store.save_token(token("f2-a", family_id="f2"))
        assert await store.revoke_family("f1", NOW) == 2
        assert await store.get_token("f1-a") == token("f1-a", family_id="f1", revoked_at=NOW)
        assert await store.get_token("f1-b") == token(
            "f1-b", family_id="f1", kind=TokenKind.ACCESS, revoked_at=NOW
        )
        assert await store.get_token("f1-old") == token(
            "f1-old", family_id="f1", revoked_at=NOW - 50
        )
        assert await store.get_token("f2-a") == token("f2-a", family_id="f2")
        assert await store.revoke_family("f1", NOW + 1) == 0
        assert await store.revoke_family("unknown", NOW) == 0

    async def test_revoked_family_cannot_be_consumed(self, store: Storage) -> None:
        await store.save_token(token())
        await store.revoke_family("family-1", NOW)
        assert await store.consume_token("digest-1", NOW) is None

    async def test_purge_deletes_only_expired_rows(self, store: Storage) -> None:
        await store.save_token(token("expired", expires_at=NOW - 1))
        await store.save_token(token("expires-now", expires_at=NOW))
        await store.save_token(token("live", expires_at=NOW + 1))
        await store.save_token(token("revoked-live", revoked_at=NOW - 1))
        assert await store.purge_expired(NOW, 100) == 1
        assert await store.get_token("expired") is None
        for digest in ("expires-now", "live", "revoked-live"):
            assert await store.get_token(digest) is not None
        assert await store.purge_expired(NOW, 100) == 0

    async def test_purge_respects_batch_size(self, store: Storage) -> None:
        for i in range(7):
            await store.save_token(token(f"old-{i}", expires_at=NOW - 100 + i))
        await store.save_token(token("live"))
        assert await store.purge_expired(NOW, 3) == 3
        assert await store.purge_expired(NOW, 3) == 3
        assert await store.purge_expired(NOW, 3) == 1
        assert await store.purge_expired(NOW, 3) == 0
        assert await store.get_token("live") == token("live")
        assert all([await store.get_token(f"old-{i}") is None for i in range(7)])

    # the refresh grace window's successor (RFC 9700 §4.14.2, core/grants/refresh_grace.py)

    async def test_consume_with_a_successor_stores_it_and_returns_the_token_as_it_was(
        self,
        store: Storage,
    ) -> None:
        await store.save_token(token())
        assert await store.consume_token("digest-1", NOW, SEALED) == token()
        assert await store.get_token("digest-1") == token(consumed_at=NOW, successor=SEALED)

    async def test_consume_without_a_successor_stores_none(self, store: Storage) -> None:
        await store.save_token(token())
        assert await store.consume_token("digest-1", NOW) == token()
        stored = await store.get_token("digest-1")
        assert stored is not None and stored.consumed_at == NOW and stored.successor is None

    async def test_a_losing_consume_leaves_the_winners_successor(self, store: Storage) -> None:
        await store.save_token(token())
        assert await store.consume_token("digest-1", NOW, "first") is not None
        assert await store.consume_token("digest-1", NOW, "second") is None
        stored = await store.get_token("digest-1")
        assert stored is not None and stored.successor == "first"

    async def test_spent_tokens_take_no_successor(self, store: Storage) -> None:
        await store.save_token(token("revoked", revoked_at=NOW - 1))
        await store.save_token(token("expired", expires_at=NOW))
        for digest in ("revoked", "expired"):
            assert await store.consume_token(digest, NOW, SEALED) is None
            stored = await store.get_token(digest)
            assert stored is not None and stored.successor is None and stored.consumed_at is None

    async def test_fifty_concurrent_consumes_store_the_one_winners_successor(
        self, store: Storage
    ) -> None:
        await store.save_token(token())
        results = await asyncio.gather(
            *(store.consume_token("digest-1", NOW, f"sealed-{i}") for i in range(50))
        )
        winners = [i for i, r in enumerate(results) if r is not None]
        assert len(winners) == 1
        stored = await store.get_token("digest-1")
        assert stored is not None and stored.successor == f"sealed-{winners[0]}"

    async def test_token_with_a_successor_round_trips(self, store: Storage) -> None:
        original = token(consumed_at=NOW - 1, successor=SEALED)
        await store.save_token(original)
        assert await store.get_token("digest-1") == original

    async def test_token_repr_leaves_the_sealed_successor_out(self) -> None:
        assert SEALED not in repr(token(successor=SEALED))


class UserStoreContract:
    """Accounts, by id and exact username."""

    async def test_implements_the_user_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, UserStore), missing_methods(store, UserStore)

    async def test_user_round_trips_every_field(self, store: Storage) -> None:
        original = user()
        await store.save_user(original)
        assert await store.get_user("user-1") == original
        assert await store.get_user_by_username("alice") == original

    async def test_user_with_empty_claims_and_unicode_username(self, store: Storage) -> None:
        original = user("user-2", username="żółw", claims={})
        await store.save_user(original)
        assert await store.get_user_by_username("żółw") == original

    async def test_username_lookup_is_exact(self, store: Storage) -> None:
        await store.save_user(user())
        assert await store.get_user_by_username("Alice") is None
        assert await store.get_user_by_username("alice ") is None

    async def test_unknown_users_are_none(self, store: Storage) -> None:
        assert await store.get_user("nope") is None
        assert await store.get_user_by_username("nobody") is None

    async def test_save_user_replaces_and_may_rename(self, store: Storage) -> None:
        await store.save_user(user())
        renamed = user(username="alice2", password_hash="new", claims={"k": "v"})
        await store.save_user(renamed)
        assert await store.get_user("user-1") == renamed
        assert await store.get_user_by_username("alice") is None
        assert await store.get_user_by_username("alice2") == renamed

    async def test_username_taken_by_another_user_is_refused(self, store: Storage) -> None:
        await store.save_user(user("user-1", username="alice"))
        await store.save_user(user("user-2", username="bob"))
        with pytest.raises(ValueError, match="taken"):
            await store.save_user(user("user-3", username="alice"))
        with pytest.raises(ValueError, match="taken"):
            await store.save_user(user("user-2", username="alice"))
        assert await store.get_user("user-3") is None
        assert await store.get_user_by_username("bob") == user("user-2", username="bob")
        assert await store.get_user_by_username("alice") == user("user-1", username="alice")
        # The store still works after the refused write.
        await store.save_user(user("user-3", username="carol"))
        assert await store.get_user("user-3") is not None
