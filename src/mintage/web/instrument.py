"""Request ids, the access log, and metrics for the Starlette routes (the pages).

The hot endpoints do the same inline (:class:`mintage.web.asgi.EngineEndpoint`); this
module holds what both share and :class:`ObservedApp`, a pure ASGI wrapper around the
Starlette app, cheaper than a ``BaseHTTPMiddleware``.
"""

from __future__ import annotations

import logging
import random
import re
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ..logs import request_id_var

if TYPE_CHECKING:  # asgi.py imports this module
    from .asgi import Message, Receive, Scope, Send
    from .metrics import Metrics

HEADER = b"x-request-id"
_random_bits = random.getrandbits
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: one JSON line per request when the ``access_log`` setting is on
access_logger = logging.getLogger("mintage.access")


def request_id(incoming: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is short and harmless, else a new one.

    Anything else (long, or with characters that could forge log lines or headers) is
    replaced rather than cleaned, so a logged id is always one of ours or a safe one.
    A request id correlates records and is no secret: 64 bits from ``random`` (~0.2 µs)
    rather than ``os.urandom`` (a system call, ~1.3 µs).
    """
    if incoming is not None and _SAFE_ID.fullmatch(incoming):
        return incoming
    return f"{_random_bits(64):016x}"


def log_access(method: str, route: str, status: int, seconds: float, rid: str, client: Any) -> None:
    """One access record.  No query string: it may carry tokens (RFC 6750 §2.3)."""
    access_logger.info(
        "request",
        extra={
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "request_id": rid,
            "client_ip": client[0] if client else None,
        },
    )


def _incoming_id(raw: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in raw:
        if name == HEADER:
            return value.decode("latin-1")
    return None


UNMATCHED = "unmatched"


class ObservedApp:
    """Request id, metrics and access log around the Starlette app (pages, health, 404s)."""

    __slots__ = ("_access_log", "_app", "_metrics")

    def __init__(self, app: Any, metrics: Metrics | None, access_log: bool) -> None:
        self._app = app
        self._metrics = metrics
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        start = perf_counter()
        rid = request_id(_incoming_id(scope["headers"]))
        echoed = (HEADER, rid.encode("ascii"))
        status = 500  # if the app fails before answering, the server answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        outer_route = scope.get("route")  # a host app's Mount, when embedded
        token = request_id_var.set(rid)
        try:
            await self._app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            route = scope.get("route")
            template = getattr(route, "path", UNMATCHED) if route is not outer_route else UNMATCHED
            seconds = perf_counter() - start
            if self._metrics is not None:
                self._metrics.route(template, scope["method"]).observe(status, seconds)
            if self._access_log:
                log_access(scope["method"], template, status, seconds, rid, scope.get("client"))
