"""The contract of :class:`AuditStore` and the optional :class:`AuditedTokenStore`."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ..core.models import AuditEvent
from ..core.storage import AuditedTokenStore, AuditStore, ClientStore, Storage, TokenStore
from ..core.stores import missing_methods
from .records import NOW, client, requires, token


def event(at: int = NOW, name: str = "token.issued", **changes: object) -> AuditEvent:
    base = AuditEvent(
        at=at,
        event=name,
        client_id="client-1",
        subject="user-1",
        ip="2001:db8::1",
        request_id="req-1",
        detail={
            "grant_type": "client_credentials",
            "scope": "read ünï ✓",
            "count": 3,
            "refresh_token": False,
            "nothing": None,
            "list": ["a", 1, True],
        },
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def record_all(store: Storage, *events: AuditEvent) -> None:
    for e in events:  # one by one: ids follow this order
        await store.record_audit_event(e)


def stripped(events: list[AuditEvent]) -> list[AuditEvent]:
    return [dataclasses.replace(e, id=None) for e in events]


class AuditStoreContract:
    """Audit events: appended, listed newest first, purged by age."""

    async def test_implements_the_audit_store_protocol(self, store: Storage) -> None:
        assert not missing_methods(store, AuditStore), missing_methods(store, AuditStore)

    async def test_an_event_round_trips_every_field(self, store: Storage) -> None:
        await store.record_audit_event(event())
        [listed] = await store.list_audit_events()
        assert isinstance(listed.id, int)
        assert dataclasses.replace(listed, id=None) == event()

    async def test_empty_fields_round_trip(self, store: Storage) -> None:
        bare = AuditEvent(at=NOW, event="login.failed")
        await store.record_audit_event(bare)
        [listed] = await store.list_audit_events()
        assert dataclasses.replace(listed, id=None) == bare
        assert listed.detail == {}

    async def test_the_given_id_is_ignored_and_ids_increase(self, store: Storage) -> None:
        await record_all(store, event(id=999), event(id=999))
        first, second = await store.list_audit_events(limit=10)
        assert first.id is not None and second.id is not None
        # both were given 999: the store numbered them itself, the later one higher
        assert first.id > second.id

    async def test_the_recorded_detail_is_a_copy(self, store: Storage) -> None:
        detail = {"a": 1}
        await store.record_audit_event(event(detail=detail))
        detail["a"] = 2
        [listed] = await store.list_audit_events()
        assert listed.detail == {"a": 1}

    async def test_newest_first_by_time_then_id(self, store: Storage) -> None:
        await record_all(
            store,
            event(at=NOW, detail={"n": 1}),
            event(at=NOW + 5, detail={"n": 2}),
            event(at=NOW - 5, detail={"n": 3}),
            event(at=NOW, detail={"n": 4}),
        )
        listed = await store.list_audit_events()
        assert [e.detail["n"] for e in listed] == [2, 4, 1, 3]

    async def test_limit(self, store: Storage) -> None:
        await record_all(store, *(event(at=NOW + i, detail={"n": i}) for i in range(5)))
        assert [e.detail["n"] for e in await store.list_audit_events(limit=2)] == [4, 3]
        assert await store.list_audit_events(limit=0) == []
        assert len(await store.list_audit_events(limit=50)) == 5

    async def test_filter_by_event_names(self, store: Storage) -> None:
        await record_all(
            store,
            event(name="token.issued"),
            event(name="login.failed"),
            event(name="refresh.reuse_detected"),
        )
        found = await store.list_audit_events(events={"login.failed", "refresh.reuse_detected"})
        assert sorted(e.event for e in found) == ["login.failed", "refresh.reuse_detected"]
        assert [e.event for e in await store.list_audit_events(events=["token.issued"])] == [
            "token.issued"
        ]
        assert await store.list_audit_events(events=[]) == []
        assert await store.list_audit_events(events=["no.such"]) == []

    async def test_filter_by_client_and_subject(self, store: Storage) -> None:
        await record_all(
            store,
            event(client_id="a", subject="u1"),
            event(client_id="b", subject="u1"),
            event(client_id="a", subject="u2"),
            event(client_id=None, subject=None),
        )
        by_client = await store.list_audit_events(client_id="a")
        assert sorted((e.client_id, e.subject) for e in by_client) == [("a", "u1"), ("a", "u2")]
        by_subject = await store.list_audit_events(subject="u1")
        assert sorted((e.client_id, e.subject) for e in by_subject) == [("a", "u1"), ("b", "u1")]
        both = await store.list_audit_events(client_id="a", subject="u2")
        assert [(e.client_id, e.subject) for e in both] == [("a", "u2")]

    async def test_since_is_inclusive_and_until_exclusive(self, store: Storage) -> None:
        await record_all(store, *(event(at=NOW + i) for i in range(5)))
        window = await store.list_audit_events(since=NOW + 1, until=NOW + 3)
        assert [e.at for e in window] == [NOW + 2, NOW + 1]
        assert [e.at for e in await store.list_audit_events(since=NOW + 4)] == [NOW + 4]
        assert [e.at for e in await store.list_audit_events(until=NOW + 1)] == [NOW]

    async def test_filters_combine(self, store: Storage) -> None:
        await record_all(
            store,
            event(at=NOW, name="login.failed", subject="u1"),
            event(at=NOW + 10, name="login.failed", subject="u1"),
            event(at=NOW + 10, name="login.failed", subject="u2"),
            event(at=NOW + 10, name="login.locked", subject="u1"),
        )
        found = await store.list_audit_events(events=["login.failed"], subject="u1", since=NOW + 1)
        assert stripped(found) == [event(at=NOW + 10, name="login.failed", subject="u1")]

    async def test_purge_deletes_only_older_events_oldest_first_in_batches(
        self, store: Storage
    ) -> None:
        await record_all(store, *(event(at=NOW - 100 + i, detail={"n": i}) for i in range(5)))
        await store.record_audit_event(event(at=NOW, detail={"n": "kept"}))
        assert await store.purge_audit_events(NOW - 97, 2) == 2  # the two oldest
        assert sorted(e.at for e in await store.list_audit_events()) == [
            NOW - 98,
            NOW - 97,
            NOW - 96,
            NOW,
        ]
        assert await store.purge_audit_events(NOW, 10) == 3  # at < before: NOW stays
        assert [e.detail["n"] for e in await store.list_audit_events()] == ["kept"]
        assert await store.purge_audit_events(NOW, 10) == 0

    async def test_other_purges_and_deleting_a_client_keep_events(self, store: Storage) -> None:
        requires(store, ClientStore, TokenStore)
        await store.save_client(client())
        await store.save_token(token(expires_at=NOW - 1))
        await store.record_audit_event(event(at=NOW - 10_000_000))
        assert await store.purge_expired(NOW, 100) == 1
        assert await store.delete_client("client-1") is True
        [kept] = await store.list_audit_events(client_id="client-1")
        assert kept.at == NOW - 10_000_000

    async def test_purge_all_drains_audit_events_past_retention(self, store: Storage) -> None:
        from mintage.core.stores import purge_all

        await record_all(store, *(event(at=NOW - 1000 + i) for i in range(7)))
        await store.record_audit_event(event(at=NOW))
        assert await purge_all(store, NOW, 2, audit_before=NOW - 1) == 7
        assert [e.at for e in await store.list_audit_events()] == [NOW]
        # without a cut-off (retention 0: keep forever) nothing of it goes
        assert await purge_all(store, NOW + 10**9, 2) == 0
        assert len(await store.list_audit_events()) == 1

    async def test_concurrent_records_all_kept(self, store: Storage) -> None:
        await asyncio.gather(*(store.record_audit_event(event(detail={"n": i})) for i in range(50)))
        listed = await store.list_audit_events(limit=100)
        assert sorted(e.detail["n"] for e in listed) == list(range(50))
        assert len({e.id for e in listed}) == 50

    @pytest.mark.parametrize("count", [1, 2])
    async def test_tokens_saved_with_their_event(self, store: Storage, count: int) -> None:
        """The optional fast path of the issuer (skipped for a store without it)."""
        requires(store, AuditedTokenStore)
        assert isinstance(store, AuditedTokenStore)
        saved = [token(f"t{i}", family_id="fam") for i in range(count)]
        await store.save_tokens_audited(saved, event())
        for t in saved:
            assert await store.get_token(t.digest) == t
        assert stripped(await store.list_audit_events()) == [event()]

    async def test_consume_records_its_event_only_when_it_wins(self, store: Storage) -> None:
        requires(store, AuditedTokenStore)
        assert isinstance(store, AuditedTokenStore)
        await store.save_token(token())
        won = await store.consume_token_audited(
            "digest-1", NOW, event(name="token.refreshed"), "sealed-successor"
        )
        assert won == token()
        assert stripped(await store.list_audit_events()) == [event(name="token.refreshed")]
        # as consume_token: marked consumed, with the grace window's sealed successor
        assert await store.get_token("digest-1") == token(
            consumed_at=NOW, successor="sealed-successor"
        )
        # spent, unknown, revoked, expired: no winner, no event
        await store.save_token(token("revoked", revoked_at=NOW - 1))
        await store.save_token(token("expired", expires_at=NOW))
        for digest in ("digest-1", "unknown", "revoked", "expired"):
            assert await store.consume_token_audited(digest, NOW, event()) is None
        assert len(await store.list_audit_events()) == 1

    async def test_concurrent_audited_consumes_record_one_event(self, store: Storage) -> None:
        requires(store, AuditedTokenStore)
        assert isinstance(store, AuditedTokenStore)
        await store.save_token(token())
        results = await asyncio.gather(
            *(
                store.consume_token_audited("digest-1", NOW, event(detail={"n": i}))
                for i in range(20)
            )
        )
        assert sum(r is not None for r in results) == 1
        [recorded] = await store.list_audit_events()
        assert results[recorded.detail["n"]] is not None  # the winner's event
