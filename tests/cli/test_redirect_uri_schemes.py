"""``mintage client create`` refuses redirect URIs a browser would not simply navigate to.

``javascript:``, ``vbscript:``, ``data:`` and ``file:`` run or render something instead
of sending the authorization response to the client; in any case, hidden behind
whitespace or a control character (which browsers strip or skip), for
``--redirect-uri`` and ``--post-logout-redirect-uri`` alike.  Nothing is registered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mintage import Settings
from mintage.cli.main import cli

SCHEME_REFUSED = "scheme is never a redirect target"
CONTROL_REFUSED = "contains whitespace or control characters"

REFUSED = [
    ("javascript:alert(1)", SCHEME_REFUSED),
    ("JavaScript:alert(document.cookie)", SCHEME_REFUSED),
    ("JAVASCRIPT://app.example/%0aalert(1)", SCHEME_REFUSED),
    ("  javascript:alert(1)  ", SCHEME_REFUSED),
    ("data:text/html,<script>alert(1)</script>", SCHEME_REFUSED),
    ("DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", SCHEME_REFUSED),
    ("vbscript:msgbox(1)", SCHEME_REFUSED),
    ("VBScript:msgbox(1)", SCHEME_REFUSED),
    ("file:///etc/passwd", SCHEME_REFUSED),
    ("FILE://server/share/x.html", SCHEME_REFUSED),
    ("\x01javascript:alert(1)", CONTROL_REFUSED),
    ("\x00javascript:alert(1)", CONTROL_REFUSED),
    ("java\x7fscript:alert(1)", CONTROL_REFUSED),
    ("https://app.example/c\x01b", CONTROL_REFUSED),
    ("https://app.example/cb\x7f", CONTROL_REFUSED),
    ("\x9bjavascript:alert(1)", CONTROL_REFUSED),
]
ACCEPTED = [
    "https://app.example/cb",
    "com.example.app:/oauth/callback",  # a native app's private-use scheme (RFC 8252 §7.1)
    "com.data.app:/cb",
    "http://127.0.0.1:8080/cb",
]


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


def mintage(db: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--database-url", db, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def create(db: str, option: str, uri: str) -> Result:
    args = ["client", "create", "--name", "web", "--json", "--grant-type", "authorization_code"]
    if option == "--post-logout-redirect-uri":
        args += ["--redirect-uri", "https://app.example/cb"]
    return mintage(db, *args, option, uri)


def registered(db: str) -> list[object]:
    listed = mintage(db, "client", "list", "--json")
    assert listed.exit_code == 0, listed.output
    clients: list[object] = json.loads(listed.stdout)
    return clients


OPTIONS = pytest.mark.parametrize("option", ["--redirect-uri", "--post-logout-redirect-uri"])


@OPTIONS
@pytest.mark.parametrize(("uri", "reason"), REFUSED)
def test_dangerous_schemes_are_refused(db: str, option: str, uri: str, reason: str) -> None:
    result = create(db, option, uri)
    assert result.exit_code == 2, result.output
    assert reason in result.output
    assert "Traceback" not in result.output
    assert registered(db) == []


@OPTIONS
@pytest.mark.parametrize("uri", ACCEPTED)
def test_other_schemes_are_accepted(db: str, option: str, uri: str) -> None:
    result = create(db, option, uri)
    assert result.exit_code == 0, result.output
    field = "redirect_uris" if option == "--redirect-uri" else "post_logout_redirect_uris"
    assert uri in json.loads(result.stdout)[field]
