"""ASGI application: routes, request conversion, lifespan (docs/architecture.md §1 web/).

Hot endpoints do no per-request work that start-up could do: the server, its
endpoints and the metadata document are built once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.audit import AuditEventType, Origin
from ..core.clock import Clock, system_clock
from ..core.grants import Grant
from ..core.observe import NO_OBSERVER, EngineObserver
from ..core.paths import OAUTH_METADATA_PATH, OPENID_CONFIGURATION_PATH, RESOURCE_PATH
from ..core.ratelimit import NO_RATE_LIMITS, RateLimiter
from ..core.server import SETTING, AuthorizationServer, Handler, ServerConfig
from ..core.storage import KEYS_TOPIC, InvalidationSource, Storage
from ..core.stores import Stores, purge_all
from ..core.users import UserSource
from ..ratelimits import RateLimits, build_rate_limiter
from ..secret_key import load_key_encryption_key, load_pepper
from ..settings import Settings
from ..storage import open_storage
from .asgi import EngineEndpoint, HotPaths, Run
from .cors import CorsEndpoint
from .instrument import ObservedApp
from .metrics import Metrics
from .metrics_access import metrics_route

log = logging.getLogger("mintage")


class MintageApp:
    """Holds the server and its stores; serves health checks and runs the lifespan.

    Lifecycle is optional per store: each distinct object given is opened on start-up,
    closed on shutdown and pinged for readiness when it has the method.
    """

    def __init__(
        self,
        settings: Settings,
        server: AuthorizationServer,
        limiter: RateLimits | None = None,
    ):
        self.settings = settings
        self.server = server
        #: each distinct store object once
        self.stores = server.stores.distinct()
        #: the rate limiter, closed on shutdown (``None``: rate limits are off)
        self.limiter = limiter
        #: the app's metrics, when they are served (set by :func:`create_app`)
        self.metrics: Metrics | None = None
        self._purge_task: asyncio.Task[None] | None = None
        self._rotation_task: asyncio.Task[None] | None = None

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(self, request: Request) -> Response:
        try:
            ready = True
            for store in self.stores:
                ping = getattr(store, "ping", None)
                if ping is not None and not await ping():
                    ready = False
                    break
        except Exception:
            ready = False
        if ready:
            return Response(b'{"status":"ready"}', media_type="application/json")
        return Response(b'{"status":"unavailable"}', 503, media_type="application/json")

    async def _purge_loop(self) -> None:
        interval = self.settings.purge_interval
        batch = self.settings.purge_batch_size
        while True:
            await asyncio.sleep(interval)
            try:
                now = self.server.clock()
                await purge_all(
                    self.server.stores, now, batch, audit_before=audit_cutoff(self.settings, now)
                )
            except Exception:
                log.warning("purge of expired rows failed; will retry", exc_info=True)

    async def _rotation_loop(self) -> None:
        """Scheduled key rotation (``key_rotation_days``): checked hourly.  Instances
        that rotate at the same moment each add a key; the newest signs, all stay
        published, so nothing breaks (it only costs a spare key)."""
        period = self.settings.key_rotation_days * 86_400
        keys = self.server.keys
        while True:
            try:
                for alg in keys.algs:
                    if await keys.due_for_rotation(alg, period):
                        publish_for = await self.server.key_publish_window()
                        key = await keys.rotate(alg, publish_for=publish_for)
                        log.info("rotated signing key", extra={"kid": key.kid, "alg": alg})
                        await self.server.audit.record(
                            AuditEventType.KEY_ROTATED,
                            Origin(actor="schedule"),
                            kid=key.kid,
                            alg=alg,
                            not_before=key.not_before,
                        )
                await keys.prune()
            except Exception:
                log.warning("scheduled key rotation failed; will retry", exc_info=True)
            await asyncio.sleep(min(3600, period))

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        opened = []
        try:
            for store in self.stores:
                if hasattr(store, "open"):
                    await store.open()
                opened.append(store)
        except BaseException:
            await _close(opened)
            raise
        unsubscribe = None
        key_store = self.server.stores.keys
        if isinstance(key_store, InvalidationSource):
            # A key rotated by another instance or the CLI: reload at the next use,
            # without waiting for the key ring's reload interval.
            keys = self.server.keys
            unsubscribe = key_store.add_invalidation_listener(
                KEYS_TOPIC, lambda _topic: keys.invalidate()
            )
        if key_store is not None:
            # First start: a signing key per configured algorithm (RFC 7517).
            await self.server.keys.ensure()
        if self.settings.purge_interval:
            self._purge_task = asyncio.create_task(self._purge_loop())
        if self.settings.key_rotation_days and key_store is not None:
            self._rotation_task = asyncio.create_task(self._rotation_loop())
        try:
            yield
        finally:
            for task in (self._purge_task, self._rotation_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if unsubscribe is not None:
                unsubscribe()
            await _close(opened)
            self.server.close()
            if self.limiter is not None:
                await self.limiter.aclose()


async def _close(stores: list[object]) -> None:
    """Close each store that has ``close``, in reverse order of opening."""
    for store in reversed(stores):
        close = getattr(store, "close", None)
        if close is not None:
            await close()


def audit_cutoff(settings: Settings, now: int) -> int | None:
    """Audit events older than this are purged; ``None`` keeps them all."""
    days = settings.audit_retention_days
    return now - days * 86_400 if days else None


_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) as JSON, like every other answer of the server."""
    assert isinstance(exc, HTTPException)
    body = orjson.dumps({"error": _HTTP_ERRORS.get(exc.status_code, "invalid_request")})
    return Response(body, exc.status_code, headers=exc.headers, media_type="application/json")


