"""CSRF protection for the login, consent and logout forms (RFC 6749 §10.12).

The rules: docs/architecture.md §4.

RFC 6749 §10.12: the authorization server "MUST implement CSRF protection for its
authorization endpoint" so that no one obtains authorization without the user's
explicit consent; a forged sign-in (login CSRF) or sign-out is refused too.

A signed double-submit token, as OWASP's CSRF cheat sheet describes it:

* each browser holds a random CSRF cookie (``__Host-`` prefixed on https, so a sibling
  subdomain cannot plant one; ``HttpOnly``, ``SameSite=Lax``);
* every form carries ``HMAC(key, purpose, csrf cookie, session cookie, bound data)``;
* a POST is accepted only if the token it carries equals the one recomputed from the
  cookies it arrived with, compared in constant time.

A cross-site page can make the browser send the cookies but can neither read them nor
the forms, so it cannot produce the token.  Binding the *purpose* means a token lifted
from one form does not work on another; binding the session cookie means a token made
before sign-in stops working after it; binding *data* (for the consent form: the exact
authorization request shown) means the decision applies to what the user saw.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

FIELD = "csrf_token"
_TOKEN_BYTES = 32


def derive_key(pepper: bytes) -> bytes:
    """A key for CSRF tokens only, derived from the server secret.

    Every worker derives the same key, so a form rendered by one worker validates on
    another; and a CSRF token can never double as a client-secret digest.
    """
    return hmac.new(pepper, b"mintage/csrf/v1", hashlib.sha256).digest()


def new_browser_secret() -> str:
    """A fresh value for the per-browser CSRF cookie (256 bits)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def canonical(params: Iterable[tuple[str, str]]) -> bytes:
    """An unambiguous byte string for a set of form fields (order-independent)."""
    parts = []
    for name, value in sorted(params):
        raw_name, raw_value = name.encode(), value.encode()
        parts.append(b"%d:%s%d:%s" % (len(raw_name), raw_name, len(raw_value), raw_value))
    return b"".join(parts)


class CsrfSigner:
    """Makes and checks form tokens under one key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, purpose: str, browser: str, session: str | None, data: bytes = b"") -> str:
        """The token a form for ``purpose`` carries, for these cookies and ``data``."""
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (purpose.encode(), browser.encode(), (session or "").encode(), data):
            # length-prefixed: no two different inputs share one MAC input
            mac.update(b"%d:" % len(part))
            mac.update(part)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def verify(
        self,
        submitted: str | None,
        purpose: str,
        browser: str | None,
        session: str | None,
        data: bytes = b"",
    ) -> bool:
        """``True`` when ``submitted`` is this browser's token for ``purpose`` and ``data``.

        A missing cookie or field fails; the comparison is constant-time so the token
        cannot be learnt byte by byte from response timing.
        """
        if not submitted or not browser:
            return False
        expected = self.token(purpose, browser, session, data)
        return hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace"))
