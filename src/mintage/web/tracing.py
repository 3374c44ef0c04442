"""Opt-in OpenTelemetry tracing (``pip install 'mintage[otel]'``, setting ``otel_enabled``).

When on, every request, the hot endpoints included, runs inside the server span of
opentelemetry-instrumentation-asgi's middleware.  docs/architecture.md §6: that middleware costs
more than a whole token request, which is why it is off by default.

Where the spans go: a tracer provider passed to :func:`create_app`, else the process's
global one if the embedder has set one, else one built here from the standard
variables: ``OTEL_SERVICE_NAME`` (default ``mintage``), ``OTEL_RESOURCE_ATTRIBUTES``,
and ``OTEL_TRACES_EXPORTER``: ``otlp`` (needs ``opentelemetry-exporter-otlp-proto-http``,
which the extra does not pin; its ``OTEL_EXPORTER_OTLP_*`` variables apply), ``console``
(spans as JSON on stdout) or ``none``.  Unset, it is ``otlp`` when that package is
installed and ``console`` otherwise.

No secret reaches a span: the query string the middleware records has the values of
credential parameters (``access_token``, ``code`` …) replaced, and request headers are
not recorded unless ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`` asks
for them (then ``authorization`` and ``cookie`` are masked as well).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..logs import REDACTED, sensitive_key
from .asgi import App, Receive, Scope, Send

INSTALL_HINT = "pip install 'mintage[otel]'"
_ORIGINAL_QUERY = "mintage.query_string"
_MASKED_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie"]


class TracingUnavailableError(RuntimeError):
    """``otel_enabled`` is on but OpenTelemetry (or the chosen exporter) is missing."""


def check_available() -> None:
    """Raise :class:`TracingUnavailableError` unless the ``otel`` extra is installed."""
    try:
        importlib.import_module("opentelemetry.sdk.trace")
        importlib.import_module("opentelemetry.instrumentation.asgi")
    except ImportError as exc:
        raise TracingUnavailableError(
            f"otel_enabled is on but OpenTelemetry is not installed: {INSTALL_HINT}, "
            "or turn MINTAGE_OTEL_ENABLED off"
        ) from exc


def redacted_query(query_string: bytes) -> bytes:
    """The query string with the values of credential parameters replaced."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, REDACTED if sensitive_key(k) else v) for k, v in pairs]).encode()


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            module = importlib.import_module(
                "opentelemetry.exporter.otlp.proto.http.trace_exporter"
            )
        except ImportError as exc:
            raise TracingUnavailableError(
                "OTEL_TRACES_EXPORTER=otlp needs pip install "
                "opentelemetry-exporter-otlp-proto-http (the version matching "
                "opentelemetry-sdk); or set OTEL_TRACES_EXPORTER=console"
            ) from exc
        return module.OTLPSpanExporter()
    raise TracingUnavailableError(
        f"OTEL_TRACES_EXPORTER={name} is not supported here: use otlp, console or none"
    )


def provider_from_environment() -> Any:
    """The global tracer provider if one is set, else one built from ``OTEL_*``."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "mintage"}
    provider = TracerProvider(resource=Resource.create(attributes))
    name = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not name:
        try:
            importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
            name = "otlp"
        except ImportError:
            name = "console"
    for one in name.split(","):
        if one.strip() != "none":
            provider.add_span_processor(BatchSpanProcessor(_exporter(one.strip())))
    trace.set_tracer_provider(provider)
    return provider


def tracing_middleware(
    route_templates: Collection[str], tracer_provider: Any = None
) -> Callable[[App], App]:
    """A factory for :meth:`HotPaths.wrap`: the OTel ASGI middleware, made safe.

    Span names use the route template (``POST /oauth/token``); a path that is not a
    route gives just the method, so odd paths cannot multiply span names.
    """
    check_available()
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    provider = tracer_provider if tracer_provider is not None else provider_from_environment()
    templates = frozenset(route_templates)

    def span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
        method = scope.get("method", "")
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if scope.get("type") != "http":
            return scope.get("type", "asgi"), {}
        return (f"{method} {path}" if path in templates else method), {}

    def wrap(app: App) -> App:
        async def restore(scope: Scope, receive: Receive, send: Send) -> None:
            if _ORIGINAL_QUERY in scope:
                scope["query_string"] = scope.pop(_ORIGINAL_QUERY)
            await app(scope, receive, send)

        traced = OpenTelemetryMiddleware(
            restore,
            default_span_details=span_details,
            tracer_provider=provider,
            http_capture_headers_sanitize_fields=_MASKED_HEADERS,
        )

        async def entry(scope: Scope, receive: Receive, send: Send) -> None:
            query: bytes = scope.get("query_string", b"")
            if query and scope["type"] == "http":
                scope = {**scope, "query_string": redacted_query(query), _ORIGINAL_QUERY: query}
            await traced(scope, receive, send)

        return entry

    return wrap
