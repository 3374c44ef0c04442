"""The browser cookies of the sign-in pages: names and flags (RFC 6265bis §4.1.3).

Both cookies are ``HttpOnly`` (no script can read them), ``SameSite=Lax`` (not sent on
cross-site POSTs, a first CSRF barrier), ``Path=/``, and ``Secure`` when the issuer is
https.  On https their names carry the ``__Host-`` prefix, which browsers accept only
with ``Secure``, ``Path=/`` and no ``Domain``: a sibling subdomain then cannot plant a
session (session fixation) or a CSRF cookie of its choosing.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """Cookie names and flags, fixed at start-up from the issuer's scheme."""

    secure: bool
    session_name: str
    csrf_name: str

    @classmethod
    def for_issuer(cls, issuer: str) -> CookiePolicy:
        secure = issuer.startswith("https://")
        prefix = "__Host-" if secure else ""
        return cls(secure, f"{prefix}mintage_session", f"{prefix}mintage_csrf")

    def session(self, request: Request) -> str | None:
        return _cookie(request, self.session_name)

    def csrf(self, request: Request) -> str | None:
        return _cookie(request, self.csrf_name)

    def set(self, response: Response, name: str, value: str) -> None:
        """A browser-session cookie (no ``Max-Age``): it ends when the browser closes;
        the server-side session has its own expiry."""
        response.set_cookie(
            name, value, path="/", secure=self.secure, httponly=True, samesite="lax"
        )

    def clear(self, response: Response, name: str) -> None:
        """Expire the cookie; the flags must match for browsers to replace it."""
        response.set_cookie(
            name,
            "",
            max_age=0,
            expires=0,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )


def _cookie(request: Request, name: str) -> str | None:
    """The cookie's value, or ``None``.

    Starlette's parser keeps the *last* of duplicate names; a duplicate is suspicious
    (a planted cookie next to ours), so it counts as no cookie at all.
    """
    header = request.headers.get("cookie")
    if not header or _duplicated(header, name):
        return None
    return request.cookies.get(name) or None


def _duplicated(header: str, name: str) -> bool:
    return sum(part.split("=", 1)[0].strip() == name for part in header.split(";")) > 1
