"""Storage protocols, one per concern: the "model" of the origin library, typed and async.

Core owns these protocols; ``mintage.storage`` implements them all (memory, SQLite,
PostgreSQL) and users may write their own, for some concerns or all: the server takes
one store per concern (:class:`~mintage.core.stores.Stores`) and needs only those its
enabled features use (:data:`~mintage.core.stores.FEATURES`).  Each protocol names the
code that consumes it.  Every method that may touch a database is ``async``.  A store
that cannot reach its backend raises :class:`~mintage.core.errors.StorageUnavailableError`,
which the server turns into 503 ``temporarily_unavailable`` rather than a wrong
``invalid_grant``.

The contract suite :mod:`mintage.testing` is the executable form of this page.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol, runtime_checkable

from .models import (
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


@runtime_checkable
class ClientStore(Protocol):
    """Registered clients (RFC 6749 §2).  Consumed by client authentication
    (``core/client_auth.py``), the authorization and logout endpoints, and
    ``core/clients.py`` (registration, ``mintage clients``)."""

    async def get_client(self, client_id: str) -> Client | None:
        """The client with this id, or ``None``."""
        ...

    async def save_client(self, client: Client) -> None:
        """Insert or replace the client (by ``client_id``)."""
        ...

    async def delete_client(self, client_id: str) -> bool:
        """Delete the client with every token, authorization code and consent of it
        that this object keeps; ``True`` if it existed.  One transaction: nothing of it
        is left half-deleted.  (Tokens kept by another object stay until they expire.)"""
        ...

    async def list_clients(self) -> list[Client]:
        """Every client, ordered by ``created_at`` then ``client_id``."""
        ...


@runtime_checkable
class TokenStore(Protocol):
    """Issued tokens, by digest.  Consumed by ``core/issuer.py``, the grants
    (``core/grants/``), revocation, introspection and the bearer check
    (``core/endpoints/``)."""

    async def save_token(self, token: Token) -> None:
        """Persist a new token durably before returning.

        When this returns, the token must survive a crash of the process: the server
        sends the token to the client right after.
        """
        ...

    async def get_token(self, digest: str) -> Token | None:
        """The token with this digest (active or not), or ``None``."""
        ...

    async def consume_token(
        self, digest: str, now: int, successor: str | None = None
    ) -> Token | None:
        """Atomically mark an unconsumed, unrevoked, unexpired token as consumed, and
        store ``successor`` (the sealed rotation response) with it.

        Returns the token as it was before the update if this call won, ``None``
        otherwise.  Of any number of concurrent calls for one digest, at most one wins
        (one ``UPDATE … WHERE consumed_at IS NULL … RETURNING`` statement), so the
        stored ``successor`` is the winner's.  The server passes ``successor`` only
        when the refresh grace window is on (RFC 9700 §4.14.2, docs/operations.md);
        :meth:`get_token` returns it in ``Token.successor``.
        """
        ...

    async def revoke_token(self, digest: str, now: int) -> bool:
        """Mark one token revoked; ``True`` if it was found and not already revoked."""
        ...

    async def revoke_family(self, family_id: str, now: int) -> int:
        """Revoke every token of the family; returns how many changed."""
        ...

    async def purge_expired(self, now: int, batch_size: int) -> int:
        """Delete rows that expired before ``now``: of every expiring concern this
        object keeps (tokens, authorization codes, sessions, login failures), at most
        ``batch_size`` per kind.

        Returns how many rows were deleted in all (so up to four times ``batch_size``).
        A result below ``batch_size`` means no kind had ``batch_size`` expired rows, so
        nothing that expired before ``now`` is left: callers loop until then, in small
        batches (docs/architecture.md §5).  Consumed codes stay until they expire, so
        that a replay is still recognised (RFC 6749 §4.1.2).  The server calls it once
        per object, whichever of these concerns it serves (:class:`ExpiringStore`).
        """
        ...


@runtime_checkable
class UserStore(Protocol):
    """Accounts that sign in.  Consumed by ``core/login.py`` (sign-in page, password
    grant), UserInfo and ID token claims (``core/oidc/``), ``mintage users``."""

    async def get_user_by_username(self, username: str) -> User | None:
        """The user with this username (exact match), or ``None``."""
        ...

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, or ``None``."""
        ...

    async def save_user(self, user: User) -> None:
        """Insert or replace the user; raises ``ValueError`` if the username is taken
        by another user."""
        ...


@runtime_checkable
class ExpiringStore(Protocol):
    """What every concern with expiring rows has: :meth:`TokenStore.purge_expired`."""

    async def purge_expired(self, now: int, batch_size: int) -> int: ...


