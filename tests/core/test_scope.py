"""Scope syntax and policy (RFC 6749 §3.3, §6)."""

from __future__ import annotations

import pytest

from mintage.core.errors import InvalidRequestError, InvalidScopeError
from mintage.core.scope import format_scope, granted_scope, narrowed_scope, parse_scope


def test_parse_keeps_order_and_drops_repeats() -> None:
    assert parse_scope("write read write") == ("write", "read")


def test_parse_none_is_no_scope() -> None:
    assert parse_scope(None) == ()


@pytest.mark.parametrize(
    "value",
    [
        "read  write",  # two spaces: an empty scope-token
        " read",
        "read ",
        "",
        'say"hi"',  # %x22 is outside scope-token
        "back\\slash",  # %x5C is outside scope-token
        "tab\tread",
        "café",
        "new\nline",
    ],
)
def test_parse_rejects_what_the_grammar_forbids(value: str) -> None:
    with pytest.raises(InvalidScopeError):
        parse_scope(value)


def test_every_allowed_character_parses() -> None:
    allowed = "".join(chr(c) for c in range(0x21, 0x7F) if c not in (0x22, 0x5C))
    assert parse_scope(allowed) == (allowed,)


def test_format_joins_with_single_spaces() -> None:
    assert format_scope(("a", "b")) == "a b"


def test_granted_defaults_to_everything_the_client_may_have() -> None:
    assert granted_scope(None, ("read", "write")) == ("read", "write")


def test_granted_returns_the_asked_subset() -> None:
    assert granted_scope("write", ("read", "write")) == ("write",)


def test_granted_refuses_a_scope_the_client_lacks() -> None:
    with pytest.raises(InvalidScopeError) as info:
        granted_scope("read admin", ("read",))
    assert info.value.description is not None and "admin" in info.value.description


def test_granted_refuses_an_empty_scope_parameter() -> None:
    with pytest.raises(InvalidRequestError):
        granted_scope("", ("read",))


def test_narrowed_keeps_the_original_when_none_asked() -> None:
    assert narrowed_scope(None, ("read", "write")) == ("read", "write")


def test_narrowed_may_shrink() -> None:
    assert narrowed_scope("read", ("read", "write")) == ("read",)


def test_narrowed_may_not_widen() -> None:
    with pytest.raises(InvalidScopeError):
        narrowed_scope("read write", ("read",))


def test_narrowed_refuses_an_empty_scope_parameter() -> None:
    with pytest.raises(InvalidRequestError):
        narrowed_scope("", ("read",))
