"""``mintage user consents`` / ``revoke-consent`` and the PKCE option of ``client create``.

The SQL stores do not keep consents yet, and ``memory://`` forgets everything between
two commands, so these tests hand every command one shared in-memory store (the CLI
builds its store through ``context.build_store``).  The store is filled through the
library API, as the consent page would.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mintage import Settings
from mintage.cli import context
from mintage.cli.main import cli
from mintage.core.clock import system_clock
from mintage.core.consent import ConsentService
from mintage.core.models import Token, TokenKind
from mintage.storage.memory import MemoryStorage
from oauth_testkit import add_user


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MemoryStorage:
    for name in [*(f"MINTAGE_{n.upper()}" for n in Settings.model_fields), "MINTAGE_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    shared = MemoryStorage()
    monkeypatch.setattr(context, "build_store", lambda settings: shared)
    return shared


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["--database-url", "memory://", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def token(digest: str, client_id: str, subject: str) -> Token:
    far = system_clock() + 3600
    return Token(digest, TokenKind.ACCESS, client_id, "read", 0, far, "fam-" + digest, subject)


@pytest.fixture
async def alice_consents(store: MemoryStorage) -> str:
    alice = await add_user(store, "alice")
    consent = ConsentService(store, store, system_clock)
    await consent.remember(alice.user_id, "app-b", ("read", "write"))
    await consent.remember(alice.user_id, "app-a", ("read",))
    for t in (token("1", "app-b", alice.user_id), token("2", "app-a", alice.user_id)):
        await store.save_token(t)
    await store.save_token(token("3", "app-b", "someone else"))
    return alice.user_id


def test_consents_listed(store: MemoryStorage, alice_consents: str) -> None:
    out = ok("user", "consents", "alice").stdout
    assert out.splitlines() == ["app-a  scopes: read", "app-b  scopes: read write"]
    listed: list[dict[str, Any]] = json.loads(ok("user", "consents", "alice", "--json").stdout)
    assert [(c["client_id"], c["scopes"]) for c in listed] == [
        ("app-a", ["read"]),
        ("app-b", ["read", "write"]),
    ]
    assert all(isinstance(c["granted_at"], int) for c in listed)


def test_no_consents(store: MemoryStorage) -> None:
    asyncio.run(add_user(store, "bob"))
    assert "bob has approved no client" in ok("user", "consents", "bob").stdout
    assert json.loads(ok("user", "consents", "bob", "--json").stdout) == []


def test_unknown_user(store: MemoryStorage) -> None:
    for args in (("consents", "nobody"), ("revoke-consent", "nobody", "app-a")):
        result = run("user", *args)
        assert result.exit_code == 1
        assert "no user nobody" in result.output


def test_revoke_consent(store: MemoryStorage, alice_consents: str) -> None:
    out = ok("user", "revoke-consent", "alice", "app-b").stdout
    assert "withdrew alice's consent to app-b; revoked 1 token" in out
    # only app-b's tokens for alice: not app-a's, not someone else's
    assert {d for d, t in store.tokens.items() if t.revoked_at is not None} == {"1"}
    assert [c for (_, c) in store.consents] == ["app-a"]

    done = json.loads(ok("user", "revoke-consent", "alice", "app-a", "--json").stdout)
    assert done == {"username": "alice", "client_id": "app-a", "revoked_tokens": 1}
    assert store.consents == {}

    again = run("user", "revoke-consent", "alice", "app-a")
    assert again.exit_code == 1
    assert "no consent or token" in again.output


# client create: PKCE


def test_client_create_requires_pkce_by_default(store: MemoryStorage) -> None:
    made = json.loads(
        ok(
            "client", "create", "--json", "--name", "web", "--public",
            "--grant-type", "authorization_code", "--redirect-uri", "https://app.example/cb",
        ).stdout
    )  # fmt: skip
    assert made["require_pkce"] is True
    assert made["client_secret"] is None
    shown = ok("client", "show", made["client_id"]).stdout
    assert "PKCE:" in shown and "required" in shown


def test_no_require_pkce_for_a_confidential_client(store: MemoryStorage) -> None:
    made = json.loads(
        ok(
            "client", "create", "--json", "--name", "legacy", "--no-require-pkce",
            "--grant-type", "authorization_code", "--redirect-uri", "https://app.example/cb",
        ).stdout
    )  # fmt: skip
    assert made["require_pkce"] is False
    assert store.clients[made["client_id"]].require_pkce is False
    shown = json.loads(ok("client", "show", made["client_id"], "--json").stdout)
    assert shown["require_pkce"] is False
    assert "optional" in ok("client", "show", made["client_id"]).stdout


def test_no_require_pkce_refused_for_a_public_client(store: MemoryStorage) -> None:
    result = run(
        "client", "create", "--name", "spa", "--public", "--no-require-pkce",
        "--grant-type", "authorization_code", "--redirect-uri", "https://app.example/cb",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "public client always requires PKCE" in result.output
    assert store.clients == {}


def test_authorization_code_needs_a_redirect_uri(store: MemoryStorage) -> None:
    result = run("client", "create", "--name", "web", "--grant-type", "authorization_code")
    assert result.exit_code == 2
    assert "redirect URI" in result.output
    assert store.clients == {}