@runtime_checkable
class AuthorizationCodeStore(ExpiringStore, Protocol):
    """Authorization codes (RFC 6749 §4.1), by digest.  Consumed by the authorization
    endpoint (``core/endpoints/authorize.py``) and the authorization code grant."""

    async def save_code(self, code: AuthorizationCode) -> None:
        """Persist a new code durably before returning (it is sent right after)."""
        ...

    async def get_code(self, digest: str) -> AuthorizationCode | None:
        """The code with this digest, consumed or not, or ``None``."""
        ...

    async def consume_code(self, digest: str, now: int) -> AuthorizationCode | None:
        """Atomically mark an unconsumed, unexpired code consumed; as for
        :meth:`TokenStore.consume_token`, at most one of concurrent calls wins and
        gets the code as it was before the update."""
        ...


@runtime_checkable
class ConsentStore(Protocol):
    """What each user granted each client.  Consumed by ``core/consent.py``."""

    async def get_consent(self, user_id: str, client_id: str) -> Consent | None: ...

    async def save_consent(self, consent: Consent) -> None:
        """Insert or replace the consent of (user, client)."""
        ...

    async def delete_consent(self, user_id: str, client_id: str) -> bool:
        """Forget the consent; ``True`` if there was one."""
        ...

    async def list_consents(self, user_id: str) -> list[Consent]:
        """The user's consents, ordered by ``client_id``."""
        ...


@runtime_checkable
class SessionStore(ExpiringStore, Protocol):
    """Browser sign-in sessions, by cookie digest.  Consumed by ``core/sessions.py``."""

    async def save_session(self, session: Session) -> None: ...

    async def get_session(self, digest: str) -> Session | None:
        """The session (expired or not), or ``None``."""
        ...

    async def delete_session(self, digest: str) -> bool: ...


@runtime_checkable
class LoginAttemptStore(ExpiringStore, Protocol):
    """Failed sign-ins and the lock-out they cause (RFC 6749 §10.10: password guessing),
    per key, in the table every worker shares.  Consumed by ``core/login.py``.

    Keys are short opaque strings (keyed digests: ``core/login.py``), for known and
    unknown usernames alike.  A row whose ``expires_at`` has passed counts as absent;
    :meth:`TokenStore.purge_expired` deletes it.
    """

    async def note_login_failure(self, key: str, now: int, expires_at: int) -> int:
        """Atomically count one failure under ``key``; returns the new count.

        Without a row, or when its row expired (``expires_at <= now``), the count
        starts again at 1, unlocked, and the row expires at ``expires_at``; otherwise
        the row keeps its expiry (a fixed window).  Concurrent failures are all counted
        (one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``).
        """
        ...

    async def lock_login(self, key: str, until: int) -> None:
        """Lock ``key`` until ``until`` (epoch seconds); its row then lives at least as
        long.  No-op when ``key`` has no row."""
        ...

    async def get_login_failures(self, keys: Sequence[str], now: int) -> list[LoginFailures]:
        """The rows of these keys that have not expired at ``now``, in any order."""
        ...

    async def clear_login_failures(self, key: str) -> None:
        """Forget ``key``'s failures and lock (a successful sign-in); no-op without a row."""
        ...


@runtime_checkable
class SubjectTokenStore(Protocol):
    """Revocation of a subject's tokens; usually the :class:`TokenStore` itself.
    Consumed by ``core/consent.py`` (a withdrawn consent)."""

    async def revoke_for_subject(self, client_id: str, subject: str, now: int) -> int:
        """Revoke every unrevoked token of this client for this subject (consent
        withdrawn); returns how many changed."""
        ...


@runtime_checkable
class KeyStore(Protocol):
    """JWS signing keys (RFC 7517), private parts sealed (see :class:`SigningKey`).
    Consumed by ``core/keyring.py`` (ID tokens, JWT access tokens, the JWKS)."""

    async def list_signing_keys(self) -> list[SigningKey]:
        """Every key, ordered by ``created_at`` then ``kid``."""
        ...

    async def save_signing_key(self, key: SigningKey) -> None:
        """Insert or replace the key (by ``kid``)."""
        ...

    async def delete_signing_key(self, kid: str) -> bool:
        """Forget the key; ``True`` if it existed."""
        ...


@runtime_checkable
class AuditStore(Protocol):
    """Security events for operators (``mintage audit``), kept ``audit_retention_days``.
    Consumed by ``core/audit.py``.

    Events are only ever appended, listed and purged by age: no other method of any
    store touches them (deleting a client keeps its events).
    """

    async def record_audit_event(self, event: AuditEvent) -> None:
        """Append ``event`` (its ``id`` is ignored: the store numbers events) and keep
        it durably before returning, as :meth:`TokenStore.save_token` does.

        A batching store commits an event recorded side by side with a token save
        (``asyncio.gather``) in the same transaction.
        """
        ...

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
        """Events matching every given filter, newest first (by ``at``, then ``id``),
        at most ``limit``; each with its ``id``.

        ``events`` is a set of event names (any of them matches; empty matches none),
        ``since`` is inclusive and ``until`` exclusive (epoch seconds).
        """
        ...

    async def purge_audit_events(self, before: int, batch_size: int) -> int:
        """Delete at most ``batch_size`` of the oldest events with ``at < before``;
        returns how many.  Callers loop while the result equals ``batch_size``."""
        ...


