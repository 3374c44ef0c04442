"""Audit events after real requests: what each records, and what none ever holds.

Every test drives the app over HTTP (ASGITransport, memory store, frozen clock) and then
reads the events back through the store's ``list_audit_events``, as ``mintage audit``
does.  Whatever credential a test sees (tokens, codes, client secrets, passwords) is
checked to appear in no event.  The ``server`` here records the issuance events too
(``audit_token_issued``, off by default).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from mintage.core.audit import AuditEventType
from mintage.core.credentials import token_digest
from mintage.core.errors import StorageUnavailableError
from mintage.core.http import OAuthRequest
from mintage.core.models import AuditEvent, Token
from mintage.core.pkce import s256
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PASSWORD, MakeServer, Registered, Server, basic

E = AuditEventType
CB = "https://app.example/cb"
VERIFIER = "verifier-" + "x" * 40
ASGI_CLIENT_IP = "127.0.0.1"  # httpx.ASGITransport's default client address


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    return await make_server(audit_token_issued=True)


async def events(server: Server, *kinds: AuditEventType) -> list[AuditEvent]:
    """Events of these kinds (all when none given), oldest first."""
    found = await server.storage.list_audit_events(events=kinds or None, limit=1000)
    return found[::-1]


def assert_holds_none_of(found: list[AuditEvent], secrets: list[str]) -> None:
    text = json.dumps([dataclasses.asdict(e) for e in found])
    for secret in secrets:
        assert secret and secret not in text
        assert token_digest(secret) not in text  # nor the digest the store keys it by


async def code_for(server: Server, reg: Registered, subject: str) -> str:
    authorize = server.engine.authorize
    request = await authorize.validate(
        {
            "response_type": "code",
            "client_id": reg.client_id,
            "redirect_uri": CB,
            "scope": "read",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
        }
    )
    location = await authorize.approve(request, subject, server.clock.now)
    return parse_qs(urlsplit(location).query)["code"][0]


def redeem(reg: Registered, code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CB,
        "code_verifier": VERIFIER,
        **reg.post,
    }


# the token endpoint ---------------------------------------------------------------------


async def test_client_credentials_records_token_issued(server: Server) -> None:
    reg = await server.client(scopes=("read", "write"))
    response = await server.token({"grant_type": "client_credentials", "scope": "read"}, reg.basic)
    assert response.status_code == 200
    body = response.json()
    [issued] = await events(server, E.TOKEN_ISSUED)
    stored = server.storage.tokens[token_digest(body["access_token"])]
    assert issued == AuditEvent(
        at=server.clock.now,
        event="token.issued",
        client_id=reg.client_id,
        subject=reg.client_id,  # RFC 9068 §2.2: no resource owner, the client itself
        ip=ASGI_CLIENT_IP,
        request_id=response.headers["x-request-id"],  # the id the logs carry too
        detail={
            "grant_type": "client_credentials",
            "scope": "read",
            "family_id": stored.family_id,
            "refresh_token": False,
        },
        id=issued.id,
    )
    assert reg.secret is not None
    assert_holds_none_of(await events(server), [body["access_token"], reg.secret])


async def test_the_request_id_is_recorded(server: Server) -> None:
    reg = await server.client()
    assert reg.secret is not None
    request = OAuthRequest(
        "POST",
        "/oauth/token",
        headers={"content-type": "application/x-www-form-urlencoded", **_lower(reg.basic)},
        body=b"grant_type=client_credentials",
        client_ip="203.0.113.9",
        request_id="req-42",
    )
    response = await server.engine.handle(server.engine.token, request)
    assert response.status == 200
    [issued] = await events(server, E.TOKEN_ISSUED)
    assert (issued.ip, issued.request_id) == ("203.0.113.9", "req-42")


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


async def test_by_default_only_the_issuance_events_are_skipped(
    make_server: MakeServer,
) -> None:
    server = await make_server()
    reg = await server.client(grant_types=("password", "refresh_token"), public=True)
    await server.user()
    body = await server.password_grant(reg)
    assert (await server.refresh(reg, body["refresh_token"])).status_code == 200
    assert (await server.refresh(reg, body["refresh_token"])).status_code == 400  # reuse
    kinds = [e.event for e in await events(server)]
    assert kinds == ["client.created", "refresh.reuse_detected"]


async def test_password_grant_records_issued_and_failed(server: Server) -> None:
    reg = await server.client(grant_types=("password", "refresh_token"))
    alice = await server.user()
    body = await server.password_grant(reg)
    wrong = await server.token(
        {"grant_type": "password", "username": "alice", "password": "nope"}, reg.basic
    )
    unknown = await server.token(
        {"grant_type": "password", "username": "typed-my-password", "password": "x"},
        reg.basic,
    )
    assert wrong.status_code == unknown.status_code == 400
    issued, failed_known, failed_unknown = await events(server, E.TOKEN_ISSUED, E.LOGIN_FAILED)
    assert (issued.event, issued.subject, issued.client_id) == (
        "token.issued",
        alice.user_id,
        reg.client_id,
    )
    assert issued.detail["grant_type"] == "password"
    assert issued.detail["refresh_token"] is True
    assert (failed_known.event, failed_known.subject) == ("login.failed", alice.user_id)
    # the sign-in page's bookkeeping: the failure counts toward alice's lock-out
    assert failed_known.detail == {
        "grant_type": "password",
        "reason": "wrong_password",
        "failures": 1,
    }
    # An unknown username is not kept: it may be a password typed in the wrong field.
    assert (failed_unknown.subject, failed_unknown.ip) == (None, ASGI_CLIENT_IP)
    assert failed_unknown.detail["grant_type"] == "password"
    assert failed_unknown.detail["reason"] == "unknown_user"
    assert reg.secret is not None
    assert_holds_none_of(
        await events(server),
        [body["access_token"], body["refresh_token"], reg.secret, PASSWORD, "typed-my-password"],
    )


async def test_refresh_rotation_and_reuse(server: Server) -> None:
    reg = await server.client(grant_types=("password", "refresh_token"), public=True)
    alice = await server.user()
    first = await server.password_grant(reg)
    family = server.storage.tokens[token_digest(first["refresh_token"])].family_id
    server.clock.advance(10)
    second = (await server.refresh(reg, first["refresh_token"])).json()
    [refreshed] = await events(server, E.TOKEN_REFRESHED)
    assert refreshed.at == server.clock.now
    assert (refreshed.client_id, refreshed.subject) == (reg.client_id, alice.user_id)
    assert refreshed.detail == {"scope": "read", "family_id": family}
    # a refresh is not also counted as an issuance
    assert len(await events(server, E.TOKEN_ISSUED)) == 1

    replay = await server.refresh(reg, first["refresh_token"])
    assert replay.status_code == 400
    [reuse] = await events(server, E.REFRESH_REUSE_DETECTED)
    assert (reuse.client_id, reuse.subject, reuse.ip) == (
        reg.client_id,
        alice.user_id,
        ASGI_CLIENT_IP,
    )
    # the first pair and the second pair, all revoked now
    assert reuse.detail == {"family_id": family, "revoked": 4, "concurrent": False}
    assert_holds_none_of(
        await events(server),
        [first["access_token"], first["refresh_token"], second["refresh_token"], PASSWORD],
    )


async def test_code_grant_issue_and_replay(server: Server) -> None:
    reg = await server.client(grant_types=("authorization_code",), redirect_uris=(CB,), public=True)
    code = await code_for(server, reg, "user-7")
    ok = await server.token(redeem(reg, code))
    assert ok.status_code == 200, ok.text
    family = server.storage.codes[token_digest(code)].family_id
    [issued] = await events(server, E.TOKEN_ISSUED)
    assert (issued.subject, issued.detail["grant_type"], issued.detail["family_id"]) == (
        "user-7",
        "authorization_code",
        family,
    )
    replay = await server.token(redeem(reg, code))
    assert replay.status_code == 400
    [replayed] = await events(server, E.CODE_REPLAY_DETECTED)
    assert (replayed.client_id, replayed.subject) == (reg.client_id, "user-7")
    assert replayed.detail == {"family_id": family, "revoked": 1, "concurrent": False}
    assert_holds_none_of(await events(server), [code, ok.json()["access_token"], VERIFIER])


async def test_a_refused_code_records_no_issuance(server: Server) -> None:
    reg = await server.client(grant_types=("authorization_code",), redirect_uris=(CB,), public=True)
    code = await code_for(server, reg, "user-7")
    bad = await server.token({**redeem(reg, code), "code_verifier": "w" * 50})
    assert bad.status_code == 400
    assert await events(server, E.TOKEN_ISSUED) == []


# revocation ------------------------------------------------------------------------------


async def test_revocation_records_what_changed(server: Server) -> None:
    reg = await server.client(grant_types=("password", "refresh_token"))
    alice = await server.user()
    body = await server.password_grant(reg)
    revoke = {"token": body["refresh_token"]}
    assert (await server.http.post("/oauth/revoke", data=revoke, headers=reg.basic)).is_success
    [revoked] = await events(server, E.TOKEN_REVOKED)
    family = server.storage.tokens[token_digest(body["refresh_token"])].family_id
    assert (revoked.client_id, revoked.subject) == (reg.client_id, alice.user_id)
    assert revoked.detail == {
        "token_type": "refresh_token",
        "family_id": family,
        "revoked": 2,
        "authenticated": True,
    }
    # nothing changes again, and an unknown token changes nothing: no more events
    for token in (body["refresh_token"], "mint_at_unknown"):
        response = await server.http.post("/oauth/revoke", data={"token": token}, headers=reg.basic)
        assert response.status_code == 200
    assert len(await events(server, E.TOKEN_REVOKED)) == 1
    assert reg.secret is not None
    assert_holds_none_of(
        await events(server), [body["access_token"], body["refresh_token"], reg.secret]
    )


# the sign-in page -------------------------------------------------------------------------


async def _sign_in(server: Server, username: str, password: str) -> int:
    response = await _sign_in_response(server, username, password)
    return response.status_code


async def _sign_in_response(server: Server, username: str, password: str) -> httpx.Response:
    page = await server.http.get("/login")
    form = page.text.split("<form", 2)[1]
    csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return await server.http.post(
        "/login",
        content=urlencode(
            {"csrf_token": csrf, "return_to": "", "username": username, "password": password}
        ),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


async def test_sign_in_failures_lock_and_success(server: Server) -> None:
    alice = await server.user()
    first = await _sign_in_response(server, "nobody-here", "whatever")
    assert first.status_code == 401
    for _ in range(5):
        assert await _sign_in(server, "alice", "not-the-password-123") == 401
    assert await _sign_in(server, "alice", PASSWORD) == 429  # locked: not recorded
    server.clock.advance(3600)
    assert await _sign_in(server, "alice", PASSWORD) == 303

    found = await events(server, E.LOGIN_FAILED, E.LOGIN_LOCKED, E.LOGIN_SUCCEEDED)
    assert [(e.event, e.subject) for e in found] == [
        ("login.failed", None),
        *[("login.failed", alice.user_id)] * 4,
        ("login.failed", alice.user_id),
        ("login.locked", alice.user_id),
        ("login.succeeded", alice.user_id),
    ]
    assert all(e.ip == ASGI_CLIENT_IP for e in found)
    assert found[0].request_id == first.headers["x-request-id"]
    # seven requests; the lock came with the fifth failure, in the same request
    assert len({e.request_id for e in found}) == 7
    assert found[6].request_id == found[5].request_id
    assert found[0].detail == {"reason": "unknown_user", "failures": 1}
    assert found[5].detail == {"reason": "wrong_password", "failures": 5}
    assert found[6].detail["failures"] == 5
    assert found[6].detail["locked_until"] == found[6].at + 30
    assert_holds_none_of(found, [PASSWORD, "not-the-password-123", "whatever", "nobody-here"])


# store failures --------------------------------------------------------------------------


class AuditDown(MemoryStorage):
    """Only audit writes fail, as if the store went away at that moment."""

    async def record_audit_event(self, event: AuditEvent) -> None:
        raise StorageUnavailableError("audit table unreachable")


async def test_an_unrecorded_issuance_is_a_503_not_a_token(make_server: MakeServer) -> None:
    server = await make_server(storage=AuditDown(), audit_token_issued=True)
    reg = await server.client()
    response = await server.token({"grant_type": "client_credentials"}, reg.basic)
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in response.json()


async def test_an_event_after_the_fact_goes_to_the_log(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The revocation happened: answering 503 would be wrong, so the event is logged."""
    store = AuditDown()
    server = await make_server(storage=store)
    reg = await server.client()
    body = await server.client_credentials(reg)
    caplog.clear()  # client.created was logged the same way
    with caplog.at_level(logging.ERROR, logger="mintage.audit"):
        response = await server.http.post(
            "/oauth/revoke", data={"token": body["access_token"]}, headers=reg.basic
        )
    assert response.status_code == 200
    assert not store.tokens[token_digest(body["access_token"])].is_active(server.clock.now)
    [record] = [r for r in caplog.records if r.name == "mintage.audit"]
    logged: dict[str, Any] = json.loads(record.getMessage().split(": ", 1)[1])
    assert logged["event"] == "token.revoked"
    assert logged["client_id"] == reg.client_id
    assert body["access_token"] not in record.getMessage()


