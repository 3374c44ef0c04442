"""Who may read ``GET /metrics``: a listener of its own, a bearer secret, or nobody.

The metrics name clients and count their requests and errors, so they are private by
default: with neither ``metrics_port`` nor ``metrics_token`` set, ``/metrics`` is not
routed at all (404).

* ``metrics_port``: ``mintage serve`` opens a second listening socket (loopback by
  default) next to the main one.  Both reach the same ASGI app in every worker (uvicorn
  serves one app per process), and :class:`MetricsListener` sends what arrived on the
  metrics port to an app that serves ``/metrics`` and nothing else.  The port is the
  local address of the connection's socket, which no request header can change.
* ``metrics_token``: ``/metrics`` on the main port answers a scraper that presents
  ``Authorization: Bearer <metrics_token>`` (RFC 6750 §2.1), compared in constant time;
  others get 401 with a ``Bearer`` challenge (RFC 9110 §15.5.2).  The metrics listener
  demands the token too when it is set.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..settings import Settings

if TYPE_CHECKING:
    from .asgi import App, Receive, Scope, Send
    from .metrics import Metrics

METRICS_PATH = "/metrics"
_REALM = 'Bearer realm="metrics"'


def _digest(value: str) -> bytes:
    # Equal-length digests: compare_digest then leaks not even the secret's length.
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class MetricsEndpoint:
    """``GET /metrics``, behind the bearer secret when one is configured."""

    __slots__ = ("_expected", "_metrics")

    def __init__(self, metrics: Metrics, token: str | None) -> None:
        self._metrics = metrics
        self._expected = _digest(token) if token is not None else None

    async def endpoint(self, request: Request) -> Response:
        if self._expected is not None:
            refusal = self._refusal(request.headers.get("authorization"))
            if refusal is not None:
                return refusal
        return await self._metrics.endpoint(request)

    def _refusal(self, authorization: str | None) -> Response | None:
        """``None`` for the right token; else 401 with the challenge (RFC 6750 §3.1)."""
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            challenge = _REALM  # no credentials: no error code (RFC 6750 §3.1)
        elif hmac.compare_digest(_digest(presented.strip()), self._expected or b""):
            return None
        else:
            challenge = f'{_REALM}, error="invalid_token"'
        return Response(
            b"",
            401,
            headers={"www-authenticate": challenge, "cache-control": "no-store"},
        )


def metrics_route(metrics: Metrics | None, settings: Settings) -> list[Route]:
    """The ``/metrics`` route of the main app: only with a token to guard it."""
    if metrics is None or settings.metrics_token is None:
        return []
    endpoint = MetricsEndpoint(metrics, settings.metrics_token).endpoint
    return [Route(METRICS_PATH, endpoint, methods=["GET"])]


class MetricsListener:
    """Requests that came in on the metrics port go to the metrics app, the rest to ``app``.

    Only in front of the app when ``metrics_port`` is set; the test is one tuple look-up.
    """

    __slots__ = ("_app", "_metrics_app", "_port")

    def __init__(self, app: App, metrics_app: App, port: int) -> None:
        self._app = app
        self._metrics_app = metrics_app
        self._port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")  # (host, port) of the socket the request came in on
        if server is not None and server[1] == self._port and scope["type"] != "lifespan":
            await self._metrics_app(scope, receive, send)
            return
        await self._app(scope, receive, send)


def with_metrics_listener(app: Starlette, settings: Settings) -> App:
    """``app`` as ``mintage serve`` runs it: with the metrics listener when configured."""
    metrics: Metrics | None = app.state.mintage.metrics
    if settings.metrics_port is None or metrics is None:
        return app
    endpoint = MetricsEndpoint(metrics, settings.metrics_token).endpoint
    # No lifespan here: the main app's runs once for both listeners.
    listener_app = Starlette(routes=[Route(METRICS_PATH, endpoint, methods=["GET"])])
    return MetricsListener(app, listener_app, settings.metrics_port)
