"""mintage.logs: JSON lines, the request id on every record, and no secret in any of them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from mintage.logs import REDACTED, configure_logging, redact, request_id_var, scrub

TOKEN = "mint_at_c2VjcmV0LXRva2VuLXZhbHVlLTAxMjM0NTY3ODlhYmNkZWZnaA_x1y2z3"
SECRET = "mint_cs_Y2xpZW50LXNlY3JldC12YWx1ZS0wMTIzNDU2Nzg5YWJjZGVmZ2g_a1b2c3"


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging("debug", "json", stream=stream)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def test_sensitive_keys_are_redacted_at_any_depth() -> None:
    event = {
        "event": "token request",
        "Authorization": "Basic abc",
        "client-secret": SECRET,
        "form": {"grant_type": "password", "password": "hunter2", "code_verifier": "v" * 43},
        "items": [{"refresh_token": "mint_rt_x"}, {"code": "mint_ac_y"}],
        "status_code": 401,
        "error_code": "invalid_client",
        "id_token": "eyJ...",
    }
    out = redact(None, "info", event)
    assert out["Authorization"] == out["client-secret"] == out["id_token"] == REDACTED
    form = {"grant_type": "password", "password": REDACTED, "code_verifier": REDACTED}
    assert out["form"] == form
    assert out["items"] == [{"refresh_token": REDACTED}, {"code": REDACTED}]
    # look-alike keys that hold no secret are kept
    assert out["status_code"] == 401 and out["error_code"] == "invalid_client"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"lookup of {TOKEN} failed", TOKEN),
        ("header was Bearer abc.def-ghi", "abc.def-ghi"),
        ("header was basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("body grant_type=password&password=hunter2&client_secret=s3cr3t", "hunter2"),
        ("body grant_type=password&password=hunter2&client_secret=s3cr3t", "s3cr3t"),
        ("/cb?code=abc123&state=xyz", "abc123"),
        ("params {'refresh_token': 'rt-value', 'scope': 'read'}", "rt-value"),
        ('json {"access_token":"at-value","token_type":"Bearer"}', "at-value"),
    ],
)
def test_token_shaped_text_is_scrubbed(text: str, leaked: str) -> None:
    cleaned = scrub(text)
    assert leaked not in cleaned
    assert REDACTED in cleaned


def test_scrub_keeps_ordinary_text() -> None:
    text = "GET /resource answered 401 invalid_token; status_code=401 scope=read"
    assert scrub(text) == text


def test_structlog_and_stdlib_records_are_json_with_the_request_id(captured: Captured) -> None:
    token = request_id_var.set("req-42")
    try:
        structlog.get_logger("mintage.test").info("issued", grant_type="client_credentials")
        logging.getLogger("mintage").warning("storage unavailable", extra={"path": "/oauth/token"})
    finally:
        request_id_var.reset(token)
    logging.getLogger("mintage").info("outside any request")
    first, second, third = captured.records()
    assert first["event"] == "issued" and first["grant_type"] == "client_credentials"
    assert first["request_id"] == "req-42" and first["level"] == "info"
    assert second["event"] == "storage unavailable" and second["path"] == "/oauth/token"
    assert second["request_id"] == "req-42" and second["level"] == "warning"
    assert second["logger"] == "mintage" and "timestamp" in second
    assert "request_id" not in third


def test_no_secret_survives_any_route_into_the_logs(captured: Captured) -> None:
    log = logging.getLogger("mintage")
    structlog.get_logger("mintage").info("form", client_secret=SECRET, access_token=TOKEN)
    log.info("headers", extra={"headers": {"authorization": f"Bearer {TOKEN}"}})
    log.info("client %s presented %s", "abc", SECRET)  # %-formatting, stdlib style
    try:
        raise RuntimeError(f"could not store {TOKEN}")
    except RuntimeError:
        log.exception("unexpected error")
    records = captured.records()
    assert len(records) == 4
    assert "RuntimeError" in records[3]["exception"]
    assert TOKEN not in captured.text and SECRET not in captured.text
    assert captured.text.count(REDACTED) >= 5


def test_console_format_is_plain_text() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handler = configure_logging("info", "console", stream=stream)
    try:
        logging.getLogger("mintage").info("hello %s", "there", extra={"password": "hunter2"})
    finally:
        root.removeHandler(handler)
        structlog.reset_defaults()
    assert "hello there" in stream.getvalue()
    assert "hunter2" not in stream.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(stream.getvalue())


def test_configuring_twice_keeps_one_handler(captured: Captured) -> None:
    stream = io.StringIO()
    handler = configure_logging("info", "json", stream=stream)
    ours = [h for h in logging.getLogger().handlers if h.get_name() == handler.get_name()]
    assert ours == [handler]
    logging.getLogger("mintage").info("once")
    assert captured.text == "" and stream.getvalue().count("once") == 1
