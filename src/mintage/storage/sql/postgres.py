"""PostgreSQL store: asyncpg directly, pooled, with prepared statements (docs/architecture.md §6).

asyncpg prepares and caches each statement per connection, so the hot path is one
round trip of a prepared statement: ~20k selects/s against ~5.5k through SQLAlchemy.

Outages: every call goes through :data:`_UNAVAILABLE`, which turns a lost or refused
connection into :class:`~mintage.core.errors.StorageUnavailableError`; the server then
answers 503 ``temporarily_unavailable`` instead of a wrong ``invalid_grant`` that would
make clients discard good credentials (docs/architecture.md §2).  Recovery needs no restart: the
pool replaces a dead connection when it is next acquired, so the first requests after the
server is back succeed (tests/e2e/test_e2e_outage.py stops and starts a real server).

Durability: each write is its own transaction (one statement), committed before the
method returns.  With PostgreSQL's default ``synchronous_commit=on`` the commit is
flushed to the WAL on disk first, so a write whose method returned survives a crash of
this process, of the PostgreSQL server, and of the operating system or a power loss
(given honest disks).  A server run with ``synchronous_commit=off`` weakens that to
what its own documentation says (the last few hundred milliseconds may be lost on a
server crash); the store does not change the setting.  Concurrent writes from many
requests are group-committed by PostgreSQL itself (its WAL flush covers every commit
waiting at that moment), one pooled connection each.

No reset on release: asyncpg's pool normally sends ``SELECT pg_advisory_unlock_all();
CLOSE ALL; UNLISTEN *; RESET ALL`` each time a connection goes back to the pool, a second
round trip for every call.  This store never leaves session state behind: no ``LISTEN``,
no ``SET`` (``search_path`` comes from ``server_settings`` at connect), no temporary
tables, no cursors outside a transaction, no advisory locks (migrations take theirs on a
connection of their own).  So the pool gets :func:`_keep_session` as its ``reset``; asyncpg
still rolls back a transaction left open on release (``Connection._reset``), and prepared
statements stay cached per connection, as intended.  (``LISTEN`` lives on a connection of
its own, outside the pool: see :mod:`.pg_listener`.)

Caches across instances: ``get_client`` is cached (:mod:`.client_cache`), signing keys
by the key ring; every change to a client or a signing key sends ``pg_notify`` in the
same statement, and each store ``LISTEN``s
(:mod:`.pg_listener`), so a change made by any instance, worker or the CLI reaches every
cache within milliseconds.  Tokens are never cached: a revocation is read by the next
request, wherever it lands.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from types import TracebackType
from typing import Any

import asyncpg
import asyncpg.exceptions as pg_errors

from ...core.errors import StorageUnavailableError
from ...core.models import (
    AuditEvent,
    AuthorizationCode,
    Client,
    Consent,
    LoginFailures,
    Session,
    SigningKey,
    Token,
    User,
)
from ...core.storage import CLIENT_TOPIC, KEYS_TOPIC
from ..invalidation import InvalidationHub, InvalidationHubMixin
from .client_cache import ClientCache
from .migrate import asyncpg_dsn, server_settings, upgrade_schema_async
from .pg_listener import PgInvalidationListener, channel_for
from .queries import (
    CONSUME_TOKEN_AUDITED,
    get_login_failures,
    list_audit_events,
    save_tokens_audited,
)
from .queries import POSTGRES as Q
from .rows import (
    audit_event_from_row,
    audit_event_params,
    client_from_row,
    client_params,
    code_from_row,
    code_params,
    consent_from_row,
    consent_params,
    login_failures_from_row,
    session_from_row,
    session_params,
    signing_key_from_row,
    signing_key_params,
    token_from_row,
    token_params,
    user_from_row,
    user_params,
)

__all__ = ["PostgresStorage"]

#: Failures of the connection or the server, not of our SQL: retrying later may work.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, DNS
    TimeoutError,  # connect or acquire timeout (asyncio.TimeoutError is the same class)
    pg_errors.PostgresConnectionError,  # class 08, incl. ConnectionDoesNotExistError
    pg_errors.CannotConnectNowError,  # starting up, recovering
    pg_errors.AdminShutdownError,
    pg_errors.CrashShutdownError,
    pg_errors.TooManyConnectionsError,
    pg_errors.InterfaceError,  # connection closed, pool closing
    # A pooled connection whose session the server ended while it sat idle: PostgreSQL
    # sends the FATAL (57P01 on a fast shutdown) just before it closes the socket, and
    # a query sent in between finds asyncpg's protocol still consuming that error.
    # asyncpg aborts the connection as it raises this, so the pool replaces it.
    pg_errors.InternalClientError,
)


class _Unavailable:
    """The one place that maps connection failures to ``StorageUnavailableError``.

    A plain ``with`` block may contain ``await``; a class with ``__slots__`` costs less
    per call than ``contextlib.asynccontextmanager``.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # asyncpg's DataError (a value of the wrong type) is an InterfaceError too, but
        # a bug, not an outage: let it surface as a 500 rather than a retry-forever 503.
        if isinstance(exc, UNAVAILABLE_ERRORS) and not isinstance(exc, pg_errors.DataError):
            raise StorageUnavailableError(f"PostgreSQL unavailable: {type(exc).__name__}") from exc


