"""Redirect URI matching (RFC 6749 §3.1.2, RFC 8252 §7.3 and §8.3, RFC 9700 §4.1.3).

Exact string comparison, with one exception: a native app's loopback redirect
(``http://127.0.0.1:{port}/…`` or ``http://[::1]:{port}/…``) matches on any port,
because the app listens on whatever port the operating system gives it (RFC 8252
§7.3).  ``localhost`` gets no such leeway: it can resolve to something other than the
loopback interface (RFC 8252 §8.3).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})

#: Schemes a browser does not send a request for but runs (``javascript:``,
#: ``vbscript:``), renders from the URI itself (``data:``) or reads from the local disk
#: (``file:``): as a redirect URI each would hand the code or the page to an attacker's
#: script (RFC 6749 §10.14, code injection).  Native apps keep their private-use
#: schemes (RFC 8252 §7.1), so this is a list of refusals, not of permissions.
FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
#: C0 controls, space, DEL and C1 controls: never in a URI (RFC 3986 §2), and browsers
#: strip or skip some of them, so ``"\x01javascript:"`` would still run as script.
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def check_redirect_uri_scheme(uri: str) -> None:
    """Refuse, with the reason, a redirect URI a browser would not simply navigate to.

    The scheme is compared case-insensitively (RFC 3986 §3.1), after the stray
    whitespace and control characters that would hide it have been refused.
    """
    if _CONTROL_OR_SPACE.search(uri):
        raise ValueError(f"redirect URI {uri!r} contains whitespace or control characters")
    scheme, colon, _ = uri.partition(":")
    if colon and scheme.lower() in FORBIDDEN_SCHEMES:
        raise ValueError(
            f"redirect URI {uri!r}: the {scheme.lower()}: scheme is never a redirect target"
        )


def _loopback_parts(uri: str) -> SplitResult | None:
    """The parts of a ``http`` loopback-IP URI, or ``None`` for anything else."""
    if "#" in uri:  # RFC 6749 §3.1.2: "MUST NOT include a fragment component", even empty
        return None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.username is not None or parts.password is not None:
        return None
    host = parts.netloc.rpartition(":")[0] if parts.port is not None else parts.netloc
    if host not in _LOOPBACK_HOSTS:
        return None
    return parts


def _without_port(parts: SplitResult) -> tuple[str, str, str, str]:
    host = parts.netloc.rpartition(":")[0] if parts.port is not None else parts.netloc
    return (host, parts.path, parts.query, parts.fragment)


def redirect_uri_matches(requested: str, registered: str) -> bool:
    """Does ``requested`` match one registered URI?"""
    if requested == registered:
        return True
    asked = _loopback_parts(requested)
    if asked is None:
        return False
    known = _loopback_parts(registered)
    # Path and query must still match exactly (RFC 8252 §7.3: "apart from the port").
    return known is not None and _without_port(asked) == _without_port(known)


def match_redirect_uri(requested: str | None, registered: tuple[str, ...]) -> str | None:
    """The redirect URI to use, or ``None`` when the request's is missing or unknown.

    RFC 6749 §3.1.2.3 and OAuth 2.1: ``redirect_uri`` may be omitted only when the client
    registered exactly one.
    """
    if requested is None:
        return registered[0] if len(registered) == 1 else None
    if any(redirect_uri_matches(requested, uri) for uri in registered):
        return requested
    return None
