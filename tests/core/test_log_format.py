"""Log format: readable lines on a terminal, JSON lines everywhere else, either forced by
``MINTAGE_LOG_FORMAT`` (mintage.logs.configure_logging)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from mintage.cli import serve as serve_module
from mintage.logs import LogFormat, configure_logging
from mintage.settings import Settings

ANSI = "\x1b["


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def emit(fmt: LogFormat, stream: io.StringIO) -> str:
    configure_logging("info", fmt, stream=stream)
    logging.getLogger("mintage").warning("store slow", extra={"path": "/oauth/token"})
    return stream.getvalue()


def is_json_lines(text: str) -> bool:
    try:
        records = [json.loads(line) for line in text.splitlines()]
    except json.JSONDecodeError:
        return False
    return len(records) == 1 and records[0]["event"] == "store slow"


def test_auto_is_json_when_stderr_is_not_a_terminal() -> None:
    out = emit("auto", io.StringIO())
    assert is_json_lines(out)
    assert json.loads(out)["path"] == "/oauth/token"


def test_auto_is_readable_and_coloured_on_a_terminal() -> None:
    out = emit("auto", Terminal())
    assert not is_json_lines(out)
    assert "store slow" in out and "/oauth/token" in out
    assert ANSI in out


@pytest.mark.parametrize(
    ("variable", "value"), [("TERM", "dumb"), ("NO_COLOR", "1")], ids=["dumb", "no-color"]
)
def test_no_colours_where_the_terminal_cannot_show_them(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    out = emit("auto", Terminal())
    assert "store slow" in out and not is_json_lines(out)
    assert ANSI not in out


def test_json_can_be_forced_on_a_terminal() -> None:
    assert is_json_lines(emit("json", Terminal()))


def test_console_can_be_forced_off_a_terminal_without_colours() -> None:
    out = emit("console", io.StringIO())
    assert "store slow" in out and not is_json_lines(out)
    assert ANSI not in out


def test_the_setting_defaults_to_auto_and_refuses_other_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MINTAGE_LOG_FORMAT", raising=False)
    assert Settings().log_format == "auto"
    monkeypatch.setenv("MINTAGE_LOG_FORMAT", "yaml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()


@pytest.mark.parametrize(("fmt", "json_lines"), [("json", True), ("console", False)])
def test_serve_workers_follow_mintage_log_format(
    monkeypatch: pytest.MonkeyPatch, fmt: str, json_lines: bool
) -> None:
    """What each ``mintage serve`` worker runs first: MINTAGE_LOG_FORMAT decides, even on
    a terminal."""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setenv("MINTAGE_LOG_FORMAT", fmt)
    monkeypatch.setenv("MINTAGE_DATABASE_URL", "memory://")
    monkeypatch.setenv("MINTAGE_SECRET_KEY", "k" * 43)
    monkeypatch.setenv("MINTAGE_PURGE_INTERVAL", "0")
    serve_module.app_factory()
    logging.getLogger("mintage").warning("store slow")
    assert is_json_lines(terminal.getvalue()) is json_lines