_UNAVAILABLE = _Unavailable()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's ``reset`` hook: nothing to reset (see the module docstring)."""
    return None


def _last_param(sql: str) -> int:
    return max(int(n) for n in re.findall(r"\$(\d+)", sql))


def _and_notify(sql: str, topic: str) -> str:
    """``sql`` (an INSERT, UPDATE or DELETE) and its ``NOTIFY`` as one statement, so the
    notification leaves when, and only if, the change commits.  ``topic`` is an SQL
    expression; the channel is the last parameter.  Answers the rows changed.  (Built
    from constants only: nothing user-supplied reaches the SQL text.)"""
    channel = _last_param(sql) + 1
    return (
        f"WITH changed AS ({sql} RETURNING 1)"  # noqa: S608
        f" SELECT (SELECT count(*) FROM changed), pg_notify(${channel}, {topic})"
    )


# The topics spell out CLIENT_TOPIC and KEYS_TOPIC of mintage.core.storage.
_SAVE_CLIENT_AND_NOTIFY = _and_notify(Q.save_client, "'client:' || $1")  # $1: client_id
_SAVE_SIGNING_KEY_AND_NOTIFY = _and_notify(Q.save_signing_key, "'keys'")
_DELETE_SIGNING_KEY_AND_NOTIFY = _and_notify(Q.delete_signing_key, "'keys'")

#: ``delete_client`` as one statement (one round trip, atomic): a data-modifying CTE,
#: with its ``NOTIFY``.  Answers how many clients were deleted (0 or 1).
_DELETE_CLIENT_AND_NOTIFY = (
    "WITH tokens_gone AS (DELETE FROM tokens WHERE client_id = $1),"
    " codes_gone AS (DELETE FROM authorization_codes WHERE client_id = $1),"
    " consents_gone AS (DELETE FROM consents WHERE client_id = $1),"
    " clients_gone AS (DELETE FROM clients WHERE client_id = $1 RETURNING 1)"
    " SELECT (SELECT count(*) FROM clients_gone), pg_notify($2, 'client:' || $1)"
)

_NOTIFY = "SELECT pg_notify($1, $2)"


def _count(status: str) -> int:
    """Rows changed, from a command tag such as ``UPDATE 3`` or ``DELETE 0``."""
    return int(status.rpartition(" ")[2])


