"""Headless Chromium against a real Mintage server and the example web app.

Debian's ``/usr/bin/chromium`` is driven by Playwright for Python; no browser is ever
downloaded (``playwright install`` is never run).  Without that binary the tests skip
with the reason, unless ``MINTAGE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes the
absence a failure.

Mintage runs in this process under uvicorn, in a background thread on a free port, on
an in-memory store that the fixtures fill with users and the example app's client;
``examples/webapp.py`` runs as a real process on another port.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from mintage import MemoryStorage, Settings, create_app
from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher
from mintage.core.models import User
from oauth_testkit import PEPPER, add_user

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
USERS = ("alice", "bob", "carol", "dave", "mallory", "erin")


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
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise AssertionError(f"the server for {url} exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not healthy after {STARTUP_SECONDS} s")


@dataclass
class Deployment:
    """Mintage and the example app, as the tests see them."""

    mintage_url: str
    webapp_url: str
    storage: MemoryStorage
    users: dict[str, User]
    client_id: str


class ThreadedServer:
    """uvicorn serving an ASGI app in a daemon thread (it skips signal handlers there)."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, health_url: str) -> None:
        self.thread.start()
        wait_healthy(health_url, self.thread.is_alive)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def _fill(storage: MemoryStorage, redirect_uri: str) -> tuple[dict[str, User], str, str]:
    users = {name: await add_user(storage, name) for name in USERS}
    client, secret = await register_client(
        storage,
        SecretHasher(PEPPER),
        name="Example web app",
        grant_types=["authorization_code", "refresh_token"],
        scopes=["read", "write"],
        redirect_uris=[redirect_uri],
    )
    assert secret is not None
    return users, client.client_id, secret


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_browser()
    mintage_port, webapp_port = free_port(), free_port()
    mintage_url = f"http://127.0.0.1:{mintage_port}"
    webapp_url = f"http://127.0.0.1:{webapp_port}"
    storage = MemoryStorage()
    users, client_id, secret = asyncio.run(_fill(storage, f"{webapp_url}/callback"))
    settings = Settings(database_url="memory://", port=mintage_port, purge_interval=0)
    mintage = ThreadedServer(create_app(settings, storage=storage, pepper=PEPPER), mintage_port)
    mintage.start(f"{mintage_url}/healthz")
    logs = tmp_path_factory.mktemp("webapp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINTAGE_")}
    env.update(
        MINTAGE_URL=mintage_url,
        CLIENT_ID=client_id,
        CLIENT_SECRET=secret,
        PORT=str(webapp_port),
        SCOPE="read write",
    )
    with (logs / "webapp.out").open("wb") as out:
        webapp = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "webapp.py")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_healthy(f"{webapp_url}/", lambda: webapp.poll() is None)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{(logs / 'webapp.out').read_text()}") from None
        yield Deployment(mintage_url, webapp_url, storage, users, client_id)
    finally:
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
