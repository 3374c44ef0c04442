"""The server secret: created once, whole, by whichever of several racing processes wins;
never shorter than 32 bytes, whether read from a file or configured.

A command refuses to run on a short secret with exit 2 and a message that names the
file or setting; nothing is derived from it.
"""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mintage import Settings
from mintage.cli.main import cli
from mintage.secret_key import load_pepper

PROCESSES = 8
GOOD_KEY = "k" * 32


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No MINTAGE_* variable of the caller's shell in the way."""
    for name in [*(f"MINTAGE_{n.upper()}" for n in Settings.model_fields), "MINTAGE_CONFIG"]:
        monkeypatch.setenv(name, "")  # recorded, so teardown restores the original
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _load_at_once(database_url: str, barrier: Barrier, out: multiprocessing.Queue[bytes]) -> None:
    barrier.wait()  # every process looks for the key file at the same moment
    out.put(load_pepper(Settings(database_url=database_url)))


@pytest.mark.e2e  # forked processes: e2e, not in `make quick`
@pytest.mark.parametrize("round_", range(3))
def test_racing_processes_all_get_the_same_whole_key(tmp_path: Path, round_: int) -> None:
    database_url = f"sqlite:///{tmp_path / 'race.db'}"
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    out: multiprocessing.Queue[bytes] = context.Queue()
    processes = [
        context.Process(target=_load_at_once, args=(database_url, barrier, out))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    keys = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    key_file = tmp_path / "race.db.key"
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 32
    assert key_file.read_text() == keys[0].decode() + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.db.key"]  # no temporary left


def mintage(database_url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--database-url", database_url, *args])
    # Every outcome, good or bad, is a clean exit: never an escaping exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def client_create(database_url: str) -> Result:
    """``client create`` on a database made first, as only serve and db upgrade make one."""
    assert mintage(database_url, "db", "upgrade").exit_code == 0
    return mintage(database_url, "client", "create", "--name", "x", "--grant-type", "password")


@pytest.mark.parametrize("content", ["", "\n", "abc123", "x" * 31 + "\n", "  \n  "])
def test_an_empty_or_truncated_key_file_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "cli.db.key").write_text(content)
    result = client_create(f"sqlite:///{tmp_path / 'cli.db'}")
    assert result.exit_code == 2, result.output
    length = len(content.strip())
    assert f"cli.db.key: the server secret is {length} bytes long, shorter than the 32" in (
        result.output
    )
    assert (tmp_path / "cli.db.key").read_text() == content  # left for the operator to fix


def test_a_whole_key_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "cli.db.key").write_text(GOOD_KEY + "\n")
    assert client_create(f"sqlite:///{tmp_path / 'cli.db'}").exit_code == 0
    assert load_pepper(Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")) == b"k" * 32


@pytest.mark.parametrize(
    ("setting", "what"),
    [("SECRET_KEY_FILE", "server secret"), ("KEY_ENCRYPTION_KEY_FILE", "key-encryption key")],
)
@pytest.mark.parametrize("command", [("client", "create", "--name", "x"), ("keys", "list")])
def test_a_short_configured_key_file_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    what: str,
    command: tuple[str, ...],
) -> None:
    short = tmp_path / "short.key"
    short.write_text("x" * 20 + "\n")
    monkeypatch.setenv(f"MINTAGE_{setting}", str(short))
    assert mintage(f"sqlite:///{tmp_path / 'cli.db'}", "db", "upgrade").exit_code == 0
    result = mintage(f"sqlite:///{tmp_path / 'cli.db'}", *command)
    assert result.exit_code == 2, result.output
    assert f"short.key: the {what} is 20 bytes long, shorter than the 32" in result.output


@pytest.mark.parametrize("setting", ["SECRET_KEY", "KEY_ENCRYPTION_KEY"])
def test_a_short_configured_secret_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv(f"MINTAGE_{setting}", "x" * 31)
    # refused with the settings, before any database is looked for
    result = mintage(f"sqlite:///{tmp_path / 'cli.db'}", "client", "create", "--name", "x")
    assert result.exit_code == 2, result.output
    assert f"{setting.lower()} must be at least 32 characters" in result.output
