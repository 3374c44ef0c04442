"""A pure ASGI middleware that lets only requests with a valid bearer token through.

::

    app = BearerAuthMiddleware(app, verifier, prefixes=["/api"], scopes=["read"])

Inside, the verified :class:`~.token.AccessToken` is at ``scope["state"]["access_token"]``
(:data:`STATE_KEY`), which Starlette and FastAPI show as ``request.state.access_token``.
Refusals are RFC 6750 §3 answers: a JSON body ``{"error", "error_description"}`` and a
``WWW-Authenticate: Bearer realm=..., error=..., error_description=...`` challenge (401
``invalid_token``; 400 ``invalid_request``; 403 ``insufficient_scope`` with ``scope=``;
401 with no error code when no token was sent, §3.1).  The authorization server being
unreachable is a 503 with ``Retry-After``.

It imports no web framework: it speaks ASGI 3 directly.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import unquote

from .bearer import bearer_token
from .errors import OAuthError, error_body, error_headers, raise_unless_scopes, safe_realm
from .verifier import TokenVerifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The key of ``scope["state"]`` that holds the verified token.
STATE_KEY = "access_token"

# RFC 6455 §7.4.1: 1008 "policy violation", the generic refusal of a WebSocket.
_WS_POLICY_VIOLATION = 1008


# Characters that let one resource be spelt several ways: percent-encoding, empty or dot
# segments, a backslash some servers read as a slash.
_AMBIGUOUS = ("%", "//", "/.", "\\")


def _normalize_prefix(prefix: str) -> str:
    if not prefix.startswith("/"):
        raise ValueError(f"a path prefix starts with '/': {prefix!r}")
    return prefix.rstrip("/").lower()


def route_path(scope: Scope) -> str:
    """The path the application's router matches, without the app's own mount point.

    Servers put the full request path in ``scope["path"]`` and the mount point in
    ``scope["root_path"]`` (ASGI 3; ``uvicorn --root-path``, a Starlette ``Mount``, a
    FastAPI ``app.mount``), and Starlette routes ``path`` less ``root_path``.  Older
    servers left ``root_path`` out of ``path``: then it is not a prefix, and the whole
    path is judged, as the router does too (never less than what it routes).
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest or "/"
    return path


def _spellings(path: str) -> tuple[str, ...]:
    """``path`` and, when it could name a resource in another spelling, its plain form.

    RFC 3986 §6.2.2 normalisation (percent-decoding, dot segments) and collapsed empty
    segments: a framework that routes ``/api//orders`` or ``/api/%2e/orders`` as
    ``/api/orders`` still meets the check.  Judged case-insensitively, so ``/API`` is
    protected like ``/api`` whatever the router does with case.
    """
    lowered = path.lower()
    if not any(mark in path for mark in _AMBIGUOUS):
        return (lowered,)
    plain = lowered.replace("\\", "/")
    for _ in range(3):  # nested encodings (%252f) decode in a few rounds
        decoded = unquote(plain).replace("\\", "/")
        if decoded == plain:
            break
        plain = decoded
    plain = posixpath.normpath("/" + plain)
    plain = "/" + plain.lstrip("/")  # POSIX keeps a leading "//"; routers do not
    return (lowered, plain)


class BearerAuthMiddleware:
    """Protects every path under ``prefixes`` (default: the whole app).

    A prefix matches whole path segments: ``/api`` covers ``/api`` and ``/api/x``, not
    ``/apix``.  Prefixes are paths inside the app the middleware wraps, as its router
    sees them: under ``uvicorn --root-path /svc`` or mounted at ``/svc``, ``/api``
    protects ``/svc/api``.  Matching ignores case, percent-encoding, dot and empty
    segments, so no other spelling of a protected path gets past.  ``scopes`` are
    required of every protected request (RFC 6750 §3.1 ``insufficient_scope``);
    per-route scopes are the FastAPI dependency's job.
    WebSocket handshakes under a prefix are checked too, and refused with close code
    1008.  ``allow_query_token`` accepts ``?access_token=`` (RFC 6750 §2.3; off by
    default).
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: TokenVerifier,
        *,
        prefixes: Iterable[str] = ("/",),
        scopes: Iterable[str] = (),
        realm: str = "api",
        allow_query_token: bool = False,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.prefixes = tuple(_normalize_prefix(p) for p in prefixes)
        self.scopes = tuple(scopes)
        self.realm = safe_realm(realm)
        self.allow_query_token = allow_query_token

    def protects(self, path: str) -> bool:
        """Whether a route path (see :func:`route_path`) is under a protected prefix.

        Fails closed: every spelling of the path is judged, and one under a prefix is
        enough.
        """
        return any(
            p == "" or spelling == p or spelling.startswith(p + "/")
            for spelling in _spellings(path)
            for p in self.prefixes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.protects(route_path(scope)):
            await self.app(scope, receive, send)
            return
        try:
            value = bearer_token(
                scope["headers"],
                scope.get("query_string", b""),
                allow_query=self.allow_query_token,
            )
            token = await self.verifier.verify(value)
            raise_unless_scopes(token.scopes, self.scopes)
        except OAuthError as exc:
            await self._refuse(scope, send, exc)
            return
        # A fresh dict per request: servers copy the lifespan state into each scope.
        scope.setdefault("state", {})[STATE_KEY] = token
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, exc: OAuthError) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": _WS_POLICY_VIOLATION})
            return
        body = error_body(exc)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        for name, value in error_headers(exc, self.realm).items():
            headers.append((name.encode(), value.encode("latin-1")))
        await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
