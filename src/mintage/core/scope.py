"""Scope parsing and policy (RFC 6749 §3.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidRequestError, InvalidScopeError

# scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def parse_scope(value: str | None) -> tuple[str, ...]:
    """Split a scope string into unique tokens, keeping the caller's order."""
    if value is None:
        return ()
    tokens = value.split(" ")
    out: list[str] = []
    for token in tokens:
        if not token:
            raise InvalidScopeError("scope tokens are separated by single spaces")
        if not _SCOPE_TOKEN.fullmatch(token):
            raise InvalidScopeError("scope contains characters RFC 6749 section 3.3 forbids")
        if token not in out:
            out.append(token)
    return tuple(out)


def format_scope(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def _within(requested: str | None, limit: tuple[str, ...], refusal: str) -> tuple[str, ...]:
    """The requested scope if it stays within ``limit``; ``limit`` itself when none is asked."""
    if requested is None:
        return limit
    if requested == "":
        raise InvalidRequestError("scope is empty")
    asked = parse_scope(requested)
    outside = [s for s in asked if s not in limit]
    if outside:
        raise InvalidScopeError(f"{refusal}: {' '.join(outside)}")
    return asked


def granted_scope(requested: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The scope to grant: the request, or the client's allowed scopes when none is asked.

    RFC 6749 §3.3: the server "MUST either process the request using a pre-defined default
    value or fail"; we default to everything the client is allowed.
    """
    return _within(requested, allowed, "scope not allowed for this client")


def narrowed_scope(requested: str | None, original: tuple[str, ...]) -> tuple[str, ...]:
    """RFC 6749 §6: a refreshed scope "MUST NOT include any scope not originally granted"."""
    return _within(requested, original, "scope exceeds the original grant")
