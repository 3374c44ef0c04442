"""``mintage audit``, and the events the other commands record, on a temporary SQLite file.

Events come from real commands (``client create`` …) and real token requests to an app
on the same database; events at fixed times are written through the store's own
``record_audit_event`` so that the time filters can be checked to the second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from asgi_lifespan import LifespanManager
from click.testing import CliRunner, Result

from mintage import Settings, create_app
from mintage.cli.main import cli
from mintage.core.clock import system_clock
from mintage.core.models import AuditEvent, Consent
from mintage.storage.sql.sqlite import SQLiteStorage

T = TypeVar("T")
DAY = 86_400
T0 = 1_780_000_000  # 2026-05-28T20:26:40Z


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in [*(f"MINTAGE_{n.upper()}" for n in Settings.model_fields), "MINTAGE_CONFIG"]:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    # Commands other than serve and db upgrade never create a database.
    upgraded = CliRunner().invoke(cli, ["--database-url", url, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    return url


def run(db: str, *args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--database-url", db, *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def ok(db: str, *args: str, input: str | None = None) -> Result:
    result = run(db, *args, input=input)
    assert result.exit_code == 0, result.output
    return result


def listed(db: str, *args: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(ok(db, "audit", "--json", *args).stdout)
    return out


def with_store(db: str, action: Callable[[SQLiteStorage], Awaitable[T]]) -> T:
    async def main() -> T:
        store = SQLiteStorage(db)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(main())


def record(db: str, *events: AuditEvent) -> None:
    async def action(store: SQLiteStorage) -> None:
        for event in events:
            await store.record_audit_event(event)

    with_store(db, action)


def cc_client(db: str) -> tuple[str, str]:
    made = json.loads(
        ok(
            db, "client", "create", "--json", "--name", "svc", "--grant-type",
            "client_credentials", "--scope", "read",
        ).stdout
    )  # fmt: skip
    return made["client_id"], made["client_secret"]


def issue(db: str, client_id: str, secret: str) -> str:
    async def main() -> str:
        settings = Settings(database_url=db, purge_interval=0, audit_token_issued=True)
        app = create_app(settings)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
            ) as client,
        ):
            response = await client.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
            assert response.status_code == 200, response.text
            token: str = response.json()["access_token"]
            return token

    return asyncio.run(main())


def test_client_commands_and_token_requests_are_listed(db: str) -> None:
    client_id, secret = cc_client(db)
    rotated = json.loads(ok(db, "client", "rotate-secret", client_id, "--json").stdout)
    token = issue(db, client_id, rotated["client_secret"])
    ok(db, "client", "delete", client_id)

    events = listed(db)
    assert [e["event"] for e in events] == [
        "client.deleted",
        "token.issued",
        "client.secret_rotated",
        "client.created",
    ]
    deleted, issued, rotation, created = events
    assert all(e["client_id"] == client_id for e in events)
    assert created["detail"]["name"] == "svc"
    assert created["detail"]["actor"].startswith("cli:")
    assert rotation["detail"]["actor"] == created["detail"]["actor"]
    assert deleted["detail"]["name"] == "svc"
    assert issued["ip"] == "127.0.0.1" and issued["subject"] == client_id
    assert issued["detail"]["grant_type"] == "client_credentials"
    # --json: every field, the time both ways
    assert set(issued) == {
        "id", "at", "time", "event", "client_id", "subject", "ip", "request_id", "detail",
    }  # fmt: skip
    moment = dt.datetime.fromisoformat(issued["time"])
    assert moment.tzinfo is not None and int(moment.timestamp()) == issued["at"]
    # no credential anywhere in what the command prints, table or JSON
    table = ok(db, "audit").stdout
    for shown in (json.dumps(events), table):
        for value in (secret, rotated["client_secret"], token):
            assert value not in shown


def test_the_human_table(db: str) -> None:
    assert ok(db, "audit").stdout.strip() == "no audit events match"
    record(
        db,
        AuditEvent(
            at=T0,
            event="login.failed",
            subject="user-1",
            ip="192.0.2.7",
            detail={"reason": "wrong_password", "failures": 2},
        ),
        AuditEvent(
            at=T0 + 60,
            event="client.created",
            client_id="app-1",
            detail={"name": "My app", "grant_types": ["a", "b"], "public": False},
        ),
    )
    header, newest, oldest = ok(db, "audit").stdout.splitlines()
    assert header.split() == ["TIME", "(UTC)", "EVENT", "CLIENT", "SUBJECT", "IP", "DETAIL"]
    assert newest.split() == [
        "2026-05-28T20:27:40Z", "client.created", "app-1", "-", "-",
        "grant_types=a,b", "name='My", "app'", "public=false",
    ]  # fmt: skip
    assert oldest.split() == [
        "2026-05-28T20:26:40Z", "login.failed", "-", "user-1", "192.0.2.7",
        "failures=2", "reason=wrong_password",
    ]  # fmt: skip
    # columns line up: every event name starts where the header's EVENT does
    column = header.index("EVENT")
    assert newest.index("client.created") == oldest.index("login.failed") == column


def test_filters(db: str) -> None:
    record(
        db,
        AuditEvent(at=T0, event="login.failed", subject="u1"),
        AuditEvent(at=T0 + DAY, event="login.locked", subject="u1"),
        AuditEvent(at=T0 + 2 * DAY, event="token.issued", client_id="c1", subject="u1"),
        AuditEvent(at=T0 + 3 * DAY, event="token.issued", client_id="c2", subject="u2"),
    )

    def ats(*args: str) -> list[int]:
        return [e["at"] for e in listed(db, *args)]

    assert ats() == [T0 + 3 * DAY, T0 + 2 * DAY, T0 + DAY, T0]
    assert ats("--event", "login.failed") == [T0]
    assert ats("--event", "login.*") == [T0 + DAY, T0]
    assert ats("--event", "login.failed", "--event", "token.issued") == [
        T0 + 3 * DAY,
        T0 + 2 * DAY,
        T0,
    ]
    assert ats("--client", "c1") == [T0 + 2 * DAY]
    assert ats("--subject", "u1", "--event", "token.*") == [T0 + 2 * DAY]
    assert ats("--limit", "2") == [T0 + 3 * DAY, T0 + 2 * DAY]
    # ISO dates and times are UTC unless they say otherwise; since in, until out
    assert ats("--since", "2026-05-29T20:26:40") == [T0 + 3 * DAY, T0 + 2 * DAY, T0 + DAY]
    assert ats("--since", "2026-05-29T22:26:40+02:00", "--until", "2026-05-31T20:26:40Z") == [
        T0 + 2 * DAY,
        T0 + DAY,
    ]
    assert ats("--until", "2026-05-29") == [T0]


def test_relative_times_count_back_from_now(db: str) -> None:
    now = system_clock()
    record(
        db,
        AuditEvent(at=now - 8 * DAY, event="login.failed"),
        AuditEvent(at=now - 2 * 3600, event="login.failed"),
        AuditEvent(at=now - 60, event="login.failed"),
    )
    assert [e["at"] for e in listed(db, "--since", "7d")] == [now - 60, now - 2 * 3600]
    assert [e["at"] for e in listed(db, "--since", "1h")] == [now - 60]
    assert [e["at"] for e in listed(db, "--until", "1w")] == [now - 8 * DAY]
    assert [e["at"] for e in listed(db, "--since", "3h", "--until", "90s")] == [now - 2 * 3600]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--event", "token.stolen"), "unknown audit event token.stolen"),
        (("--event", "nothing.*"), "no audit event matches nothing.*"),
        (("--since", "yesterday"), "neither an ISO 8601"),
        (("--until", "5y"), "neither an ISO 8601"),
        (("--limit", "0"), "--limit"),
    ],
)
def test_bad_options_exit_2(db: str, args: tuple[str, ...], message: str) -> None:
    result = run(db, "audit", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_revoking_consent_is_recorded(db: str) -> None:
    user = json.loads(
        ok(db, "user", "create", "alice", "--password-stdin", "--json", input="pw\n").stdout
    )

    async def consent(store: SQLiteStorage) -> None:
        await store.save_consent(Consent(user["user_id"], "app-9", ("read",), system_clock()))

    with_store(db, consent)
    ok(db, "user", "revoke-consent", "alice", "app-9")
    [event] = listed(db, "--event", "consent.revoked")
    assert (event["client_id"], event["subject"]) == ("app-9", user["user_id"])
    assert event["detail"]["had_consent"] is True
    assert event["detail"]["revoked"] == 0
    assert event["detail"]["actor"].startswith("cli:")


def test_tokens_purge_drops_events_past_retention(db: str) -> None:
    now = system_clock()
    record(
        db,
        AuditEvent(at=now - 91 * DAY, event="login.failed"),
        AuditEvent(at=now - 89 * DAY, event="login.failed"),
    )
    assert json.loads(ok(db, "tokens", "purge", "--json").stdout) == {"purged": 1}
    assert [e["at"] for e in listed(db)] == [now - 89 * DAY]
    # retention 0 keeps them forever
    result = CliRunner().invoke(
        cli,
        ["--database-url", db, "tokens", "purge", "--json"],
        env={"MINTAGE_AUDIT_RETENTION_DAYS": "0"},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"purged": 0}
    result = CliRunner().invoke(
        cli,
        ["--database-url", db, "tokens", "purge", "--json"],
        env={"MINTAGE_AUDIT_RETENTION_DAYS": "30"},
    )
    assert json.loads(result.stdout) == {"purged": 1}
    assert listed(db) == []


def test_the_help_names_every_event(db: str) -> None:
    from mintage.core.audit import AuditEventType

    text = " ".join(ok(db, "audit", "--help").stdout.split())
    for kind in AuditEventType:
        assert kind.value in text, kind.value