class PostgresStorage(InvalidationHubMixin):
    """Implements :class:`~mintage.core.storage.Storage` and
    :class:`~mintage.core.storage.InvalidationSource` on PostgreSQL.

    ``database_url`` is ``postgresql://user:password@host:port/db`` (asyncpg's DSN; query
    parameters such as ``sslmode`` pass through).  ``schema`` puts tables and migrations
    into that schema via ``search_path`` on every connection (tests use one per test).
    ``connect_timeout`` bounds how long a call waits for a new connection, and
    ``command_timeout`` (10 s) how long a statement may run: a database host that stops
    answering without closing the connection (a network partition, a frozen server)
    then costs a 503 after that time, instead of requests hanging until TCP gives up.
    ``get_client`` is served from a cache (:mod:`.client_cache`) that notifications
    empty (:mod:`.pg_listener`); ``client_cache_ttl`` (30 s) is only its safety net, and
    ``client_cache_fallback_ttl`` (1 s) its lifetime while the listening connection is
    down.  ``listen_check_interval`` is how often that connection is checked.
    """

    def __init__(
        self,
        database_url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        schema: str | None = None,
        connect_timeout: float = 5.0,
        command_timeout: float | None = 10.0,
        client_cache_ttl: float = 30.0,
        client_cache_fallback_ttl: float = 1.0,
        listen_check_interval: float = 1.0,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.schema = schema
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.listen_check_interval = listen_check_interval
        self._pool: asyncpg.Pool | None = None
        self._listener: PgInvalidationListener | None = None
        #: the ``NOTIFY`` channel, known once open (it depends on the schema in use)
        self.channel = ""
        self._hub = InvalidationHub()
        self._clients = ClientCache(client_cache_ttl, fallback_ttl=client_cache_fallback_ttl)
        self._hub.add_listener(CLIENT_TOPIC, self._clients.invalidated)
        self._hub.on_reliability(self._clients.set_reliable)

    # lifecycle
    async def open(self) -> None:
        """Migrate the schema (Alembic, under an advisory lock), create the pool, then
        ``LISTEN`` for cache invalidations."""
        if self._pool is not None:
            return
        settings = server_settings(self.schema)
        with _UNAVAILABLE:
            await upgrade_schema_async(self.dsn, schema=self.schema)
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                server_settings=settings,
                reset=_keep_session,
            )
            try:
                # The schema the tables went to (``schema``, or the URL's search_path).
                self.channel = channel_for(await pool.fetchval("SELECT current_schema()"))
            except BaseException:
                await pool.close()
                raise
        self._pool = pool
        self._listener = PgInvalidationListener(
            self.dsn,
            self.channel,
            self._hub,
            server_settings=settings,
            connect_timeout=self.connect_timeout,
            check_interval=self.listen_check_interval,
        )
        await self._listener.start()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.stop()
        pool, self._pool = self._pool, None
        self._clients.clear()
        if pool is not None:
            await pool.close()

    def pool_stats(self) -> dict[str, int]:
        """For metrics: the connection pool's size, idle and busy connections, maximum."""
        pool = self._pool
        if pool is None:
            return {}
        size, idle = pool.get_size(), pool.get_idle_size()
        return {
            "pool_size": size,
            "pool_idle": idle,
            "pool_in_use": size - idle,
            "pool_max": pool.get_max_size(),
        }

    async def ping(self) -> bool:
        try:
            return bool(await self._fetchval(Q.ping) == 1)
        except (StorageUnavailableError, RuntimeError):
            return False

    # the only places that touch the pool
    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStorage is not open: await store.open() first")
        return self._pool

    async def _fetchrow(self, sql: str, *args: Any) -> Any:
        with _UNAVAILABLE:
            return await self._p().fetchrow(sql, *args)

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        with _UNAVAILABLE:
            return await self._p().fetch(sql, *args)

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        with _UNAVAILABLE:
            return await self._p().fetchval(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> int:
        with _UNAVAILABLE:
            return _count(await self._p().execute(sql, *args))

    # clients
    async def get_client(self, client_id: str) -> Client | None:
        client = self._clients.get(client_id)
        if client is not None:
            return client
        # A save or delete that commits while this read is in flight bumps the
        # generation, so the possibly older row read here is not kept.
        generation = self._clients.generation
        row = await self._fetchrow(Q.get_client, client_id)
        if row is None:
            return None  # unknown ids are not cached (see .client_cache)
        client = client_from_row(row)
        self._clients.put(client, generation)
        return client

    async def save_client(self, client: Client) -> None:
        try:
            await self._fetchval(_SAVE_CLIENT_AND_NOTIFY, *client_params(client), self.channel)
        finally:
            # Also after a failure: the write may have committed before the error.
            self._hub.dispatch(CLIENT_TOPIC + client.client_id)

    async def delete_client(self, client_id: str) -> bool:
        try:
            deleted = await self._fetchval(_DELETE_CLIENT_AND_NOTIFY, client_id, self.channel)
        finally:
            self._hub.dispatch(CLIENT_TOPIC + client_id)
        return bool(deleted)

    async def list_clients(self) -> list[Client]:
        return [client_from_row(row) for row in await self._fetch(Q.list_clients)]

    # invalidation (InvalidationSource)
    async def notify_invalidation(self, topic: str) -> None:
        """Tell this process's listeners now, and every other instance by ``NOTIFY``."""
        try:
            await self._execute(_NOTIFY, self.channel, topic)
        finally:
            self._hub.dispatch(topic)

    # tokens
    async def save_token(self, token: Token) -> None:
        await self._execute(Q.save_token, *token_params(token))

    async def save_tokens_audited(self, tokens: Sequence[Token], event: AuditEvent) -> None:
        """One statement (a data-modifying ``WITH``): one round trip for the tokens
        and their ``token.issued`` event, committed together."""
        params = list(audit_event_params(event))
        for token in tokens:
            params.extend(token_params(token))
        await self._execute(save_tokens_audited(len(tokens)), *params)

    async def get_token(self, digest: str) -> Token | None:
        row = await self._fetchrow(Q.get_token, digest)
        return None if row is None else token_from_row(row)

    async def consume_token(
        self, digest: str, now: int, successor: str | None = None
    ) -> Token | None:
        """One ``UPDATE … RETURNING``: row locking makes later concurrent updates re-check
        ``consumed_at IS NULL`` and miss, so exactly one caller wins (RFC 9700 §4.14)."""
        row = await self._fetchrow(Q.consume_token, digest, now, successor)
        return None if row is None else token_from_row(row)

    async def consume_token_audited(
        self, digest: str, now: int, event: AuditEvent, successor: str | None = None
    ) -> Token | None:
        """:meth:`consume_token` and, if it won, the event: one statement."""
        row = await self._fetchrow(
            CONSUME_TOKEN_AUDITED, digest, now, successor, *audit_event_params(event)
        )
        return None if row is None else token_from_row(row)

    async def revoke_token(self, digest: str, now: int) -> bool:
        return await self._execute(Q.revoke_token, digest, now) > 0

    async def revoke_family(self, family_id: str, now: int) -> int:
        return await self._execute(Q.revoke_family, family_id, now)

    async def purge_expired(self, now: int, batch_size: int) -> int:
        """One statement (and transaction) per table, each deleting at most
        ``batch_size`` rows."""
        deleted = 0
        for sql in (
            Q.purge_expired,
            Q.purge_expired_codes,
            Q.purge_expired_sessions,
            Q.purge_expired_login_failures,
        ):
            deleted += await self._execute(sql, now, batch_size)
        return deleted

    async def revoke_for_subject(self, client_id: str, subject: str, now: int) -> int:
        return await self._execute(Q.revoke_for_subject, client_id, subject, now)

    # authorization codes
    async def save_code(self, code: AuthorizationCode) -> None:
        await self._execute(Q.save_code, *code_params(code))

    async def get_code(self, digest: str) -> AuthorizationCode | None:
        row = await self._fetchrow(Q.get_code, digest)
        return None if row is None else code_from_row(row)

    async def consume_code(self, digest: str, now: int) -> AuthorizationCode | None:
        """One ``UPDATE … RETURNING``, as :meth:`consume_token` (RFC 6749 §4.1.2)."""
        row = await self._fetchrow(Q.consume_code, digest, now)
        return None if row is None else code_from_row(row)

    # consents
    async def get_consent(self, user_id: str, client_id: str) -> Consent | None:
        row = await self._fetchrow(Q.get_consent, user_id, client_id)
        return None if row is None else consent_from_row(row)

    async def save_consent(self, consent: Consent) -> None:
        await self._execute(Q.save_consent, *consent_params(consent))

    async def delete_consent(self, user_id: str, client_id: str) -> bool:
        return await self._execute(Q.delete_consent, user_id, client_id) > 0

    async def list_consents(self, user_id: str) -> list[Consent]:
        return [consent_from_row(row) for row in await self._fetch(Q.list_consents, user_id)]

    # sessions
    async def save_session(self, session: Session) -> None:
        await self._execute(Q.save_session, *session_params(session))

    async def get_session(self, digest: str) -> Session | None:
        row = await self._fetchrow(Q.get_session, digest)
        return None if row is None else session_from_row(row)

    async def delete_session(self, digest: str) -> bool:
        return await self._execute(Q.delete_session, digest) > 0

    # sign-in lock-out
    async def note_login_failure(self, key: str, now: int, expires_at: int) -> int:
        """One upsert: the row lock orders concurrent failures, so each is counted."""
        return int(await self._fetchval(Q.note_login_failure, key, now, expires_at))

    async def lock_login(self, key: str, until: int) -> None:
        await self._execute(Q.lock_login, key, until)

    async def get_login_failures(self, keys: Sequence[str], now: int) -> list[LoginFailures]:
        rows = await self._fetch(get_login_failures(len(keys)), now, *keys)
        return [login_failures_from_row(row) for row in rows]

    async def clear_login_failures(self, key: str) -> None:
        await self._execute(Q.clear_login_failures, key)

    # users
    async def get_user_by_username(self, username: str) -> User | None:
        row = await self._fetchrow(Q.get_user_by_username, username)
        return None if row is None else user_from_row(row)

    async def get_user(self, user_id: str) -> User | None:
        row = await self._fetchrow(Q.get_user, user_id)
        return None if row is None else user_from_row(row)

    async def save_user(self, user: User) -> None:
        try:
            await self._execute(Q.save_user, *user_params(user))
        except pg_errors.UniqueViolationError as exc:
            raise ValueError(f"username {user.username!r} is taken") from exc

    # signing keys (RFC 7517)
    async def list_signing_keys(self) -> list[SigningKey]:
        return [signing_key_from_row(row) for row in await self._fetch(Q.list_signing_keys)]

    async def save_signing_key(self, key: SigningKey) -> None:
        try:
            await self._fetchval(
                _SAVE_SIGNING_KEY_AND_NOTIFY, *signing_key_params(key), self.channel
            )
        finally:
            self._hub.dispatch(KEYS_TOPIC)

    async def delete_signing_key(self, kid: str) -> bool:
        try:
            deleted = await self._fetchval(_DELETE_SIGNING_KEY_AND_NOTIFY, kid, self.channel)
        finally:
            self._hub.dispatch(KEYS_TOPIC)
        return bool(deleted)

    # audit events
    async def record_audit_event(self, event: AuditEvent) -> None:
        await self._execute(Q.record_audit_event, *audit_event_params(event))

    async def list_audit_events(
        self,
        *,
        events: Collection[str] | None = None,
        client_id: str | None = None,
        subject: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 50,
    ) -> list[AuditEvent]:
        sql, params = list_audit_events(
            events=events,
            client_id=client_id,
            subject=subject,
            since=since,
            until=until,
            limit=limit,
        )
        return [audit_event_from_row(row) for row in await self._fetch(sql, *params)]

    async def purge_audit_events(self, before: int, batch_size: int) -> int:
        return await self._execute(Q.purge_audit_events, before, batch_size)
