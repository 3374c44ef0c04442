"""The store contract: the executable form of :mod:`mintage.core.storage`.

A store author runs it with one import (pytest and pytest-asyncio installed)::

    import pytest
    from mintage.testing import ClientStoreContract, TokenStoreContract

    class TestMyStore(ClientStoreContract, TokenStoreContract):
        @pytest.fixture
        async def store(self):
            store = MyStore()          # opened and empty, one per test
            yield store

One class per concern; a store that serves some concerns inherits those classes only.
A test spanning concerns (deleting a client deletes its tokens) is skipped unless the
store serves them all.  :class:`StoreContract` is every concern plus the lifecycle and
cross-concern tests a complete :class:`~mintage.core.storage.Storage` must pass (the
bundled stores run it: tests/storage/test_contract.py).  The tests are ``async``:
with pytest-asyncio's strict mode, mark the class ``@pytest.mark.asyncio``.
"""

from __future__ import annotations

from ..core.storage import Storage
from ..core.stores import purge_all
from .audit import AuditStoreContract
from .clients_tokens_users import ClientStoreContract, TokenStoreContract, UserStoreContract
from .keys import KeyStoreContract
from .login_attempts import LoginAttemptStoreContract
from .records import NOW, client, code, consent, session, token
from .sign_in import (
    AuthorizationCodeStoreContract,
    ConsentStoreContract,
    SessionStoreContract,
    SubjectTokenStoreContract,
)

__all__ = [
    "AuditStoreContract",
    "AuthorizationCodeStoreContract",
    "ClientStoreContract",
    "ConsentStoreContract",
    "KeyStoreContract",
    "LoginAttemptStoreContract",
    "SessionStoreContract",
    "StoreContract",
    "SubjectTokenStoreContract",
    "TokenStoreContract",
    "UserStoreContract",
]


class StoreContract(
    ClientStoreContract,
    TokenStoreContract,
    UserStoreContract,
    AuthorizationCodeStoreContract,
    ConsentStoreContract,
    SessionStoreContract,
    LoginAttemptStoreContract,
    SubjectTokenStoreContract,
    KeyStoreContract,
    AuditStoreContract,
):
    """Every concern in one object, as the bundled stores are (purge across kinds,
    deleting a client with its codes and consents, readiness)."""

    async def test_ping_answers_when_open(self, store: Storage) -> None:
        assert await store.ping() is True

    async def test_purge_deletes_expired_codes_and_sessions(self, store: Storage) -> None:
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

    async def test_purge_takes_at_most_a_batch_per_kind(self, store: Storage) -> None:
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

    async def test_purge_all_drains_every_kind(self, store: Storage) -> None:
        for i in range(5):
            await store.save_code(code(f"c{i}", expires_at=NOW - 1))
        for i in range(3):
            await store.save_session(session(f"s{i}", expires_at=NOW - 1))
        await store.save_token(token("t", expires_at=NOW - 1))
        assert await purge_all(store, NOW, 2) == 9
        assert await store.purge_expired(NOW, 2) == 0

    async def test_delete_client_takes_its_codes_and_consents_along(self, store: Storage) -> None:
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
