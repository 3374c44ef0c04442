"""The wheel as users get it: built from the sources, installed alone into a fresh
virtual environment (``pip install mintage``, dependencies resolved from the registry
with constraints.txt, as ``make`` installs them).  That is the resource-server kit: it
verifies tokens without Starlette, SQLAlchemy or any other server library, ``import
mintage`` works, and the server's names and command say which extra brings them.

Slow (a build and an install): marked ``e2e``, so ``make quick`` leaves it out.
"""

from __future__ import annotations

import email.parser
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import mintage

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PROBES = Path(__file__).parent / "probes"
INSTALL_TIMEOUT = 900


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        timeout=INSTALL_TIMEOUT,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the sources, so the build leaves nothing in the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source)
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("mintage-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and only what it requires."""
    home = tmp_path_factory.mktemp("venv")
    created = run(sys.executable, "-m", "venv", home)
    assert created.returncode == 0, created.stderr
    python = home / "bin" / "python"
    constraints = ROOT / "constraints.txt"
    installed = run(python, "-m", "pip", "install", "-q", "-c", constraints, wheel)
    assert installed.returncode == 0, installed.stderr
    return home


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_the_wheel_declares_the_resource_kit_as_its_base(wheel: Path) -> None:
    meta = metadata(wheel)
    assert meta["Version"] == mintage.__version__  # one version, read from the package
    assert meta["License-Expression"] == "Apache-2.0"
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    assert sorted(r.name for r in requires if r.marker is None) == ["httpx", "joserfc"]
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"server", "postgres", "redis", "fastapi", "otel", "dev"} <= extras

    def needs(extra: str) -> set[str]:
        return {r.name for r in requires if r.marker and r.marker.evaluate({"extra": extra})}

    assert {"starlette", "sqlalchemy", "click", "argon2-cffi"} <= needs("server")
    assert "asyncpg" in needs("postgres") and "asyncpg" not in needs("server")
    assert "redis" in needs("redis") and "redis" not in needs("server")


def test_the_wheel_carries_the_license_the_types_and_the_server_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    for needed in (
        "mintage/py.typed",
        "mintage/__main__.py",
        "mintage/web/templates/login.html",
        "mintage/storage/sql/migrations/env.py",
    ):
        assert needed in names, needed
    assert not any(n.startswith("tests/") for n in names)


def test_the_resource_kit_alone_verifies_tokens_without_server_libraries(venv: Path) -> None:
    probe = run(venv / "bin" / "python", PROBES / "resource_kit_alone.py", cwd=venv)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert report == {
        "version": mintage.__version__,
        "subject": "alice",
        "scopes": ["read"],
        "installed": [],
    }


def test_server_names_and_the_command_name_the_server_extra(venv: Path) -> None:
    python = venv / "bin" / "python"
    script = (
        "import mintage\n"
        "try:\n"
        "    mintage.create_app\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    lazy = run(python, "-c", script, cwd=venv)
    assert lazy.returncode == 0, lazy.stderr
    assert lazy.stdout.endswith("is not installed: pip install 'mintage[server]'\n")
    for command in ([venv / "bin" / "mintage"], [python, "-m", "mintage"]):
        result = run(*command, "--version", cwd=venv)
        assert result.returncode == 1
        assert "pip install 'mintage[server]'" in result.stderr