def server_config(settings: Settings) -> ServerConfig:
    """The engine's configuration: each :class:`ServerConfig` field from the setting of
    the same name, or the one its ``setting`` metadata names (the one mapping)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(ServerConfig):
        name = field.metadata.get(SETTING, field.name)
        if name is not None:
            values[field.name] = getattr(settings, name)
    return ServerConfig(**values)


def build_server(
    settings: Settings,
    storage: Stores | Storage,
    *,
    clock: Clock = system_clock,
    pepper: bytes | None = None,
    limiter: RateLimiter = NO_RATE_LIMITS,
    observer: EngineObserver = NO_OBSERVER,
    users: UserSource | None = None,
    grants: Iterable[Grant] = (),
) -> AuthorizationServer:
    """The engine for these settings over this store (also used by the CLI), serving
    the built-in grants the settings enable plus ``grants``."""
    config = server_config(settings)
    registry = AuthorizationServer.builtin_grants(config)
    for grant in grants:
        registry.register(grant)
    return AuthorizationServer(
        config,
        storage,
        pepper if pepper is not None else load_pepper(settings),
        clock,
        key_encryption_key=load_key_encryption_key(settings),
        limiter=limiter,
        observer=observer,
        users=users,
        grants=registry,
    )


def rate_limiter(settings: Settings, clock: Clock) -> RateLimits | None:
    """The limiter the settings ask for; ``None`` when rate limits are off."""
    if not settings.rate_limits_enabled:
        return None
    return build_rate_limiter(
        settings.rate_limits(),
        clock,
        redis_url=settings.redis_url,
        key_prefix=settings.redis_key_prefix,
    )


def create_app(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    stores: Stores | None = None,
    clock: Clock = system_clock,
    pepper: bytes | None = None,
    tracer_provider: Any = None,
    users: UserSource | None = None,
    grants: Iterable[Grant] = (),
) -> Starlette:
    """A Starlette application serving Mintage; mount it in Starlette or FastAPI with
    :func:`mintage.mount` (which runs its lifespan in the host's).


    The stores (docs/storage.md): by default one built from ``settings.database_url``
    serves every concern.  ``storage`` is one object serving them instead (the origin's
    "model"; any object meeting :class:`mintage.core.storage.Storage`, or the protocols
    the enabled features use); ``stores`` names a store per concern
    (:class:`mintage.core.stores.Stores`), the concerns it leaves out taken from
    ``storage`` when given.  A store missing for an enabled feature stops here with a
    :class:`~mintage.core.errors.StoreConfigurationError` naming it.  The app opens each
    store on start-up and closes it on shutdown.

    With stores of your own, the server secret (``pepper``, or ``secret_key`` /
    ``secret_key_file`` in the settings) must be given: no key file is invented beside
    a database the server does not use.  ``tracer_provider`` receives the spans when
    ``settings.otel_enabled`` is on (:mod:`mintage.web.tracing`).

    ``users`` is an application's own :class:`~mintage.core.users.UserSource` (its user
    table and password hashes, docs/users.md); by default users sign in from the
    ``users`` store.  ``grants`` are served by the token endpoint besides the built-in
    ones (extension grants, RFC 6749 §4.5; :class:`mintage.Grant`).
    """
    settings = settings or Settings()
    custom = storage is not None or stores is not None
    if stores is None:
        stores = Stores.of(storage if storage is not None else open_storage(settings.database_url))
    elif storage is not None:
        stores = stores.with_defaults(storage)
    if pepper is None:
        if custom and not (settings.secret_key or settings.secret_key_file):
            raise ValueError(
                "stores of your own need the server secret: pass pepper=… to create_app, "
                "or set secret_key / secret_key_file (docs/storage.md)"
            )
        pepper = load_pepper(settings)
    limiter = rate_limiter(settings, clock)
    # Kept only where /metrics is served (web/metrics_access.py): else it is pure cost.
    pool_stats = getattr(stores.tokens, "pool_stats", None)
    metrics = Metrics(pool_stats) if settings.metrics_served else None
    observer = metrics if metrics is not None else NO_OBSERVER
    server = build_server(
        settings,
        stores,
        clock=clock,
        pepper=pepper,
        limiter=limiter if limiter is not None else NO_RATE_LIMITS,
        observer=observer,
        users=users,
        grants=grants,
    )
    web = MintageApp(settings, server, limiter)
    web.metrics = metrics
    limit = settings.max_body_bytes

    #: the routes that answer cross-origin requests, and for which origins (None: any)
    cross_origin: dict[str, frozenset[str] | None] = {}
    browser_origins = settings.cors_origin_set

    def engine(
        path: str, run: Run, *methods: str, cors: Literal["public", "browser"] | None = None
    ) -> Route:
        """``cors``: ``"public"`` for documents any web page may read, ``"browser"`` for
        what a browser-based client calls from JavaScript (the ``cors_origins``)."""
        if "GET" in methods:
            methods = (*methods, "HEAD")  # as Starlette's Route does
        endpoint = EngineEndpoint(
            run, limit, path, methods, metrics=metrics, access_log=settings.access_log
        )
        if cors == "public":
            cross_origin[path] = None
        elif cors == "browser" and browser_origins:
            cross_origin[path] = None if "*" in browser_origins else browser_origins
        return Route(path, endpoint, methods=list(methods))

    def handler(h: Handler) -> Run:
        return functools.partial(server.handle, h)

    # The endpoints the engine serves, each at its path of the one table
    # (core/paths.py), which also feeds the metadata: routed means advertised.
    served = server.endpoints
    hot: dict[str, tuple[Run, tuple[str, ...], Literal["public", "browser"] | None]] = {
        "token_endpoint": (handler(server.token), ("POST",), "browser"),
        "revocation_endpoint": (handler(server.revocation), ("POST",), "browser"),
        "introspection_endpoint": (handler(server.introspection), ("POST",), None),
        "jwks_uri": (handler(server.jwks), ("GET",), "public"),
        "userinfo_endpoint": (server.handle_userinfo, ("GET", "POST"), "browser"),
    }
    routes = [
        engine(served[name], run, *methods, cors=cors)
        for name, (run, methods, cors) in hot.items()
        if name in served
    ]
    routes += [
        engine(RESOURCE_PATH, server.handle_resource, "GET", "POST"),
        engine(OAUTH_METADATA_PATH, server.metadata, "GET", cors="public"),
        engine(OPENID_CONFIGURATION_PATH, server.metadata, "GET", cors="public"),
        Route("/healthz", web.healthz, methods=["GET"]),
        Route("/readyz", web.readyz, methods=["GET"]),
    ]
    if server.config.pages_enabled:
        # Imported only here: a token-only server loads no template engine or page.
        from .routes import page_routes

        routes.extend(page_routes(server, pepper, limit, settings.templates_dir))
    routes.extend(metrics_route(metrics, settings))
    app = HotPaths(
        observe=lambda fallback: ObservedApp(fallback, metrics, settings.access_log),
        routes=routes,
        lifespan=web.lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.mintage = web
    for route in routes:
        if isinstance(route.endpoint, EngineEndpoint):
            endpoint: EngineEndpoint | CorsEndpoint = route.endpoint
            if route.path in cross_origin:
                origins = cross_origin[route.path]
                endpoint = CorsEndpoint(endpoint, route.path, endpoint.methods, origins)
            app.add_hot(route.path, endpoint.methods, endpoint)
    if settings.otel_enabled:
        from .tracing import tracing_middleware

        app.wrap(tracing_middleware([r.path for r in routes], tracer_provider))
    return app
