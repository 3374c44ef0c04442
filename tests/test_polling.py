"""The one polling helper (tests/polling.py): the value as soon as it is there, a named
failure at the deadline, deadlines stretched by MINTAGE_TEST_TIMEOUT_SCALE."""

from __future__ import annotations

import importlib
import os

import pytest

import polling
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


def test_the_scale_multiplies_every_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINTAGE_TEST_TIMEOUT_SCALE", "2.5")
    try:
        assert importlib.reload(polling).scaled(2.0) == 5.0
    finally:
        monkeypatch.undo()
        importlib.reload(polling)  # as the environment of the run says
    assert polling.scaled(2.0) == 2.0 * float(os.environ.get("MINTAGE_TEST_TIMEOUT_SCALE", "1"))
