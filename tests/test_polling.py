"""The one polling helper (tests/polling.py): the value as soon as it is there, a named
failure at the deadline, deadlines stretched by MINTAGE_TEST_TIMEOUT_SCALE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from polling import until, until_blocking


def countdown(n: int) -> object:
    """A condition that holds (with the value ``"ready"``) on its ``n``-th call."""
    calls = iter(range(n - 1, -1, -1))
    return lambda: "ready" if next(calls) == 0 else None


async def test_until_returns_the_first_truthy_value() -> None:
    assert await until(countdown(3), interval=0) == "ready"  # type: ignore[arg-type]


async def test_until_awaits_a_coroutine_condition() -> None:
    check = countdown(2)

    async def condition() -> object:
        return check()  # type: ignore[operator]

    assert await until(condition, interval=0) == "ready"


async def test_until_fails_at_the_deadline_naming_what_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"the answer: not within 0\.0 s \(last: 0\)"):
        await until(lambda: 0, within=0, what="the answer")


def test_until_blocking_returns_the_first_truthy_value_and_fails_at_the_deadline() -> None:
    assert until_blocking(countdown(3), interval=0) == "ready"  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=r"the file: not within 0\.0 s \(last: ''\)"):
        until_blocking(lambda: "", within=0, what="the file")


def test_the_scale_multiplies_every_deadline() -> None:
    script = "import polling; print(polling.scaled(2.0))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).parent,
        env={"MINTAGE_TEST_TIMEOUT_SCALE": "2.5", "PATH": ""},
    )
    assert result.stdout == "5.0\n"
