"""The ``mintage`` command, in process through click's CliRunner, on a temporary SQLite file.

Whether a command really changed what the server does (a rotated secret, deleted
tokens, a new user) is checked through the token and resource endpoints of an app built
with ``create_app`` on the same database, as a separate server process would see it.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from click.testing import CliRunner, Result

from mintage import Settings, create_app
from mintage.cli import serve as serve_module
from mintage.cli.main import cli
from mintage.core.clock import Clock, system_clock
from mintage.core.credentials import SecretHasher
from mintage.secret_key import load_pepper

T = TypeVar("T")
SECRET_RE = re.compile(r"mint_cs_[A-Za-z0-9_-]+")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite URL, with no MINTAGE_* variable of the caller's shell in the way."""
    for name in [*(f"MINTAGE_{n.upper()}" for n in Settings.model_fields), "MINTAGE_CONFIG"]:
        monkeypatch.setenv(name, "")  # recorded, so teardown restores the original
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    # Commands other than serve and db upgrade never create a database.
    upgraded = CliRunner().invoke(cli, ["--database-url", url, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    return url


def run(db: str, *args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--database-url", db, *args], input=input)
    # Every outcome, good or bad, is a clean exit: never an escaping exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def ok(db: str, *args: str, input: str | None = None) -> Result:
    result = run(db, *args, input=input)
    assert result.exit_code == 0, result.output
    return result


def field(output: str, name: str) -> str:
    found = re.search(rf"^\s*{name}:\s+(\S+)", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def create_json(db: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(ok(db, "client", "create", "--json", *args).stdout)
    return out


def cc_client(db: str) -> tuple[str, str]:
    made = create_json(db, "--name", "svc", "--grant-type", "client_credentials", "--scope", "read")
    return made["client_id"], made["client_secret"]


def with_app(
    db: str, action: Callable[[httpx.AsyncClient], Awaitable[T]], clock: Clock = system_clock
) -> T:
    """Run ``action`` against a Mintage app serving the same database."""

    async def main() -> T:
        app = create_app(Settings(database_url=db, purge_interval=0), clock=clock)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
            ) as client,
        ):
            return await action(client)

    return asyncio.run(main())


def token_response(
    db: str, client_id: str, secret: str, clock: Clock = system_clock
) -> httpx.Response:
    """The token endpoint's answer to a client_credentials request (HTTP Basic)."""

    async def action(client: httpx.AsyncClient) -> httpx.Response:
        data = {"grant_type": "client_credentials"}
        return await client.post("/oauth/token", data=data, auth=(client_id, secret))

    return with_app(db, action, clock)


def token_status(db: str, client_id: str, secret: str) -> int:
    return token_response(db, client_id, secret).status_code


def issue_token(db: str, client_id: str, secret: str) -> str:
    response = token_response(db, client_id, secret)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def resource_status(db: str, token: str) -> int:
    async def action(client: httpx.AsyncClient) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return (await client.get("/resource", headers=headers)).status_code

    return with_app(db, action)


# client create


def test_create_prints_the_secret_once_and_never_again(db: str) -> None:
    created = ok(db, "client", "create", "--name", "Reports", "--grant-type", "client_credentials")
    client_id = field(created.stdout, "client_id")
    secret = field(created.stdout, "client_secret")
    assert SECRET_RE.fullmatch(secret)
    assert created.stdout.count(secret) == 1
    digest = SecretHasher(load_pepper(Settings(database_url=db))).digest(secret)
    for args in (["list"], ["list", "--json"], ["show", client_id], ["show", client_id, "--json"]):
        shown = ok(db, "client", *args).output
        assert client_id in shown
        assert secret not in shown and digest not in shown
        assert not SECRET_RE.search(shown) and "secret_digest" not in shown
    assert token_status(db, client_id, secret) == 200


def test_create_json_shape(db: str) -> None:
    made = create_json(
        db,
        "--name",
        "Web",
        "--grant-type",
        "password",
        "--grant-type",
        "refresh_token",
        "--scope",
        "read",
        "--redirect-uri",
        "https://app.example/cb",
        "--access-token-lifetime",
        "600",
        "--refresh-token-lifetime",
        "7200",
    )
    assert SECRET_RE.fullmatch(made["client_secret"])
    assert made["name"] == "Web"
    assert made["grant_types"] == ["password", "refresh_token"]
    assert made["scopes"] == ["read"]
    assert made["redirect_uris"] == ["https://app.example/cb"]
    assert made["public"] is False
    assert (made["access_token_lifetime"], made["refresh_token_lifetime"]) == (600, 7200)
    shown = json.loads(ok(db, "client", "show", made["client_id"], "--json").stdout)
    assert shown == {k: v for k, v in made.items() if k != "client_secret"}


def test_public_client_has_no_secret(db: str) -> None:
    made = create_json(db, "--name", "CLI", "--grant-type", "password", "--public")
    assert made["client_secret"] is None and made["public"] is True
    assert made["scopes"] == []
    human = ok(db, "client", "create", "--name", "CLI2", "--grant-type", "password", "--public")
    assert "client_secret" not in human.stdout
    assert field(human.stdout, "type") == "public"


def test_scope_repeated_and_space_separated(db: str) -> None:
    made = create_json(
        db,
        "--name",
        "svc",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read write",
        "--scope",
        "admin",
        "--scope",
        "read",
    )
    assert made["scopes"] == ["read", "write", "admin"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grant-type", "implicit"], "unknown grant type implicit"),
        (["--grant-type", "client_credentials", "--public"], "confidential"),
        (["--grant-type", "password", "--redirect-uri", "http://evil.example/cb"], "https"),
        (["--grant-type", "password", "--redirect-uri", "https://a.example/#f"], "fragment"),
        (["--grant-type", "client_credentials", "--scope", 'bad"scope'], "RFC 6749"),
        (["--grant-type", "client_credentials", "--access-token-lifetime", "0"], "positive"),
        ([], "at least one grant type"),
        (["--grant-type", "client_credentials", "--resource", "/api"], "absolute URI"),
        (["--grant-type", "client_credentials", "--resource", "https://a.example/#f"], "fragment"),
        (["--grant-type", "password", "--public", "--resource", "https://a.example/"], "secret"),
    ],
)
def test_create_rejects_bad_input_with_exit_2(db: str, args: list[str], message: str) -> None:
    result = run(db, "client", "create", "--name", "x", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert json.loads(ok(db, "client", "list", "--json").stdout) == []


def test_resources_repeated_and_shown_everywhere(db: str) -> None:
    """``--resource``: the RFC 8707 identifiers a resource server answers for."""
    made = create_json(
        db,
        "--name",
        "Photos API",
        "--grant-type",
        "client_credentials",
        "--resource",
        "https://api.example/photos",
        "--resource",
        "urn:example:albums https://api.example/photos",
    )
    served = ["https://api.example/photos", "urn:example:albums"]
    assert made["resources"] == served
    shown = json.loads(ok(db, "client", "show", made["client_id"], "--json").stdout)
    assert shown["resources"] == served
    listed = json.loads(ok(db, "client", "list", "--json").stdout)
    assert [c["resources"] for c in listed] == [served]
    human = ok(db, "client", "show", made["client_id"]).stdout
    assert re.search(r"^resources:\s+https://api\.example/photos urn:example:albums$", human, re.M)
    plain = create_json(db, "--name", "app", "--grant-type", "client_credentials")
    assert plain["resources"] == []
    assert field(ok(db, "client", "show", plain["client_id"]).stdout, "resources") == "(none)"


def test_create_needs_a_name(db: str) -> None:
    result = run(db, "client", "create", "--grant-type", "client_credentials")
    assert result.exit_code == 2
    assert "--name" in result.stderr


# list, show, delete, rotate-secret


def test_list_is_ordered_and_says_when_empty(db: str) -> None:
    assert ok(db, "client", "list").stdout.strip() == "no clients"
    assert json.loads(ok(db, "client", "list", "--json").stdout) == []
    first, _ = cc_client(db)
    second, _ = cc_client(db)
    listed = json.loads(ok(db, "client", "list", "--json").stdout)
    assert {c["client_id"] for c in listed} == {first, second}
    assert all("client_secret" not in c for c in listed)
    human = ok(db, "client", "list").stdout
    assert first in human and second in human


@pytest.mark.parametrize("command", ["show", "delete", "rotate-secret"])
@pytest.mark.parametrize("as_json", [False, True])
def test_unknown_client_exits_1(db: str, command: str, as_json: bool) -> None:
    result = run(db, "client", command, "nope", *(["--json"] if as_json else []))
    assert result.exit_code == 1
    assert "no client nope" in result.stderr
    assert result.stdout == ""


def test_delete_removes_the_client_and_its_tokens(db: str) -> None:
    client_id, secret = cc_client(db)
    other_id, other_secret = cc_client(db)
    token = issue_token(db, client_id, secret)
    other_token = issue_token(db, other_id, other_secret)
    assert resource_status(db, token) == 200
    deleted = json.loads(ok(db, "client", "delete", client_id, "--json").stdout)
    assert deleted == {"client_id": client_id, "deleted": True}
    assert resource_status(db, token) == 401
    assert resource_status(db, other_token) == 200
    assert token_status(db, client_id, secret) == 401
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        left = conn.execute("SELECT count(*) FROM tokens WHERE client_id = ?", (client_id,))
        assert left.fetchone()[0] == 0
    assert run(db, "client", "show", client_id).exit_code == 1
    assert run(db, "client", "delete", client_id).exit_code == 1


def test_delete_human_output(db: str) -> None:
    client_id, _ = cc_client(db)
    assert client_id in ok(db, "client", "delete", client_id).stdout


def test_rotate_secret_invalidates_the_old_one(db: str) -> None:
    client_id, old = cc_client(db)
    assert token_status(db, client_id, old) == 200
    rotated = json.loads(ok(db, "client", "rotate-secret", client_id, "--json").stdout)
    assert rotated["client_id"] == client_id
    new = rotated["client_secret"]
    assert SECRET_RE.fullmatch(new) and new != old
    assert token_status(db, client_id, old) == 401
    assert token_status(db, client_id, new) == 200
    human = ok(db, "client", "rotate-secret", client_id).stdout
    newest = field(human, "client_secret")
    assert human.count(newest) == 1
    assert token_status(db, client_id, new) == 401
    assert token_status(db, client_id, newest) == 200


def test_rotate_secret_of_a_public_client_exits_2(db: str) -> None:
    made = create_json(db, "--name", "CLI", "--grant-type", "password", "--public")
    result = run(db, "client", "rotate-secret", made["client_id"])
    assert result.exit_code == 2
    assert "public client" in result.stderr


# users


async def _password_grant(
    client: httpx.AsyncClient, client_id: str, secret: str, username: str, password: str
) -> int:
    data = {"grant_type": "password", "username": username, "password": password}
    response = await client.post("/oauth/token", data=data, auth=(client_id, secret))
    return response.status_code


def password_status(db: str, client_id: str, secret: str, username: str, password: str) -> int:
    return with_app(db, lambda c: _password_grant(c, client_id, secret, username, password))


def test_user_create_from_stdin_and_sign_in(db: str) -> None:
    made = create_json(db, "--name", "app", "--grant-type", "password", "--scope", "read")
    created = ok(db, "user", "create", "alice", "--password-stdin", "--json", input="s3cret pw\n")
    user = json.loads(created.stdout)
    assert user["username"] == "alice" and user["user_id"]
    assert "s3cret" not in created.output
    args = (db, made["client_id"], made["client_secret"], "alice")
    assert password_status(*args, "s3cret pw") == 200
    assert password_status(*args, "s3cret") == 400


def test_user_create_with_prompt(db: str) -> None:
    made = create_json(db, "--name", "app", "--grant-type", "password")
    created = ok(db, "user", "create", "bob", input="hunter22\nhunter22\n")
    assert "created user bob" in created.stdout
    assert "hunter22" not in created.output  # hidden input is not echoed
    assert password_status(db, made["client_id"], made["client_secret"], "bob", "hunter22") == 200


def test_duplicate_user_exits_1(db: str) -> None:
    ok(db, "user", "create", "alice", "--password-stdin", input="one\n")
    result = run(db, "user", "create", "alice", "--password-stdin", input="two\n")
    assert result.exit_code == 1
    assert "user alice already exists" in result.stderr


@pytest.mark.parametrize("stdin", ["\n", ""])
def test_empty_password_exits_1(db: str, stdin: str) -> None:
    result = run(db, "user", "create", "carol", "--password-stdin", input=stdin)
    assert result.exit_code == 1
    assert "password must not be empty" in result.stderr
    again = ok(db, "user", "create", "carol", "--password-stdin", input="fine\n")
    assert "created user carol" in again.stdout


def test_blank_username_exits_2(db: str) -> None:
    result = run(db, "user", "create", " ", "--password-stdin", input="pw\n")
    assert result.exit_code == 2
    assert "username" in result.stderr


# tokens, db


def test_tokens_purge_removes_expired_tokens(db: str) -> None:
    client_id, secret = cc_client(db)
    live = issue_token(db, client_id, secret)

    for _ in range(3):  # issued long ago, so expired now
        assert token_response(db, client_id, secret, lambda: 1_000_000).status_code == 200
    assert (
        ok(db, "tokens", "purge").stdout.strip()
        == "purged 3 expired rows (tokens, codes, sessions, audit events)"
    )
    assert json.loads(ok(db, "tokens", "purge", "--json").stdout) == {"purged": 0}
    assert resource_status(db, live) == 200


def test_db_upgrade_creates_the_schema(db: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"  # not the fixture's: that one is upgraded
    result = ok(db, "db", "upgrade")
    assert "newest schema" in result.stdout
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"clients", "tokens", "users", "alembic_version"} <= tables
    assert ok(db, "db", "upgrade").exit_code == 0  # idempotent at head


def test_db_upgrade_on_memory_is_a_no_op(db: str) -> None:
    assert "nothing to upgrade" in ok("memory://", "db", "upgrade").stdout


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite://", "sqlite:///:memory:"])
def test_unsupported_database_url_exits_2(db: str, url: str) -> None:
    for args in (["db", "upgrade"], ["client", "list"]):
        result = run(url, *args)
        assert result.exit_code == 2, result.output
        assert "URL" in result.stderr


def test_unreadable_database_exits_1(db: str, tmp_path: Path) -> None:
    (tmp_path / "garbage.db").write_bytes(b"not a database at all, but long enough" * 40)
    result = run(f"sqlite:///{tmp_path / 'garbage.db'}", "client", "list")
    assert result.exit_code == 1
    assert f"cannot open the database {tmp_path / 'garbage.db'}" in result.stderr
    assert "Traceback" not in result.output


# settings and the --database-url option


def test_invalid_settings_exit_2(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINTAGE_PORT", "0")
    result = run(db, "client", "list")
    assert result.exit_code == 2
    assert "MINTAGE_PORT" in result.stderr


def test_database_url_after_the_command_and_from_the_environment(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, _ = cc_client(db)
    after = CliRunner().invoke(cli, ["client", "show", client_id, "--database-url", db])
    assert after.exit_code == 0, after.output
    monkeypatch.setenv("MINTAGE_DATABASE_URL", db)
    from_env = CliRunner().invoke(cli, ["client", "list", "--json"])
    assert json.loads(from_env.stdout)[0]["client_id"] == client_id
    # The option wins over the environment.
    other = CliRunner().invoke(cli, ["--database-url", "memory://", "client", "list", "--json"])
    assert json.loads(other.stdout) == []


# serve, without a real server (tests/e2e runs a real one)


class FakeUvicorn:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def __call__(self, app: Any, **kwargs: Any) -> None:
        self.calls.append((app, kwargs))


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    fake = FakeUvicorn()
    monkeypatch.setattr(uvicorn, "run", fake)
    return fake


def test_serve_creates_a_demo_client_only_on_a_new_database(
    db: str, fake_uvicorn: FakeUvicorn
) -> None:
    first = ok(db, "serve", "--port", "3999")
    client_id = field(first.stdout, "client_id")
    secret = field(first.stdout, "client_secret")
    assert f"curl -s -u '{client_id}:{secret}' -d grant_type=client_credentials" in first.stdout
    assert "http://127.0.0.1:3999/oauth/token" in first.stdout
    assert "http://127.0.0.1:3999/resource" in first.stdout
    assert "issuer http://127.0.0.1:3999" in first.stdout
    demo = json.loads(ok(db, "client", "show", client_id, "--json").stdout)
    assert (demo["grant_types"], demo["scopes"]) == (["client_credentials"], ["read"])
    assert token_status(db, client_id, secret) == 200

    second = ok(db, "serve", "--port", "3999")
    assert "client_secret" not in second.stdout and "issuer" in second.stdout
    assert len(json.loads(ok(db, "client", "list", "--json").stdout)) == 1

    (app, kwargs), _ = fake_uvicorn.calls
    assert not isinstance(app, str)
    assert kwargs == {
        "host": "127.0.0.1",
        "port": 3999,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        "log_level": "info",
        "timeout_graceful_shutdown": 30,
        "timeout_worker_healthcheck": 30,
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1,::1",
        "log_config": None,
    }


def test_serve_skips_the_demo_client_when_disabled_or_not_new(
    db: str, fake_uvicorn: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINTAGE_CREATE_DEMO_CLIENT", "false")
    assert "client_secret" not in ok(db, "serve").stdout
    monkeypatch.delenv("MINTAGE_CREATE_DEMO_CLIENT")
    cc_client(db)
    assert "client_secret" not in ok(db, "serve").stdout
    assert len(json.loads(ok(db, "client", "list", "--json").stdout)) == 1


def test_serve_with_workers_hands_overrides_to_the_factory(
    db: str, fake_uvicorn: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(db, "serve", "--workers", "2", "--host", "127.0.0.2", "--port", "3998")
    ((app, kwargs),) = fake_uvicorn.calls
    assert app == "mintage.cli.serve:app_factory"
    assert kwargs["factory"] is True and kwargs["workers"] == 2
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.2", 3998)
    # What a worker process would build from the environment the parent left.
    settings = Settings()
    assert (settings.host, settings.port, settings.database_url) == ("127.0.0.2", 3998, db)
    assert serve_module.app_factory().state.mintage.settings == settings


def test_serve_refuses_workers_on_memory_and_bad_settings(
    db: str, fake_uvicorn: FakeUvicorn
) -> None:
    workers = run("memory://", "serve", "--workers", "2")
    assert workers.exit_code == 2 and "memory://" in workers.stderr
    port = run(db, "serve", "--port", "70000")
    assert port.exit_code == 2 and "port" in port.stderr
    assert run(db, "serve", "--workers", "0").exit_code == 2
    assert fake_uvicorn.calls == []


def test_client_create_with_an_extension_grant(db: str) -> None:
    """RFC 6749 §4.5: the CLI cannot know an embedding app's grants, so it accepts any
    absolute URI as a grant type; a bare unknown name is still refused."""
    grant = "urn:example:params:oauth:grant-type:demo"
    made = create_json(db, "--name", "ext", "--grant-type", grant, "--scope", "read")
    assert made["grant_types"] == [grant]
    refused = run(db, "client", "create", "--name", "x", "--grant-type", "demo")
    assert refused.exit_code != 0
    assert "unknown grant type demo" in refused.output
