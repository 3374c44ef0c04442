"""Prometheus metrics: requests, latency, tokens issued, errors, database pool (``GET /metrics``).

Who may read them (a listener of their own, a bearer secret) is
:mod:`mintage.web.metrics_access`.

Every metric of one app lives in that app's own registry, so several apps in one process
(tests, an embedder mounting two) never collide; ``/metrics`` also renders
prometheus_client's default registry, where other modules register theirs
(``mintage_rate_limit_rejections_total``, :mod:`mintage.ratelimits`) and where the
process and GC collectors live.

docs/architecture.md §5: the hot path pays for a dict look-up and a few integer additions per
request. Request counts and latencies are kept in plain per-series slots (:class:`RequestSeries`)
that a collector turns into a counter and a histogram at scrape time: prometheus_client's
own ``Counter.inc`` and ``Histogram.observe`` take a lock each and cost ~2.7 µs together,
this ~0.3 µs.  That needs no lock because requests and scrapes both run on the event
loop's one thread.  Series are bound once per route, method and status and then reused;
labels are route templates, never raw paths, and methods outside a fixed set count as
``other``, so nobody can grow the label space by sending odd requests.  ``client_id``
labels come only from clients that were issued a token, i.e. registered ones.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from ..core.observe import EngineObserver
from ..ratelimits import rate_limit_metrics

#: seconds; the hot endpoints answer in well under a millisecond, password checks take
#: ~150 ms, so the default buckets (from 5 ms) would put nearly every request in the first
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_POOL_DOCS = {
    "pool_size": "Connections open in the PostgreSQL pool.",
    "pool_idle": "Idle connections in the PostgreSQL pool.",
    "pool_in_use": "Connections of the PostgreSQL pool serving a query.",
    "pool_max": "The PostgreSQL pool's maximum size.",
    "pending_writes": "SQLite writes queued for the next group commit; a lasting "
    "non-zero value means the write lock is contended.",
}

PoolStats = Callable[[], dict[str, int]]


class StorageCollector(Collector):
    """Database gauges, read from the store at scrape time (nothing on the hot path)."""

    def __init__(self, stats: PoolStats) -> None:
        self._stats = stats

    def describe(self) -> Iterable[Metric]:
        return ()  # the gauges depend on the store; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        for name, value in self._stats().items():
            gauge = GaugeMetricFamily(f"mintage_db_{name}", _POOL_DOCS.get(name, name))
            gauge.add_metric((), value)
            yield gauge


class RequestSeries:
    """Count, latency sum and bucket counts of one route, method and status."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one is +Inf


class RequestCollector(Collector):
    """Exposes every :class:`RequestSeries` as a counter and a histogram."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str, str], RequestSeries] = {}

    def describe(self) -> Iterable[Metric]:
        return (
            CounterMetricFamily("mintage_http_requests", "", labels=_REQUEST_LABELS),
            HistogramMetricFamily(
                "mintage_http_request_duration_seconds", "", labels=_REQUEST_LABELS
            ),
        )

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "mintage_http_requests",
            "HTTP requests answered, by route template, method and status.",
            labels=_REQUEST_LABELS,
        )
        duration = HistogramMetricFamily(
            "mintage_http_request_duration_seconds",
            "Time from the request's arrival to its answer being sent, in seconds.",
            labels=_REQUEST_LABELS,
        )
        for labels, one in list(self.series.items()):
            requests.add_metric(labels, one.count)
            running, cumulative = 0, []
            for bound, n in zip(_BOUNDS, one.buckets, strict=True):
                running += n
                cumulative.append((bound, running))
            duration.add_metric(labels, cumulative, one.total)
        yield requests
        yield duration


_REQUEST_LABELS = ("route", "method", "status")
_BOUNDS = (*(repr(float(b)) for b in BUCKETS), "+Inf")  # as prometheus_client writes them


class RouteMetrics:
    """The series of one route template and method."""

    __slots__ = ("_by_status", "_errors", "_metrics", "method", "route")

    def __init__(self, metrics: Metrics, route: str, method: str) -> None:
        self._metrics = metrics
        self.route = route
        self.method = method
        self._by_status: dict[int, RequestSeries] = {}
        self._errors: dict[str, Any] = {}
        self._bind(200)

    def _bind(self, status: int) -> RequestSeries:
        series = self._metrics.requests.series.setdefault(
            (self.route, self.method, str(status)), RequestSeries()
        )
        self._by_status[status] = series
        return series

    def observe(self, status: int, seconds: float, error: str | None = None) -> None:
        series = self._by_status.get(status)
        if series is None:
            series = self._bind(status)
        series.count += 1
        series.total += seconds
        series.buckets[bisect_left(BUCKETS, seconds)] += 1
        if error is not None:
            child = self._errors.get(error)
            if child is None:
                child = self._errors[error] = self._metrics.errors.labels(self.route, error)
            child.inc()


class Metrics(EngineObserver):
    """The metrics of one app; also the engine's observer (tokens issued)."""

    __slots__ = ("_routes", "_tokens", "errors", "registry", "requests", "tokens")

    def __init__(self, pool_stats: PoolStats | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = RequestCollector()
        self.registry.register(self.requests)
        self.tokens = Counter(
            "mintage_tokens_issued",
            "Token responses of the token endpoint (RFC 6749 §5.1), by grant type and client.",
            ("grant_type", "client_id"),
            registry=self.registry,
        )
        self.errors = Counter(
            "mintage_oauth_errors",
            "Error answers by endpoint (route template) and RFC error code.",
            ("endpoint", "error"),
            registry=self.registry,
        )
        if pool_stats is not None:
            self.registry.register(StorageCollector(pool_stats))
        # Named on /metrics from the start, with rate limits on or off (they live in the
        # default registry, rendered below).
        rate_limit_metrics()
        self._routes: dict[tuple[str, str], RouteMetrics] = {}
        self._tokens: dict[tuple[str, str], Any] = {}

    def route(self, route: str, method: str) -> RouteMetrics:
        """The children for a route template and method, bound on first use."""
        if method not in METHODS:
            method = "other"
        key = (route, method)
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = RouteMetrics(self, route, method)
        return found

    def token_issued(self, grant_type: str, client_id: str) -> None:
        key = (grant_type, client_id)
        child = self._tokens.get(key)
        if child is None:
            child = self._tokens[key] = self.tokens.labels(grant_type, client_id)
        child.inc()

    def render(self) -> bytes:
        """The text exposition of this app's registry and of the default registry."""
        return prometheus_client.generate_latest(self.registry) + prometheus_client.generate_latest(
            prometheus_client.REGISTRY
        )

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``, behind :mod:`mintage.web.metrics_access` (never public)."""
        return Response(
            self.render(),
            headers={"cache-control": "no-store"},
            media_type=prometheus_client.CONTENT_TYPE_LATEST,
        )