# clients --------------------------------------------------------------------------------


async def test_client_changes_through_the_library(server: Server) -> None:
    from mintage.core.audit import Origin
    from mintage.core.clients import delete_client, rotate_secret

    reg = await server.client(name="Billing", resources=("https://billing.example/",))
    _, secret = await rotate_secret(
        server.storage, server.engine.hasher, reg.client_id, clock=server.clock
    )
    assert await delete_client(
        server.storage, reg.client_id, clock=server.clock, origin=Origin(actor="admin-api")
    )
    created, rotated, deleted = await events(server)
    assert created.event == "client.created"
    assert created.detail == {
        "name": "Billing",
        "public": False,
        "grant_types": ["client_credentials"],
        "scopes": ["read"],
        "redirect_uris": [],
        "resources": ["https://billing.example/"],
    }
    assert (rotated.event, rotated.client_id) == ("client.secret_rotated", reg.client_id)
    assert (deleted.event, deleted.detail) == (
        "client.deleted",
        {"name": "Billing", "actor": "admin-api"},
    )
    assert reg.secret is not None
    assert_holds_none_of(await events(server), [reg.secret, secret])
    # the old secret no longer works, whatever the events say
    gone = await server.token({"grant_type": "client_credentials"}, basic(reg.client_id, secret))
    assert gone.status_code == 401


