"""Signing in through the example web app, as a person would, in headless Chromium.

Each test signs in as its own user in a fresh browser profile.  The login and consent
pages are photographed into ``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conftest import ROOT, Deployment
from oauth_testkit import PASSWORD

SCREENSHOTS = ROOT / "docs" / "screenshots"


def png_rows(data: bytes) -> list[bytes]:
    """The rows of a PNG's image data (filtered), for a rough comparison."""
    chunks, at = [], 8
    width = height = 0
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = len(raw) // height if height else 0
    return [b"%d:" % width] + [raw[y * stride : (y + 1) * stride] for y in range(height)]


def same_picture(a: bytes, b: bytes) -> bool:
    """Equal size, and at most 1% of the rows differ (Chromium's software rasteriser
    varies a few anti-aliased pixels from run to run, and its PNG bytes vary too)."""
    rows_a, rows_b = png_rows(a), png_rows(b)
    if len(rows_a) != len(rows_b) or rows_a[0] != rows_b[0]:
        return False
    return sum(x != y for x, y in zip(rows_a, rows_b, strict=True)) <= len(rows_a) // 100


def save_screenshot(page: Any, name: str) -> None:
    """Write ``docs/screenshots/<name>`` unless the committed one shows the same page."""
    path: Path = SCREENSHOTS / name
    data: bytes = page.screenshot()
    if path.is_file() and same_picture(path.read_bytes(), data):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def start_sign_in(page: Any, deployment: Deployment) -> dict[str, list[str]]:
    """From the app's home page to Mintage's sign-in page; the request's parameters."""
    page.goto(deployment.webapp_url + "/")
    page.get_by_role("link", name="Sign in with Mintage").click()
    page.wait_for_url(deployment.mintage_url + "/oauth/authorize?**")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    return parse_qs(urlsplit(page.url).query)


def submit_login(page: Any, username: str, password: str) -> Any:
    """Fill the form through its labels and submit; returns the POST's response."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/login")
    ) as answer:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return answer.value


def signed_in_sub(page: Any, deployment: Deployment) -> str:
    page.wait_for_url(deployment.webapp_url + "/")
    text: str = page.locator("#sub").inner_text()
    return text


def test_sign_in_consent_and_land_on_the_app_with_a_token(
    page: Any, deployment: Deployment
) -> None:
    request = start_sign_in(page, deployment)
    assert request["code_challenge_method"] == ["S256"]  # PKCE, with Authlib's client
    assert request["client_id"] == [deployment.client_id]
    assert "Example web app" in page.locator("main").inner_text()
    # keyboard: the username field has focus, Tab moves to password, then the button
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    save_screenshot(page, "login.png")

    answer = submit_login(page, "alice", PASSWORD)
    assert answer.status == 303
    consent = page.locator("main")
    assert page.get_by_role("heading", level=1).inner_text() == "Allow Example web app access?"
    assert "Read your data" in consent.inner_text()
    assert "Change your data" in consent.inner_text()
    assert "signed in as alice" in consent.inner_text()
    save_screenshot(page, "consent.png")

    page.get_by_role("button", name="Allow").click()
    assert signed_in_sub(page, deployment) == deployment.users["alice"]
    assert page.locator("#scopes").inner_text().split() == ["read", "write"]


def test_wrong_password(page: Any, deployment: Deployment) -> None:
    start_sign_in(page, deployment)
    answer = submit_login(page, "dave", "not the password")
    assert answer.status == 401
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "Incorrect username or password."
    assert page.get_by_label("Username").input_value() == "dave"
    assert page.get_by_label("Password").input_value() == ""
    # the same words for a user who does not exist
    answer = submit_login(page, "nobody", "not the password")
    assert answer.status == 401
    assert page.get_by_role("alert").inner_text() == "Incorrect username or password."
    # and the right password still works from the re-rendered form
    assert submit_login(page, "dave", PASSWORD).status == 303
    assert page.get_by_role("button", name="Allow").is_visible()


def test_lock_out(page: Any, deployment: Deployment) -> None:
    start_sign_in(page, deployment)
    for _ in range(5):
        assert submit_login(page, "mallory", "guess").status == 401
    answer = submit_login(page, "mallory", PASSWORD)
    assert answer.status == 429
    assert int(answer.headers["retry-after"]) > 0
    assert re.match(
        r"Too many failed sign-ins\. Wait \d+ seconds", page.get_by_role("alert").inner_text()
    )
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"


def test_form_without_its_csrf_token_is_refused(page: Any, deployment: Deployment) -> None:
    start_sign_in(page, deployment)
    page.locator("input[name=csrf_token]").evaluate("field => field.remove()")
    answer = submit_login(page, "erin", PASSWORD)
    assert answer.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "This form has expired"
    cookies = {c["name"] for c in page.context.cookies()}
    assert "mintage_session" not in cookies
    page.goto(deployment.mintage_url + "/login")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"  # not signed in


def test_consent_is_remembered(page: Any, deployment: Deployment) -> None:
    start_sign_in(page, deployment)
    submit_login(page, "bob", PASSWORD)
    page.get_by_role("button", name="Allow").click()
    bob = deployment.users["bob"]
    assert signed_in_sub(page, deployment) == bob
    # sign out of the app only: Mintage's session and the consent skip both pages
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Sign in with Mintage").click()
    assert signed_in_sub(page, deployment) == bob
    # sign out of Mintage too: the sign-in page again, but no consent page
    page.goto(deployment.mintage_url + "/login")
    assert "You are signed in" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(deployment.mintage_url + "/login")
    assert page.get_by_label("Password").is_visible()
    page.get_by_role("button", name="Sign in")  # the login form is back
    page.goto(deployment.webapp_url + "/")
    page.get_by_role("button", name="Sign out").click()
    start_sign_in(page, deployment)
    assert submit_login(page, "bob", PASSWORD).status == 303
    assert signed_in_sub(page, deployment) == bob


def test_deny_returns_access_denied_to_the_app(page: Any, deployment: Deployment) -> None:
    start_sign_in(page, deployment)
    submit_login(page, "carol", PASSWORD)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(deployment.webapp_url + "/callback?**")
    assert "access_denied" in page.locator("#error").inner_text()


def test_pages_fit_a_phone_screen(page: Any, deployment: Deployment) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    start_sign_in(page, deployment)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("document.documentElement.lang") == "en"
    box = page.get_by_role("button", name="Sign in").bounding_box()
    assert box is not None and box["height"] >= 44  # a comfortable touch target
