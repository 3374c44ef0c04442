"""A plain http issuer only on loopback, unless the development switch says otherwise.

Elsewhere the start-up stops with a clear message (exit 2 from the CLI, no traceback):
such an issuer would send tokens and passwords in clear, and the sign-in cookies would
silently lose ``Secure`` and ``__Host-``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic import ValidationError

from mintage import Settings
from mintage.cli.main import cli
from oauth_testkit import MakeServer

REFUSED = "is plain http on a host other than loopback"

LOOPBACK = [
    "http://127.0.0.1:3000",
    "http://127.0.0.1",
    "http://127.8.9.10:8080/",
    "http://[::1]:3000",
    "http://localhost:3000",
    "http://LOCALHOST",
]
ELSEWHERE = [
    "http://testserver",
    "http://auth.example.com",
    "http://10.0.0.5:3000",
    "http://0.0.0.0:3000",
    "http://[::]:3000",
    "http://[::ffff:7f00:1]:3000",
    "http://localhost.example.com",
    "http://127.0.0.1.nip.io",
    "http://128.0.0.1",
]


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No MINTAGE_* variable of the caller's shell in the way."""
    for name in [*(f"MINTAGE_{n.upper()}" for n in Settings.model_fields), "MINTAGE_CONFIG"]:
        monkeypatch.setenv(name, "")  # recorded, so teardown restores the original
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("issuer", LOOPBACK)
def test_loopback_http_issuers_are_accepted_silently(issuer: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Settings(database_url="memory://", issuer=issuer).issuer == issuer


@pytest.mark.parametrize("issuer", ELSEWHERE)
def test_other_http_issuers_are_refused(issuer: str) -> None:
    with pytest.raises(ValidationError, match=REFUSED):
        Settings(database_url="memory://", issuer=issuer)
    with pytest.raises(ValidationError, match=REFUSED):
        Settings(database_url="memory://", issuer=issuer.upper().replace("HTTP:", "http:"))


@pytest.mark.parametrize("issuer", ELSEWHERE[:3])
def test_the_development_switch_accepts_them_with_a_warning(issuer: str) -> None:
    with pytest.warns(UserWarning, match="plain http: use https outside development"):
        settings = Settings(database_url="memory://", issuer=issuer, allow_insecure_issuer=True)
    assert settings.issuer_url == issuer


@pytest.mark.parametrize(
    ("issuer", "cookie", "secure"),
    [
        ("http://auth.example.com", "mintage_csrf=", False),
        ("https://auth.example.com", "__Host-mintage_csrf=", True),
    ],
)
async def test_what_the_switch_costs(
    make_server: MakeServer, issuer: str, cookie: str, secure: bool
) -> None:
    """With it, the sign-in cookies go without ``Secure`` and ``__Host-``."""
    server = await make_server(issuer=issuer, allow_insecure_issuer=True)
    page = await server.http.get("/login")
    assert page.status_code == 200
    set_cookie = page.headers["set-cookie"]
    assert set_cookie.startswith(cookie)
    assert ("; secure" in set_cookie.lower()) is secure


def test_https_issuers_need_no_switch() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Settings(database_url="memory://", issuer="https://auth.example.com")


def invoke(*args: str, env: dict[str, str]) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.mark.parametrize("command", [("serve", "--port", "3999"), ("client", "list")])
def test_the_cli_refuses_with_a_clean_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    db = f"sqlite:///{tmp_path / 'issuer.db'}"
    env = {"MINTAGE_ISSUER": "http://auth.example.com", "MINTAGE_DATABASE_URL": db}
    result = invoke(*command, env=env)
    assert result.exit_code == 2, result.output
    assert "invalid settings" in result.output and REFUSED in result.output
    assert "allow_insecure_issuer" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "issuer.db").exists()  # stopped before anything was opened


def test_the_cli_accepts_the_switch_with_a_warning(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'issuer.db'}"
    env = {
        "MINTAGE_ISSUER": "http://auth.example.com",
        "MINTAGE_ALLOW_INSECURE_ISSUER": "true",
        "MINTAGE_DATABASE_URL": db,
    }
    assert invoke("db", "upgrade", env=env).exit_code == 0
    result = invoke("client", "list", env=env)
    assert result.exit_code == 0, result.output
    assert "warning: issuer http://auth.example.com is plain http" in result.output
