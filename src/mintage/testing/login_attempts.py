"""The contract of :class:`LoginAttemptStore` (RFC 6749 §10.10 lock-out): fixed windows,
locks, reads of several keys, clearing and purging."""

from __future__ import annotations

import asyncio

from ..core.models import LoginFailures
from ..core.storage import LoginAttemptStore, Storage, UserStore
from ..core.stores import missing_methods
from .records import NOW, requires, user

KEY = "a:" + "0" * 64
OTHER = "u:" + "1" * 64


async def rows(store: Storage, *keys: str, now: int = NOW) -> set[LoginFailures]:
    return set(await store.get_login_failures(keys, now))


class LoginAttemptStoreContract:
    """Failed sign-ins per key, shared by every worker."""

    async def test_implements_the_login_attempt_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, LoginAttemptStore), missing_methods(
            store, LoginAttemptStore
        )

    async def test_failures_count_in_a_fixed_window(self, store: Storage) -> None:
        assert await store.note_login_failure(KEY, NOW, NOW + 60) == 1
        # later failures keep the window the first one opened
        assert await store.note_login_failure(KEY, NOW + 10, NOW + 70) == 2
        assert await rows(store, KEY) == {LoginFailures(KEY, 2, NOW + 60)}
        # once it has passed the count starts again, in a new window
        assert await store.note_login_failure(KEY, NOW + 60, NOW + 120) == 1
        assert await rows(store, KEY, now=NOW + 60) == {LoginFailures(KEY, 1, NOW + 120)}

    async def test_keys_count_apart_and_are_read_together(self, store: Storage) -> None:
        await store.note_login_failure(KEY, NOW, NOW + 60)
        await store.note_login_failure(KEY, NOW, NOW + 60)
        await store.note_login_failure(OTHER, NOW, NOW + 3600)
        assert await rows(store, KEY, OTHER, "a:unknown") == {
            LoginFailures(KEY, 2, NOW + 60),
            LoginFailures(OTHER, 1, NOW + 3600),
        }
        assert await rows(store, "a:unknown") == set()
        # an expired row reads as absent, though it is still stored
        assert await rows(store, KEY, OTHER, now=NOW + 60) == {LoginFailures(OTHER, 1, NOW + 3600)}

    async def test_lock_outlives_the_window_and_a_new_window_unlocks(self, store: Storage) -> None:
        await store.note_login_failure(KEY, NOW, NOW + 60)
        await store.lock_login(KEY, NOW + 30)
        assert await rows(store, KEY) == {LoginFailures(KEY, 1, NOW + 60, NOW + 30)}
        await store.lock_login(KEY, NOW + 900)  # a lock longer than the window lengthens it
        assert await rows(store, KEY, now=NOW + 899) == {
            LoginFailures(KEY, 1, NOW + 900, NOW + 900)
        }
        assert await store.note_login_failure(KEY, NOW + 100, NOW + 200) == 2  # same window
        assert await store.note_login_failure(KEY, NOW + 900, NOW + 960) == 1
        assert await rows(store, KEY, now=NOW + 900) == {LoginFailures(KEY, 1, NOW + 960)}

    async def test_lock_and_clear_of_an_unknown_key_do_nothing(self, store: Storage) -> None:
        await store.lock_login(KEY, NOW + 30)
        await store.clear_login_failures(KEY)
        assert await rows(store, KEY) == set()
        assert await store.note_login_failure(KEY, NOW, NOW + 60) == 1

    async def test_clear_forgets_one_key(self, store: Storage) -> None:
        await store.note_login_failure(KEY, NOW, NOW + 60)
        await store.lock_login(KEY, NOW + 30)
        await store.note_login_failure(OTHER, NOW, NOW + 60)
        await store.clear_login_failures(KEY)
        assert await rows(store, KEY, OTHER) == {LoginFailures(OTHER, 1, NOW + 60)}
        assert await store.note_login_failure(KEY, NOW, NOW + 60) == 1

    async def test_fifty_concurrent_failures_are_all_counted(self, store: Storage) -> None:
        """RFC 6749 §10.10: concurrent guesses must not slip under the lock-out threshold."""
        counts = await asyncio.gather(
            *(store.note_login_failure(KEY, NOW, NOW + 60) for _ in range(50))
        )
        assert sorted(counts) == list(range(1, 51))
        assert await rows(store, KEY) == {LoginFailures(KEY, 50, NOW + 60)}

    async def test_failures_leave_users_alone(self, store: Storage) -> None:
        requires(store, UserStore)
        await store.save_user(user())
        await store.note_login_failure(KEY, NOW, NOW + 60)
        await store.lock_login(KEY, NOW + 30)
        assert await store.get_user("user-1") == user()

    async def test_purge_deletes_expired_rows_in_batches(self, store: Storage) -> None:
        for i in range(3):
            await store.note_login_failure(f"a:{i}", NOW - 200, NOW - 100 + i)
        await store.note_login_failure(KEY, NOW - 200, NOW)  # expires at NOW: not yet purged
        await store.note_login_failure(OTHER, NOW - 200, NOW - 150)
        await store.lock_login(OTHER, NOW + 30)  # locked: lives until the lock ends
        assert await store.purge_expired(NOW, 2) == 2
        assert await store.purge_expired(NOW, 2) == 1
        assert await store.purge_expired(NOW, 2) == 0
        assert await rows(store, KEY, OTHER, now=NOW - 1) == {
            LoginFailures(KEY, 1, NOW),
            LoginFailures(OTHER, 1, NOW + 30, NOW + 30),
        }
