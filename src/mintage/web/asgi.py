"""Raw ASGI endpoints for the engine: the hot path (docs/architecture.md §5).

Starlette routes to these, but they skip its ``Request``/``Response`` objects: the ASGI
scope is turned straight into an :class:`OAuthRequest` and the :class:`OAuthResponse`
straight into two ``send`` calls.  That is all the conversion the engine needs, and
it saves most of the per-request cost of the framework layer.

Each answer carries an ``x-request-id`` (the caller's when safe, else a new one), which
is also the request's :attr:`OAuthRequest.request_id` and is bound for the logs while
the engine runs.  With metrics on, the request is counted and timed under its route
template; with the access log on, it is logged.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter
from typing import Any

from starlette.applications import Starlette

from ..core.errors import RequestTooLargeError
from ..core.http import OAuthRequest, OAuthResponse, error_response
from ..core.params import split_query
from ..logs import request_id_var
from .instrument import HEADER, log_access, request_id
from .metrics import Metrics, RouteMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Run = Callable[[OAuthRequest], Awaitable[OAuthResponse]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"),)
_TOO_LARGE = error_response(RequestTooLargeError("the request body is too large"))
_BODYLESS = frozenset({"GET", "HEAD"})


class BodyTooLarge(Exception):
    """The request body exceeds the configured limit (answered with 413)."""


def declared_length(headers: dict[str, str]) -> int | None:
    """``Content-Length`` as a number, or ``None``.

    ``isascii`` guards ``int``: ``"²".isdigit()`` is true.
    """
    declared = headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit():
        return int(declared)
    return None


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed ``limit`` bytes.

    A declared ``Content-Length`` fails fast; the running count catches chunked bodies
    and lying headers.
    """
    declared = declared_length(headers)
    if declared is not None and declared > limit:
        raise BodyTooLarge
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise BodyTooLarge
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers by lower-case name.

    RFC 9110 §5.3: a repeated field is one comma-joined value.  Two Authorization (or
    Content-Type) headers then fail to parse instead of the last one silently winning
    over what a proxy may have checked.
    """
    headers: dict[str, str] = {}
    for key, value in raw:
        # ASGI servers pass names lower-cased (ASGI HTTP spec, "headers").
        name, text = key.decode("latin-1"), value.decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


_encoded: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}


def _encode_headers(headers: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    """Encoded response headers; the engine's constant header sets are encoded once."""
    cached = _encoded.get(headers)
    if cached is None:
        cached = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        cached.extend(_SECURITY_HEADERS)
        if len(_encoded) < 64:  # only a handful of constant sets exist
            _encoded[headers] = cached
    return cached


async def send_response(send: Send, response: OAuthResponse, request_id: str) -> None:
    headers = [
        *_encode_headers(response.headers),
        (b"content-length", b"%d" % len(response.body)),
        (HEADER, request_id.encode("ascii")),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class EngineEndpoint:
    """An ASGI app that runs one engine handler, served at ``route`` for ``methods``.

    ``metrics`` (optional) counts and times each answer under the route template; the
    children are bound here, at start-up, per method.
    """

    __slots__ = ("_access_log", "_limit", "_observed", "_run", "methods", "route")

    def __init__(
        self,
        run: Run,
        limit: int,
        route: str,
        methods: Iterable[str],
        *,
        metrics: Metrics | None = None,
        access_log: bool = False,
    ) -> None:
        self._run = run
        self._limit = limit
        self.route = route
        self.methods = tuple(methods)
        self._observed: dict[str, RouteMetrics] | None = (
            {m: metrics.route(route, m) for m in self.methods} if metrics is not None else None
        )
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = perf_counter()
        headers = header_dict(scope["headers"])
        method: str = scope["method"]
        rid = request_id(headers.get("x-request-id"))
        client = scope.get("client")
        token = request_id_var.set(rid)
        try:
            try:
                body = (
                    b"" if method in _BODYLESS else await read_body(receive, headers, self._limit)
                )
            except BodyTooLarge:
                response = _TOO_LARGE
            else:
                request = OAuthRequest(
                    method=method,
                    path=scope["path"],
                    headers=headers,
                    query=split_query(scope.get("query_string", b"")),
                    body=body,
                    client_ip=client[0] if client else None,
                    request_id=rid,
                )
                response = await self._run(request)
            await send_response(send, response, rid)
        finally:
            request_id_var.reset(token)
        if self._observed is not None:
            observed = self._observed.get(method)
            if observed is not None:
                observed.observe(response.status, perf_counter() - start, response.error)
        if self._access_log:
            log_access(method, self.route, response.status, perf_counter() - start, rid, client)


class HotPaths(Starlette):
    """A Starlette application that dispatches the hot endpoints before its router and
    middleware.

    docs/architecture.md §5: the token, introspection and resource endpoints are the hot
    paths.  Exact path and method lookups in a dict cost far less than walking the route
    list through the middleware stack; anything else (other paths, wrong methods, the
    lifespan) goes to the Starlette application unchanged (through ``observe``, which
    adds the request id, metrics and access log), which answers 404/405 as usual.

    It is a real Starlette application: routes and mounts added later, ``state`` and
    ``router.lifespan_context`` work as usual.  Middleware added with
    ``add_middleware`` wraps what the router serves, not the hot endpoints (they log,
    count and trace themselves).
    """

    def __init__(self, *, observe: Callable[[App], App] | None = None, **starlette: Any) -> None:
        super().__init__(**starlette)
        fallback: App = functools.partial(Starlette.__call__, self)
        self._fallback: App = observe(fallback) if observe is not None else fallback
        self._hot: dict[tuple[str, str], App] = {}
        #: set by :meth:`wrap`: every request then goes through that middleware first
        self._entry: App | None = None

    def add_hot(self, path: str, methods: tuple[str, ...], endpoint: App) -> None:
        for method in methods:
            self._hot[(method, path)] = endpoint

    def wrap(self, middleware: Callable[[App], App]) -> None:
        """Put an ASGI middleware (tracing) in front of every route, hot ones included."""
        self._entry = middleware(self._dispatch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._entry is not None:
            await self._entry(scope, receive, send)
            return
        # what _dispatch does, inline: one coroutine fewer per request on the hot path
        if scope["type"] == "http":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            endpoint = self._hot.get((scope["method"], path))
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self._fallback(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            endpoint = self._hot.get((scope["method"], path))
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self._fallback(scope, receive, send)
