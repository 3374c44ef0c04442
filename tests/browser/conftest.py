"""Headless Chromium against a real Mintage server and the example web app.

Debian's ``/usr/bin/chromium`` is driven by Playwright for Python; no browser is ever
downloaded (``playwright install`` is never run).  Without that binary the tests skip
with the reason, unless ``MINTAGE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes the
absence a failure.

Mintage runs as a real ``mintage serve`` process on SQLite, with its users and the
example app's client made by the ``mintage`` command, as the README shows.
``examples/webapp.py`` runs as a real process on another port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from oauth_testkit import PASSWORD
from polling import until_blocking

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 20.0
#: users of the browser tests; each test signs in as its own, so none depends on another
USERS = ("alice", "bob", "carol", "dave", "mallory", "erin", "olivia")


def _missing_browser() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


def require_browser() -> None:
    """Skip without Chromium, or fail when MINTAGE_REQUIRE_BROWSER=1."""
    missing = _missing_browser()
    if missing is None:
        return
    if os.environ.get("MINTAGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MINTAGE_REQUIRE_BROWSER=1 but {missing}")
    pytest.skip(missing)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, alive: Any = None) -> None:
    def healthy() -> bool:
        if alive is not None and not alive():
            raise AssertionError(f"the server for {url} exited")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    until_blocking(healthy, within=STARTUP_SECONDS, interval=0.05, what=f"{url} healthy")


@dataclass
class Deployment:
    """Mintage and the example app, as the tests see them."""

    mintage_url: str
    webapp_url: str
    #: user id by username
    users: dict[str, str]
    client_id: str
    #: the environment of ``mintage`` commands on the server's database
    env: dict[str, str]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINTAGE_")}
    env.update(extra)
    return env


def mintage_command(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "mintage.cli.main", *args, "--json"],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class ServeProcess:
    """``mintage serve`` on SQLite, its users and client made by the CLI."""

    def __init__(self, workdir: Path, port: int, redirect_uri: str) -> None:
        self.env = clean_env(
            MINTAGE_DATABASE_URL=f"sqlite:///{workdir / 'mintage.db'}",
            MINTAGE_CREATE_DEMO_CLIENT="false",
        )
        # Only serve and db upgrade create a database; users and the client come first.
        subprocess.run(
            [sys.executable, "-m", "mintage.cli.main", "db", "upgrade"],
            env=self.env,
            capture_output=True,
            timeout=60,
            check=True,
        )
        self.users = {
            name: mintage_command(
                "user", "create", name, "--password-stdin", env=self.env, stdin=PASSWORD + "\n"
            )["user_id"]
            for name in USERS
        }
        client = mintage_command(
            "client", "create", "--name", "Example web app",
            "--grant-type", "authorization_code", "--grant-type", "refresh_token",
            "--scope", "read write", "--redirect-uri", redirect_uri,
            env=self.env,
        )  # fmt: skip
        self.client_id, self.secret = client["client_id"], client["client_secret"]
        self.log = workdir / "mintage.out"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def start(self, health_url: str) -> None:
        try:
            wait_healthy(health_url, lambda: self.popen.poll() is None)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log.read_text()}") from None

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGINT)
        self.popen.wait(timeout=20)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_browser()
    mintage_port, webapp_port = free_port(), free_port()
    mintage_url = f"http://127.0.0.1:{mintage_port}"
    webapp_url = f"http://127.0.0.1:{webapp_port}"
    workdir = tmp_path_factory.mktemp("deployment")
    mintage = ServeProcess(workdir, mintage_port, f"{webapp_url}/callback")
    users, client_id, secret = mintage.users, mintage.client_id, mintage.secret
    log = workdir / "webapp.out"
    env = clean_env(
        MINTAGE_URL=mintage_url,
        CLIENT_ID=client_id,
        CLIENT_SECRET=secret,
        PORT=str(webapp_port),
        SCOPE="read write",
    )
    webapp: subprocess.Popen[bytes] | None = None
    try:
        mintage.start(f"{mintage_url}/healthz")
        with log.open("wb") as out:
            webapp = subprocess.Popen(
                [sys.executable, str(ROOT / "examples" / "webapp.py")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(f"{webapp_url}/", lambda: webapp is not None and webapp.poll() is None)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}") from None
        yield Deployment(mintage_url, webapp_url, users, client_id, mintage.env)
    finally:
        if webapp is not None:
            webapp.terminate()
            webapp.wait(timeout=10)
        mintage.stop()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page in a fresh Chromium with its own temporary profile (no shared cookies)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "chromium-profile"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 800, "height": 720},
        )
        context.set_default_timeout(15_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
