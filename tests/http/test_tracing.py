"""Opt-in OpenTelemetry tracing: spans for every request, and no credential in any span."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import oauth_testkit
from mintage import Settings, create_app
from mintage.cli.main import cli
from mintage.storage.memory import MemoryStorage
from mintage.web.tracing import TracingUnavailableError
from oauth_testkit import PEPPER, MakeServer, Server


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced(
    make_server: MakeServer, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> Server:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    def with_provider(*args: Any, **kwargs: Any) -> Any:
        return create_app(*args, **kwargs, tracer_provider=provider)

    # make_server builds the app itself: hand it the provider on the way
    monkeypatch.setattr(oauth_testkit, "create_app", with_provider)
    return await make_server(otel_enabled=True, allow_query_access_token=True)


def everything_recorded(spans: tuple[ReadableSpan, ...]) -> str:
    """Names, attributes and events of every span, as one text to search."""
    parts: list[str] = []
    for span in spans:
        parts.append(span.name)
        parts.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            parts.append(event.name)
            parts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
    return "\n".join(parts)


async def test_a_token_request_yields_a_span_without_secrets(
    traced: Server, exporter: InMemorySpanExporter
) -> None:
    reg = await traced.client()
    body = await traced.client_credentials(reg)
    token = body["access_token"]
    ok = await traced.http.get(f"/resource?access_token={token}&x=1")
    assert ok.status_code == 200  # the app still saw the real query string
    assert (await traced.resource(token)).status_code == 200
    assert (await traced.http.get("/login?code=abc123")).status_code == 200

    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.parent is None]
    assert [s.name for s in servers] == [
        "POST /oauth/token",
        "GET /resource",
        "GET /resource",
        "GET /login",
    ]
    assert servers[0].attributes is not None
    status = servers[0].attributes.get("http.status_code")
    if status is None:
        status = servers[0].attributes.get("http.response.status_code")
    assert status == 200
    recorded = everything_recorded(spans)
    assert reg.secret is not None and reg.secret not in recorded
    assert token not in recorded and "mint_at_" not in recorded
    assert "abc123" not in recorded
    assert "x=1" in recorded  # harmless parameters stay


async def test_unknown_paths_do_not_name_spans(
    traced: Server, exporter: InMemorySpanExporter
) -> None:
    await traced.http.get("/no/such/path/4711")
    (server_span,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert server_span.name == "GET"


async def test_tracing_is_off_by_default(server: Server) -> None:
    assert server.app._entry is None


def test_enabled_without_the_extra_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.asgi", None)
    settings = Settings(database_url="memory://", otel_enabled=True)
    with pytest.raises(TracingUnavailableError, match=r"pip install 'mintage\[otel\]'"):
        create_app(settings, storage=MemoryStorage(), pepper=PEPPER)

    monkeypatch.setenv("MINTAGE_OTEL_ENABLED", "true")
    monkeypatch.setenv("MINTAGE_DATABASE_URL", "memory://")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "mintage[otel]" in result.output