@runtime_checkable
class AuditedTokenStore(Protocol):
    """Optional fast paths for the issuance events: a token write and its event as one.

    A store that has them writes both in one transaction and, where it can, one round
    trip (PostgreSQL: one statement); the engine uses them when the store has them, and
    otherwise calls the plain methods and :meth:`AuditStore.record_audit_event`.  Not
    part of :class:`Storage`: a custom store may leave them out.  Used only when one
    object is both the token and the audit store.
    """

    async def save_tokens_audited(self, tokens: Sequence[Token], event: AuditEvent) -> None:
        """Persist every token and the event durably, all or none, before returning."""
        ...

    async def consume_token_audited(
        self, digest: str, now: int, event: AuditEvent, successor: str | None = None
    ) -> Token | None:
        """:meth:`TokenStore.consume_token` (``successor`` included), recording ``event``
        in the same transaction if, and only if, this call won."""
        ...


class Storage(
    ClientStore,
    TokenStore,
    UserStore,
    AuthorizationCodeStore,
    ConsentStore,
    SessionStore,
    LoginAttemptStore,
    SubjectTokenStore,
    KeyStore,
    AuditStore,
    Protocol,
):
    """Every concern in one object, plus the lifecycle hooks: what the bundled stores
    are.  A custom store need not be one: give the server the concerns its features
    use (:class:`~mintage.core.stores.Stores`).
    """

    async def open(self) -> None:
        """Connect; create or migrate the schema when the store owns it."""
        ...

    async def close(self) -> None:
        """Flush pending writes and release connections."""
        ...

    async def ping(self) -> bool:
        """``True`` when the backend answers (readiness)."""
        ...


# Lifecycle is optional per object: the server calls ``open()`` on start-up,
# ``close()`` on shutdown and ``ping()`` for readiness on each distinct store that has
# them (web/app.py).


#: What :meth:`InvalidationSource.add_invalidation_listener` calls: the topic that changed.
InvalidationCallback = Callable[[str], None]

#: The topic that means "anything may have changed": drop everything you cached.
ALL_TOPICS = "*"
#: ``client:<client_id>``: that client was saved (secret rotated, scopes changed…) or deleted.
CLIENT_TOPIC = "client:"
#: The signing keys changed (added, rotated, retired).
KEYS_TOPIC = "keys"


@runtime_checkable
class InvalidationSource(Protocol):
    """Optional: tells in-process caches that data changed, here or in another process.

    A cache in front of a store (clients, signing keys, …) subscribes to the topics it
    cares about and drops its entries when told, so that a change made by another
    instance, another worker or the CLI takes effect within a second instead of when
    a TTL runs out.  The bundled stores implement it; a custom store need not (check
    with ``isinstance(store, InvalidationSource)``): its caches then rely on short
    TTLs alone.

    Topics are short strings: ``client:<client_id>`` (saved, deleted, secret rotated),
    ``keys`` (the signing keys changed), and :data:`ALL_TOPICS` (``*``): anything may
    have changed, which listeners receive whatever prefix they subscribed to.

    Delivery, per store:

    - every store tells its own listeners at once, after the write committed;
    - PostgreSQL: other processes hear it through ``LISTEN/NOTIFY`` within milliseconds
      (the ``NOTIFY`` is sent in the same transaction as the change, or right after it);
    - SQLite: other processes' commits are noticed within 0.25 s (``PRAGMA
      data_version``), without knowing what changed, so listeners receive ``*``;
    - memory: one process only, so its own listeners are everyone.
    """

    def add_invalidation_listener(
        self, topic_prefix: str, callback: InvalidationCallback
    ) -> Callable[[], None]:
        """Call ``callback(topic)`` for every topic starting with ``topic_prefix``, and
        for ``*``; returns a function that unsubscribes.

        ``""`` subscribes to everything; ``"client:"`` to every client; ``"keys"`` to
        key changes.  The callback runs on the event loop, must be quick and must not
        raise (an exception is logged and ignored): drop entries, don't reload them.
        ``*`` is also sent whenever deliveries may have been missed (the notification
        connection was lost, or came back): drop everything then.
        """
        ...

    async def notify_invalidation(self, topic: str) -> None:
        """Tell every listener, in this process and in every other one sharing the
        database, that ``topic`` changed.  Call it after the change has committed.

        Raises :class:`~mintage.core.errors.StorageUnavailableError` when the database
        cannot be reached (the listeners of this process have been told anyway).
        """
        ...

    @property
    def invalidations_reliable(self) -> bool:
        """``True`` while every change, from any process, reaches the listeners within
        a second.  ``False`` while some may be missed (PostgreSQL: the notification
        connection is down and reconnecting): cache for one second at most meanwhile.
        """
        ...
