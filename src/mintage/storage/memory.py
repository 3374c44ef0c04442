"""In-memory store: for tests and embedding experiments.  Nothing survives a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from ..core.models import (
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
from ..core.storage import CLIENT_TOPIC, KEYS_TOPIC
from .invalidation import InvalidationHub, InvalidationHubMixin


class MemoryStorage(InvalidationHubMixin):
    """Implements :class:`~mintage.core.storage.Storage` with dicts.

    Each method runs without awaiting, so on one event loop every method is atomic.
    It is an :class:`~mintage.core.storage.InvalidationSource` for one process (the only
    one that can see it): client changes and :meth:`notify_invalidation` reach this
    store's listeners at once.
    """

    def __init__(self) -> None:
        self._hub = InvalidationHub()
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, Token] = {}
        self.users: dict[str, User] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.consents: dict[tuple[str, str], Consent] = {}
        self.sessions: dict[str, Session] = {}
        self.signing_keys: dict[str, SigningKey] = {}
        self.login_failures: dict[str, LoginFailures] = {}
        #: in the order recorded, which is also ``id`` order
        self.audit_events: list[AuditEvent] = []
        self._next_audit_id = 1

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    # clients
    async def get_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    async def save_client(self, client: Client) -> None:
        self.clients[client.client_id] = client
        self._hub.dispatch(CLIENT_TOPIC + client.client_id)

    async def delete_client(self, client_id: str) -> bool:
        existed = self.clients.pop(client_id, None) is not None
        for digest in [d for d, t in self.tokens.items() if t.client_id == client_id]:
            del self.tokens[digest]
        for digest in [d for d, c in self.codes.items() if c.client_id == client_id]:
            del self.codes[digest]
        for key in [k for k in self.consents if k[1] == client_id]:
            del self.consents[key]
        self._hub.dispatch(CLIENT_TOPIC + client_id)
        return existed

    async def list_clients(self) -> list[Client]:
        return sorted(self.clients.values(), key=lambda c: (c.created_at, c.client_id))

    # invalidation (InvalidationSource)
    async def notify_invalidation(self, topic: str) -> None:
        self._hub.dispatch(topic)

    # tokens
    async def save_token(self, token: Token) -> None:
        self.tokens[token.digest] = token

    async def save_tokens_audited(self, tokens: Sequence[Token], event: AuditEvent) -> None:
        # Through the store's own methods, so that a subclass overriding them (tests
        # that inject failures) sees these writes too.
        for token in tokens:
            await self.save_token(token)
        await self.record_audit_event(event)

    async def get_token(self, digest: str) -> Token | None:
        return self.tokens.get(digest)

    async def consume_token(
        self, digest: str, now: int, successor: str | None = None
    ) -> Token | None:
        token = self.tokens.get(digest)
        if (
            token is None
            or token.consumed_at is not None
            or token.revoked_at is not None
            or token.expires_at <= now
        ):
            return None
        self.tokens[digest] = dataclasses.replace(token, consumed_at=now, successor=successor)
        return token

    async def consume_token_audited(
        self, digest: str, now: int, event: AuditEvent, successor: str | None = None
    ) -> Token | None:
        won = await self.consume_token(digest, now, successor)
        if won is not None:
            await self.record_audit_event(event)
        return won

    async def revoke_token(self, digest: str, now: int) -> bool:
        token = self.tokens.get(digest)
        if token is None or token.revoked_at is not None:
            return False
        self.tokens[digest] = dataclasses.replace(token, revoked_at=now)
        return True

    async def revoke_family(self, family_id: str, now: int) -> int:
        changed = 0
        for digest, token in list(self.tokens.items()):
            if token.family_id == family_id and token.revoked_at is None:
                self.tokens[digest] = dataclasses.replace(token, revoked_at=now)
                changed += 1
        return changed

    async def purge_expired(self, now: int, batch_size: int) -> int:
        deleted = 0
        table: (
            dict[str, Token]
            | dict[str, AuthorizationCode]
            | dict[str, Session]
            | dict[str, LoginFailures]
        )
        for table in (self.tokens, self.codes, self.sessions, self.login_failures):
            doomed = sorted((r.expires_at, d) for d, r in table.items() if r.expires_at < now)
            for _, digest in doomed[:batch_size]:
                del table[digest]
            deleted += min(len(doomed), batch_size)
        return deleted

    async def revoke_for_subject(self, client_id: str, subject: str, now: int) -> int:
        changed = 0
        for digest, token in list(self.tokens.items()):
            if (
                token.client_id == client_id
                and token.subject == subject
                and token.revoked_at is None
            ):
                self.tokens[digest] = dataclasses.replace(token, revoked_at=now)
                changed += 1
        return changed

    # authorization codes
    async def save_code(self, code: AuthorizationCode) -> None:
        self.codes[code.digest] = code

    async def get_code(self, digest: str) -> AuthorizationCode | None:
        return self.codes.get(digest)

    async def consume_code(self, digest: str, now: int) -> AuthorizationCode | None:
        code = self.codes.get(digest)
        if code is None or code.consumed_at is not None or code.expires_at <= now:
            return None
        self.codes[digest] = dataclasses.replace(code, consumed_at=now)
        return code

    # consents
    async def get_consent(self, user_id: str, client_id: str) -> Consent | None:
        return self.consents.get((user_id, client_id))

    async def save_consent(self, consent: Consent) -> None:
        self.consents[(consent.user_id, consent.client_id)] = consent

    async def delete_consent(self, user_id: str, client_id: str) -> bool:
        return self.consents.pop((user_id, client_id), None) is not None

    async def list_consents(self, user_id: str) -> list[Consent]:
        mine = [c for (u, _), c in self.consents.items() if u == user_id]
        return sorted(mine, key=lambda c: c.client_id)

    # sessions
    async def save_session(self, session: Session) -> None:
        self.sessions[session.digest] = session

    async def get_session(self, digest: str) -> Session | None:
        return self.sessions.get(digest)

    async def delete_session(self, digest: str) -> bool:
        return self.sessions.pop(digest, None) is not None

    # sign-in lock-out
    async def note_login_failure(self, key: str, now: int, expires_at: int) -> int:
        row = self.login_failures.get(key)
        if row is None or row.expires_at <= now:
            row = LoginFailures(key, 1, expires_at)
        else:
            row = dataclasses.replace(row, failures=row.failures + 1)
        self.login_failures[key] = row
        return row.failures

    async def lock_login(self, key: str, until: int) -> None:
        row = self.login_failures.get(key)
        if row is not None:
            expires_at = max(row.expires_at, until)
            self.login_failures[key] = dataclasses.replace(
                row, locked_until=until, expires_at=expires_at
            )

    async def get_login_failures(self, keys: Sequence[str], now: int) -> list[LoginFailures]:
        rows = (self.login_failures.get(key) for key in set(keys))
        return [row for row in rows if row is not None and row.expires_at > now]

    async def clear_login_failures(self, key: str) -> None:
        self.login_failures.pop(key, None)

    # users
    async def get_user_by_username(self, username: str) -> User | None:
        for user in self.users.values():
            if user.username == username:
                return user
        return None

    async def get_user(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def save_user(self, user: User) -> None:
        other = await self.get_user_by_username(user.username)
        if other is not None and other.user_id != user.user_id:
            raise ValueError(f"username {user.username!r} is taken")
        self.users[user.user_id] = user

    # signing keys
    async def list_signing_keys(self) -> list[SigningKey]:
        return sorted(self.signing_keys.values(), key=lambda k: (k.created_at, k.kid))

    async def save_signing_key(self, key: SigningKey) -> None:
        self.signing_keys[key.kid] = key
        self._hub.dispatch(KEYS_TOPIC)

    async def delete_signing_key(self, kid: str) -> bool:
        existed = self.signing_keys.pop(kid, None) is not None
        self._hub.dispatch(KEYS_TOPIC)
        return existed

    # audit events
    async def record_audit_event(self, event: AuditEvent) -> None:
        # A copy of the detail: the caller's mapping must not change what was recorded.
        stored = dataclasses.replace(event, id=self._next_audit_id, detail=dict(event.detail))
        self._next_audit_id += 1
        self.audit_events.append(stored)

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
        wanted = None if events is None else set(events)
        found = [
            e
            for e in self.audit_events
            if (wanted is None or e.event in wanted)
            and (client_id is None or e.client_id == client_id)
            and (subject is None or e.subject == subject)
            and (since is None or e.at >= since)
            and (until is None or e.at < until)
        ]
        found.sort(key=lambda e: (e.at, e.id or 0), reverse=True)
        return found[: max(limit, 0)]

    async def purge_audit_events(self, before: int, batch_size: int) -> int:
        doomed = sorted((e.at, e.id or 0) for e in self.audit_events if e.at < before)
        gone = {key for key in doomed[:batch_size]}
        self.audit_events = [e for e in self.audit_events if (e.at, e.id or 0) not in gone]
        return len(gone)
