"""Cross-origin requests from browser-based clients (the Fetch standard's CORS protocol).

A single-page app is a public client that calls the token endpoint (and revocation and
UserInfo) from JavaScript, so its browser needs the server's consent (RFC 9700 §2.1 and
OAuth 2.0 for Browser-Based Apps §6).  Mintage gives it only to the origins an operator
lists (``cors_origins``); the discovery documents and JWKS are public and open to any
origin.  Requests without an ``Origin`` header (every non-browser client) pass straight
through: the hot path pays one scan of the raw headers, nothing more.

No credentials mode: Mintage never sets ``Access-Control-Allow-Credentials``, so a page
of another site cannot ride the user's session cookie through these endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable

from .asgi import App, Message, Receive, Scope, Send

#: headers a browser-based client sends: Bearer tokens, JSON or form bodies, DPoP proofs
_ALLOW_HEADERS = b"authorization, content-type, dpop, x-request-id"
#: headers its code may read: the Bearer challenge, when to retry, the request id
_EXPOSE_HEADERS = b"www-authenticate, retry-after, x-request-id"


def _origin(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"origin":
            return bytes(value)
    return None


class CorsEndpoint:
    """Wraps one endpoint: answers preflights, and adds the allow headers to the answers
    for allowed origins.  ``origins`` ``None`` means any origin (``*``)."""

    __slots__ = ("_allow_methods", "_inner", "_origins", "methods", "route")

    def __init__(
        self, inner: App, route: str, methods: Iterable[str], origins: frozenset[str] | None
    ) -> None:
        self._inner = inner
        self.route = route
        self.methods = (*methods, "OPTIONS")
        self._allow_methods = ", ".join(m for m in self.methods if m != "OPTIONS").encode()
        self._origins = None if origins is None else frozenset(o.encode() for o in origins)

    def _allowed(self, origin: bytes) -> bytes | None:
        if self._origins is None:
            return b"*"
        return origin if origin in self._origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _origin(scope)
        allowed = self._allowed(origin) if origin is not None else None
        if scope["method"] == "OPTIONS":
            await self._preflight(send, allowed)
            return
        if allowed is None:
            await self._inner(scope, receive, send)
            return
        extra = [
            (b"access-control-allow-origin", allowed),
            (b"access-control-expose-headers", _EXPOSE_HEADERS),
        ]
        if allowed != b"*":
            extra.append((b"vary", b"origin"))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        await self._inner(scope, receive, send_with_cors)

    async def _preflight(self, send: Send, allowed: bytes | None) -> None:
        # A refused origin gets a plain 204 without allow headers: the browser then
        # blocks the request, and nothing tells a probing page which origins are listed.
        headers = [(b"content-length", b"0"), (b"vary", b"origin")]
        if allowed is not None:
            headers += [
                (b"access-control-allow-origin", allowed),
                (b"access-control-allow-methods", self._allow_methods),
                (b"access-control-allow-headers", _ALLOW_HEADERS),
                (b"access-control-max-age", b"600"),
            ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
