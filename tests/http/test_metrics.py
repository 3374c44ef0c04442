"""GET /metrics: request counts and latency per route template, tokens issued per grant and
client, errors per RFC error code, and prometheus_client's default registry.

The metrics are scraped on the main port with the bearer secret (``metrics_token``);
tests/http/test_metrics_access.py covers who else may read them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mintage.storage.sql.sqlite import SQLiteStorage
from oauth_testkit import MakeServer, Server, basic, bearer

METRICS_TOKEN = "metrics-secret-0123456789abcdef-0123"


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    return await make_server(metrics_token=METRICS_TOKEN)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and label set."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(server: Server) -> str:
    response = await server.http.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    return response.text


async def test_tokens_errors_and_latency_are_counted(server: Server) -> None:
    reports = await server.client(name="reports")
    cli = await server.client(name="cli", grant_types=("password", "refresh_token"))
    await server.user()
    issued = [await server.client_credentials(reports) for _ in range(3)]
    by_password = await server.password_grant(cli)
    refreshed = await server.refresh(cli, by_password["refresh_token"])
    assert refreshed.status_code == 200
    wrong = await server.token({"grant_type": "client_credentials"}, basic(reports.client_id, "x"))
    assert wrong.status_code == 401
    missing = await server.token({})
    assert missing.status_code == 400
    assert (await server.resource(issued[0]["access_token"])).status_code == 200
    assert (await server.resource("mint_at_not-a-token")).status_code == 401

    text = await scrape(server)
    tokens = "mintage_tokens_issued_total"
    assert value(text, tokens, grant_type="client_credentials", client_id=reports.client_id) == 3
    assert value(text, tokens, grant_type="password", client_id=cli.client_id) == 1
    assert value(text, tokens, grant_type="refresh_token", client_id=cli.client_id) == 1
    assert value(text, tokens, grant_type="client_credentials", client_id=cli.client_id) == 0

    errors = "mintage_oauth_errors_total"
    assert value(text, errors, endpoint="/oauth/token", error="invalid_client") == 1
    assert value(text, errors, endpoint="/oauth/token", error="invalid_request") == 1
    assert value(text, errors, endpoint="/resource", error="invalid_token") == 1

    token_ok = {"route": "/oauth/token", "method": "POST", "status": "200"}
    assert value(text, "mintage_http_requests_total", **token_ok) == 5
    assert value(text, "mintage_http_request_duration_seconds_count", **token_ok) == 5
    assert value(text, "mintage_http_request_duration_seconds_sum", **token_ok) > 0
    # the largest finite bucket holds every one of them: no request takes 5 s here
    assert value(text, "mintage_http_request_duration_seconds_bucket", le="5.0", **token_ok) == 5
    assert value(text, "mintage_http_requests_total", **{**token_ok, "status": "401"}) == 1
    resource_401 = {"route": "/resource", "method": "GET", "status": "401"}
    assert value(text, "mintage_http_request_duration_seconds_count", **resource_401) == 1

    # no credential ever reaches the metrics
    secrets = [reports.secret, cli.secret, by_password["refresh_token"]]
    secrets += [t["access_token"] for t in issued] + [refreshed.json()["access_token"]]
    for secret in secrets:
        assert secret and secret not in text
    assert "mint_at_" not in text and "mint_rt_" not in text and "mint_cs_" not in text


async def test_labels_are_route_templates_never_raw_paths(server: Server) -> None:
    assert (await server.http.get("/no/such/path/qzxv")).status_code == 404
    assert (await server.http.request("BREW", "/login")).status_code == 405
    assert (await server.http.get("/login?return_to=/oauth/authorize")).status_code == 200
    text = await scrape(server)
    # (letters, not digits: a number could turn up in any sample value)
    assert "qzxv" not in text and "BREW" not in text and "return_to" not in text
    counted = "mintage_http_requests_total"
    assert value(text, counted, route="unmatched", method="GET", status="404") == 1
    assert value(text, counted, route="/login", method="other", status="405") == 1
    assert value(text, counted, route="/login", method="GET", status="200") == 1


async def test_the_default_registry_is_included(server: Server) -> None:
    other = prometheus_client.Counter("mintage_test_elsewhere", "registered by another module")
    try:
        other.inc(2)
        text = await scrape(server)
    finally:
        prometheus_client.REGISTRY.unregister(other)
    assert value(text, "mintage_test_elsewhere_total") == 2
    assert "process_cpu_seconds_total" in text or "python_gc_objects_collected_total" in text


def test_rate_limit_metrics_are_registered_by_the_app_not_the_import() -> None:
    """Importing registers nothing in the default registry; an app's metrics name the
    rate-limit counters from the start, with rate limits off too."""
    script = textwrap.dedent(
        """
        import prometheus_client
        from mintage.web.metrics import Metrics
        before = prometheus_client.generate_latest().decode()
        after = Metrics().render().decode()
        print("mintage_rate_limit" in before)
        print("mintage_rate_limit_rejections_total" in after)
        print("mintage_rate_limit_backend_errors_total 0.0" in after)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True", "True"]


async def test_metrics_can_be_turned_off(make_server: MakeServer) -> None:
    server = await make_server(metrics_enabled=False, metrics_token=METRICS_TOKEN)
    reg = await server.client()
    await server.client_credentials(reg)
    assert (await server.http.get("/metrics", headers=bearer(METRICS_TOKEN))).status_code == 404
    assert server.app.state.mintage.metrics is None


@pytest.fixture
def sqlite_store(tmp_path: object) -> Iterator[SQLiteStorage]:
    yield SQLiteStorage(f"sqlite:///{tmp_path}/metrics.db")


async def test_sqlite_store_reports_its_pending_writes(
    make_server: MakeServer, sqlite_store: SQLiteStorage
) -> None:
    server = await make_server(storage=sqlite_store, metrics_token=METRICS_TOKEN)
    reg = await server.client()
    await server.client_credentials(reg)
    text = await scrape(server)
    assert value(text, "mintage_db_pending_writes") == 0
    assert ("mintage_db_pending_writes", frozenset()) in samples(text)
