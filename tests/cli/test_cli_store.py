"""Which database a command uses, and that only ``serve`` and ``db upgrade`` make one.

``sqlite:///mintage.db`` is relative to the current directory: run from elsewhere, a
command used to create an empty database there and report "no clients".  Now it names
the file on stderr and refuses a database that is not there, or has no schema.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from backend_testkit import pg_schema, postgres_url, run_blocking  # noqa: F401 (fixtures)
from mintage import Settings
from mintage.cli.main import cli

CREATE_FIRST = "run `mintage db upgrade` or `mintage serve` first, or pass --database-url"

# Every command that opens the store, with arguments it accepts.
COMMANDS = [
    ("client", "list"),
    ("client", "show", "c1"),
    ("client", "create", "--name", "x", "--grant-type", "client_credentials"),
    ("client", "rotate-secret", "c1"),
    ("client", "delete", "c1"),
    ("user", "consents", "alice"),
    ("keys", "list"),
    ("keys", "rotate"),
    ("audit",),
    ("tokens", "purge"),
]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory, with no MINTAGE_* variable of the caller's shell."""
    for name in [*(f"MINTAGE_{n.upper()}" for n in Settings.model_fields), "MINTAGE_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def mintage(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_missing_sqlite_file_is_named_and_not_created(
    elsewhere: Path, command: tuple[str, ...]
) -> None:
    result = mintage("--database-url", "sqlite:///mintage.db", *command)
    assert result.exit_code == 1, result.output
    where = elsewhere / "mintage.db"
    assert f"Error: no database at {where}: {CREATE_FIRST}" in result.stderr
    assert result.stdout == ""
    assert list(elsewhere.iterdir()) == []  # no database, no key file beside it


def test_the_default_url_resolves_from_the_current_directory(elsewhere: Path) -> None:
    """No --database-url and no MINTAGE_DATABASE_URL: ``sqlite:///mintage.db`` here."""
    result = mintage("client", "list")
    assert result.exit_code == 1
    assert f"no database at {elsewhere / 'mintage.db'}" in result.stderr
    assert not (elsewhere / "mintage.db").exists()


def test_after_db_upgrade_commands_name_the_file_on_stderr_only(elsewhere: Path) -> None:
    assert mintage("--database-url", "sqlite:///mintage.db", "db", "upgrade").exit_code == 0
    result = mintage("--database-url", "sqlite:///mintage.db", "client", "list", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"database: {elsewhere / 'mintage.db'}\n"
    assert json.loads(result.stdout) == []  # stdout stays what scripts parse
    human = mintage("--database-url", "sqlite:///mintage.db", "client", "list")
    assert human.stdout == "no clients\n"
    assert f"database: {elsewhere / 'mintage.db'}" in human.stderr


def test_a_sqlite_file_without_the_schema_is_refused_and_left_alone(elsewhere: Path) -> None:
    path = elsewhere / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    result = mintage("--database-url", f"sqlite:///{path}", "client", "list")
    assert result.exit_code == 1
    assert f"no Mintage database at {path}: {CREATE_FIRST}" in result.stderr
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"notes"}  # nothing was migrated into someone else's file


def test_serve_prepares_a_new_database_and_db_upgrade_too(elsewhere: Path) -> None:
    """The two commands that do create one (serve's preparation is db upgrade's work
    plus the demo client; tests/cli/test_cli.py runs serve)."""
    result = mintage("--database-url", "sqlite:///fresh.db", "db", "upgrade")
    assert result.exit_code == 0
    assert (elsewhere / "fresh.db").is_file()
    assert mintage("--database-url", "sqlite:///fresh.db", "client", "list").exit_code == 0


def test_memory_is_named_and_needs_no_preparation(elsewhere: Path) -> None:
    result = mintage("--database-url", "memory://", "client", "list")
    assert result.exit_code == 0
    assert result.stderr == "database: memory://\n"


def test_postgres_without_the_schema_is_refused_with_the_password_masked(
    postgres_url: str,  # noqa: F811 (a fixture)
    pg_schema: str,  # noqa: F811 (a fixture)
    elsewhere: Path,
) -> None:
    sep = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{sep}search_path={pg_schema}"
    with_password = url.replace("://postgres@", "://postgres:hunter2@", 1)
    result = mintage("--database-url", url, "client", "list")
    assert result.exit_code == 1, result.output
    assert f"no Mintage database at {url}: {CREATE_FIRST}" in result.stderr
    assert run_blocking(_tables(postgres_url, pg_schema)) == []  # nothing created
    if with_password != url:  # the test server's URL has no password: add one to see it masked
        masked = mintage("--database-url", with_password, "client", "list")
        assert "hunter2" not in masked.output
        assert "postgres:***@" in masked.stderr
    assert mintage("--database-url", url, "db", "upgrade").exit_code == 0
    listed = mintage("--database-url", url, "client", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []
    assert listed.stderr == f"database: {url}\n"


async def _tables(url: str, schema: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await conn.close()
    return [row["table_name"] for row in rows]