class PlainStore(MemoryStorage):
    """A store without the optional fast paths, as a custom store may be."""

    save_tokens_audited = None  # type: ignore[assignment]
    consume_token_audited = None  # type: ignore[assignment]


async def test_a_store_without_the_fast_paths_records_the_same(make_server: MakeServer) -> None:
    server = await make_server(storage=PlainStore(), audit_token_issued=True)
    assert server.engine.audit.audited is None
    reg = await server.client(grant_types=("client_credentials", "password", "refresh_token"))
    await server.user()
    await server.client_credentials(reg)
    body = await server.password_grant(reg)
    assert (await server.refresh(reg, body["refresh_token"])).status_code == 200
    kinds = [(e.event, e.detail.get("grant_type")) for e in await events(server)]
    assert kinds == [
        ("client.created", None),
        ("token.issued", "client_credentials"),
        ("token.issued", "password"),
        ("token.refreshed", None),
    ]


class Interleaving(MemoryStorage):
    """Token calls yield to the loop first, like database round trips, so concurrent
    refreshes interleave at every step."""

    async def get_token(self, digest: str) -> Token | None:
        await asyncio.sleep(0)
        return await super().get_token(digest)

    async def save_token(self, token: Token) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        await super().save_token(token)

    async def consume_token(
        self, digest: str, now: int, successor: str | None = None
    ) -> Token | None:
        await asyncio.sleep(0)
        return await super().consume_token(digest, now, successor)


