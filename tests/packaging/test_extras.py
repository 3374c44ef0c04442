"""The extras split (pyproject.toml): the server runs on SQLite without the optional
backends, and a missing extra names the install command that brings it.

Each probe runs in a fresh interpreter where the optional modules are blocked
(``sys.modules[name] = None`` makes ``import name`` raise ``ModuleNotFoundError``), as
if ``pip install 'mintage[server]'`` had not installed them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mintage
from mintage.extras import SERVER_MODULES, extra_needed

OPTIONAL = ("asyncpg", "redis", "fastapi", "opentelemetry")


def run_blocked(blocked: tuple[str, ...], body: str) -> subprocess.CompletedProcess[str]:
    script = "import sys\n"
    script += "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    script += textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.e2e  # a child interpreter
def test_the_server_serves_on_sqlite_without_the_optional_backends(tmp_path: Path) -> None:
    result = run_blocked(
        OPTIONAL,
        f"""
        import asyncio, httpx
        from asgi_lifespan import LifespanManager
        from mintage import Settings, create_app

        async def main():
            settings = Settings(database_url="sqlite:///{tmp_path}/m.db", secret_key="s" * 43)
            app = create_app(settings)
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    response = await http.get("/.well-known/oauth-authorization-server")
            print(response.status_code)

        asyncio.run(main())
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "200\n"


@pytest.mark.e2e  # a child interpreter
def test_postgresql_without_asyncpg_names_the_postgres_extra() -> None:
    result = run_blocked(
        ("asyncpg",),
        """
        from mintage import open_storage
        try:
            open_storage("postgresql://db.example/mintage")
        except ModuleNotFoundError as exc:
            print(exc.name, exc)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "asyncpg asyncpg is not installed: pip install 'mintage[postgres]'"
    )


@pytest.mark.e2e  # a child interpreter
def test_a_redis_url_without_redis_names_the_redis_extra() -> None:
    result = run_blocked(
        ("redis",),
        """
        from mintage.core.clock import system_clock
        from mintage.ratelimits import build_rate_limiter
        try:
            build_rate_limiter({}, system_clock, redis_url="redis://127.0.0.1:6379/0")
        except ModuleNotFoundError as exc:
            print(exc)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "redis is not installed: pip install 'mintage[redis]'"


@pytest.mark.e2e  # a child interpreter
def test_the_command_without_the_server_says_which_extra() -> None:
    result = run_blocked(
        ("click",),
        """
        sys.argv = ["mintage", "--version"]
        from mintage.__main__ import main
        main()
        """,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "mintage: the command needs the server; "
        "click is not installed: pip install 'mintage[server]'\n"
    )


@pytest.mark.e2e  # a child interpreter
def test_python_m_mintage_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mintage", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mintage, version {mintage.__version__}\n"


def test_other_missing_modules_pass_unchanged() -> None:
    """A missing module that no extra brings is a bug to see as it is."""
    with pytest.raises(ModuleNotFoundError) as caught, extra_needed("server", SERVER_MODULES):
        import mintage_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert caught.value.name == "mintage_no_such_module"
    assert "pip install" not in str(caught.value)
