"""A re-themed sign-in page (``MINTAGE_TEMPLATES_DIR``, docs/pages.md) in headless
Chromium: the brand and colour of the theme show, and signing in through it works.
The page is photographed into ``docs/screenshots/login-themed.png`` for docs/pages.md."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_sign_in import save_screenshot

from conftest import clean_env, free_port, mintage_command, require_browser, wait_healthy
from oauth_testkit import PASSWORD

LOGIN = """{% extends "mintage/login.html" %}
{% block site_name %}Acme{% endblock %}
{% block brand %}Acme Corp{% endblock %}
{% block footer %}<p class="note">Acme staff only.</p>{% endblock %}
"""
THEME = """:root { --accent: #0f766e; --accent-hover: #115e59; }
.brand { color: #0f766e; font-size: 1.25rem; }
"""


@pytest.fixture
def themed_server(tmp_path: Path) -> Iterator[str]:
    require_browser()
    templates = tmp_path / "theme"
    templates.mkdir()
    (templates / "login.html").write_text(LOGIN)
    (templates / "theme.css").write_text(THEME)
    env = clean_env(
        MINTAGE_DATABASE_URL=f"sqlite:///{tmp_path / 'mintage.db'}",
        MINTAGE_CREATE_DEMO_CLIENT="false",
        MINTAGE_TEMPLATES_DIR=str(templates),
    )
    # Only serve and db upgrade create a database; the user comes first.
    subprocess.run(
        [sys.executable, "-m", "mintage.cli.main", "db", "upgrade"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    mintage_command("user", "create", "quinn", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    port = free_port()
    log = tmp_path / "mintage.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(f"{url}/healthz", lambda: process.poll() is None)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}") from None
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def test_a_re_themed_login_page_signs_in(page: Any, themed_server: str) -> None:
    page.goto(themed_server + "/login")
    assert page.title() == "Sign in · Acme"
    assert page.locator(".brand").inner_text() == "Acme Corp"
    assert page.get_by_text("Acme staff only.").is_visible()
    button = page.get_by_role("button", name="Sign in")
    colour = button.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(15, 118, 110)", colour  # the theme's accent, #0f766e
    save_screenshot(page, "login-themed.png")
    page.get_by_label("Username").fill("quinn")
    page.get_by_label("Password").fill(PASSWORD)
    button.click()
    page.wait_for_url(themed_server + "/login")
    assert page.get_by_role("heading", level=1).inner_text() == "You are signed in"