async def test_concurrent_refreshes_record_one_rotation(make_server: MakeServer) -> None:
    server = await make_server(storage=Interleaving(), audit_token_issued=True)
    reg = await server.client(grant_types=("password", "refresh_token"))
    await server.user()
    body = await server.password_grant(reg)
    responses = await asyncio.gather(
        *(server.refresh(reg, body["refresh_token"]) for _ in range(10))
    )
    assert sum(r.status_code == 200 for r in responses) == 1
    # exactly one rotation happened, and exactly one is recorded
    assert len(await events(server, E.TOKEN_REFRESHED)) == 1
    # Every loser is a second use of the token, but only a reuse that revoked
    # something is recorded: at least one, and together they account for every token
    # of the family (each loser may have stored its own pair before it lost).
    reuse = await events(server, E.REFRESH_REUSE_DETECTED)
    assert 1 <= len(reuse) <= 9
    assert all(e.detail["revoked"] > 0 for e in reuse)
    assert sum(e.detail["revoked"] for e in reuse) == len(server.storage.tokens)
    assert any(e.detail["concurrent"] for e in reuse)


async def test_a_retry_in_the_grace_window_is_recorded(make_server: MakeServer) -> None:
    server = await make_server(refresh_grace_seconds=10)
    reg = await server.client(grant_types=("password", "refresh_token"), public=True)
    alice = await server.user()
    first = await server.password_grant(reg)
    family = server.storage.tokens[token_digest(first["refresh_token"])].family_id
    rotated = await server.refresh(reg, first["refresh_token"])
    server.clock.advance(3)
    retried = await server.refresh(reg, first["refresh_token"])
    assert rotated.status_code == retried.status_code == 200
    assert retried.json()["refresh_token"] == rotated.json()["refresh_token"]
    [replayed] = await events(server, E.REFRESH_GRACE_REPLAYED)
    assert (replayed.client_id, replayed.subject, replayed.at) == (
        reg.client_id,
        alice.user_id,
        server.clock.now,
    )
    assert replayed.detail == {"family_id": family}
    assert await events(server, E.REFRESH_REUSE_DETECTED) == []
    assert_holds_none_of(
        await events(server), [first["refresh_token"], rotated.json()["refresh_token"]]
    )
