"""The auditor alone: building events, recording after the fact, the sign-in events.

The HTTP suite (tests/http/test_audit_events.py) checks what real requests record.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mintage.core.audit import AuditEventType, Auditor, Origin, describe
from mintage.core.clock import FrozenClock
from mintage.core.errors import StorageUnavailableError
from mintage.core.login import LOCK_THRESHOLD, LoginFailed, LoginLocked, LoginService
from mintage.core.models import AuditEvent
from mintage.core.passwords import PasswordVerifier
from mintage.core.users import StoreUserSource
from mintage.storage.memory import MemoryStorage
from oauth_testkit import add_user

ROOT = Path(__file__).resolve().parents[2]
KEY = b"sign-in failure key for the tests"


class Failing(MemoryStorage):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def record_audit_event(self, event: AuditEvent) -> None:
        raise self.error


def test_event_names_are_dotted_and_distinct() -> None:
    names = [kind.value for kind in AuditEventType]
    assert len(set(names)) == len(names)
    assert all(n.count(".") == 1 and n == n.lower() for n in names)


def test_every_event_is_documented_for_operators() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Audit events", 1)[1].split("\n## ", 1)[0]
    for kind in AuditEventType:
        assert f"`{kind.value}`" in section, kind.value


def test_event_carries_origin_and_actor() -> None:
    audit = Auditor(MemoryStorage(), FrozenClock(123))
    event = audit.event(
        AuditEventType.CLIENT_CREATED,
        Origin("192.0.2.1", "req-1", actor="cli:root"),
        client_id="c",
        name="n",
    )
    assert event == AuditEvent(
        at=123,
        event="client.created",
        client_id="c",
        subject=None,
        ip="192.0.2.1",
        request_id="req-1",
        detail={"name": "n", "actor": "cli:root"},
    )
    bare = audit.event(AuditEventType.LOGIN_FAILED, None)
    assert (bare.ip, bare.request_id, bare.detail) == (None, None, {})
    assert type(bare.event) is str  # stored as a plain string


async def test_record_logs_an_event_the_store_cannot_take(
    caplog: pytest.LogCaptureFixture,
) -> None:
    audit = Auditor(Failing(StorageUnavailableError("down")), FrozenClock(5))
    with caplog.at_level(logging.ERROR, logger="mintage.audit"):
        await audit.record(AuditEventType.TOKEN_REVOKED, Origin("198.51.100.2"), client_id="c")
    [entry] = caplog.records
    expected = describe(AuditEvent(5, "token.revoked", "c", None, "198.51.100.2", None, {}))
    assert entry.getMessage().endswith(expected)
    assert entry.levelno == logging.ERROR


async def test_record_lets_a_bug_surface() -> None:
    audit = Auditor(Failing(TypeError("bug")), FrozenClock())
    with pytest.raises(TypeError):
        await audit.record(AuditEventType.TOKEN_REVOKED, None)


async def test_unknown_usernames_lock_without_a_subject() -> None:
    store = MemoryStorage()
    clock = FrozenClock()
    login = LoginService(
        StoreUserSource(store),
        store,
        clock,
        key=KEY,
        verifier=PasswordVerifier(),
        audit=Auditor(store, clock),
    )
    origin = Origin("203.0.113.5")
    for _ in range(LOCK_THRESHOLD):
        with pytest.raises(LoginFailed):
            await login.authenticate("ghost", "pw", origin=origin)
    with pytest.raises(LoginLocked):  # refused while locked: no event
        await login.authenticate("ghost", "pw", origin=origin)
    found = await store.list_audit_events(limit=100)
    assert [e.event for e in found[::-1]] == ["login.failed"] * LOCK_THRESHOLD + ["login.locked"]
    assert {(e.subject, e.ip) for e in found} == {(None, "203.0.113.5")}
    assert "ghost" not in repr(found)


async def test_sign_in_without_an_auditor_records_nothing() -> None:
    store = MemoryStorage()
    login = LoginService(
        StoreUserSource(store), store, FrozenClock(), key=KEY, verifier=PasswordVerifier()
    )
    await add_user(store)
    with pytest.raises(LoginFailed):
        await login.authenticate("alice", "wrong")
    assert store.audit_events == []
