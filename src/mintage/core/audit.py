"""Audit events: the security-relevant things that happened, kept for operators.

RFC 9700 §4.14.2 and RFC 6749 §4.1.2 make the server act on signs of theft (a reused
refresh token, a replayed code); RFC 6749 §10.10 has it stop password guessing.  The
events below record those acts, and the ordinary ones an investigation needs around
them (who got which tokens, who signed in, which client changed), in the store
(:class:`~mintage.core.storage.AuditStore`), listed by ``mintage audit``.

What an event never holds: a token, an authorization code, a client secret, a password,
or a username that matched no account (people type their password into the username
field; the IP address of such an attempt is kept, the name is not).  Only identifiers
that are already stored in clear elsewhere (client ids, user ids, token family ids) and
plain facts (grant type, scope, counts) go in.

When an event is written, relative to the change it describes:

* ``token.issued`` for ``client_credentials`` and ``password`` rides along with the token
  save (same ``asyncio.gather``: SQLite's group commit writes both in one transaction).
  If either write fails the answer is 503 and no token is handed out, so no token is
  ever issued unrecorded.
* every other event is written once the change it describes has been made (a code
  spent, a family revoked, a sign-in checked).  Failing the request then would mislead
  the client (a refresh whose successor is never delivered turns the client's retry into
  reuse and costs the user the grant), so when that write finds the store unavailable
  the event goes to the ``mintage.audit`` log at ERROR level, with all its fields,
  and the answer stands.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from .clock import Clock
from .errors import StorageUnavailableError
from .http import OAuthRequest
from .models import AuditEvent
from .storage import AuditedTokenStore, AuditStore

log = logging.getLogger("mintage.audit")


class AuditEventType(StrEnum):
    """Every event Mintage records; ``docs/operations.md`` lists their fields."""

    #: tokens handed out by the token endpoint (not by a refresh); RFC 6749 §5.1
    TOKEN_ISSUED = "token.issued"
    #: a refresh token rotated into a new pair (RFC 6749 §6)
    TOKEN_REFRESHED = "token.refreshed"
    #: a token (or a refresh token's family) revoked at the revocation endpoint (RFC 7009)
    TOKEN_REVOKED = "token.revoked"
    #: a rotated refresh token presented again: its family is revoked (RFC 9700 §4.14.2)
    REFRESH_REUSE_DETECTED = "refresh.reuse_detected"
    #: a rotated refresh token presented again within the grace window, answered with
    #: the same successor pair instead of revoking (``refresh_grace_seconds``)
    REFRESH_GRACE_REPLAYED = "refresh.grace_replayed"
    #: a spent authorization code presented again: its tokens are revoked (RFC 6749 §4.1.2)
    CODE_REPLAY_DETECTED = "code.replay_detected"
    #: a password sign-in accepted (login page)
    LOGIN_SUCCEEDED = "login.succeeded"
    #: a password sign-in refused (login page, or the password grant)
    LOGIN_FAILED = "login.failed"
    #: repeated failures locked an account out (RFC 6749 §10.10)
    LOGIN_LOCKED = "login.locked"
    CLIENT_CREATED = "client.created"
    CLIENT_DELETED = "client.deleted"
    CLIENT_SECRET_ROTATED = "client.secret_rotated"
    #: a user's consent to a client withdrawn, and that client's tokens for them revoked
    CONSENT_REVOKED = "consent.revoked"
    #: a new signing key published (``mintage keys rotate``, or the schedule); RFC 7517
    KEY_ROTATED = "key.rotated"
    #: a signing key stopped signing (``mintage keys retire``)
    KEY_RETIRED = "key.retired"
    #: signing keys re-sealed under a new key-encryption key (``mintage keys reseal``)
    KEYS_RESEALED = "key.resealed"


#: the string of each event type (``member.value`` is a slow property on the hot path)
_NAMES: dict[AuditEventType, str] = {kind: kind.value for kind in AuditEventType}


class Origin(NamedTuple):
    """Where a change came from: the HTTP request, or an operator's command.

    ``actor`` names a non-HTTP origin (``cli:<os user>``); it goes into ``detail``.
    A named tuple: one is made for every token request, and it is cheaper to make
    than a frozen dataclass.
    """

    ip: str | None = None
    request_id: str | None = None
    actor: str | None = None

    @staticmethod
    def of(request: OAuthRequest) -> Origin:
        return Origin(request.client_ip, request.request_id)


class Auditor:
    """Builds and records events; one per server, shared by every endpoint.

    ``token_issued`` switches on ``token.issued`` and ``token.refreshed`` (the
    ``audit_token_issued`` setting, off by default): they are the only events written
    on the hot path.
    ``audited`` is the store's fast path for them, when it has one
    (:class:`~mintage.core.storage.AuditedTokenStore`) and is also the token store
    (``tokens``; by default it is).  ``store=None`` turns auditing off
    (``audit_enabled=false``): nothing is recorded.
    """

    __slots__ = ("_clock", "_store", "audited", "token_issued")

    def __init__(
        self,
        store: AuditStore | None,
        clock: Clock,
        *,
        token_issued: bool = False,
        tokens: object | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.token_issued = token_issued and store is not None
        # Checked once here: a protocol isinstance check costs too much per request.
        self.audited: AuditedTokenStore | None = (
            store
            if isinstance(store, AuditedTokenStore) and (tokens is None or tokens is store)
            else None
        )

    @property
    def store(self) -> AuditStore:
        if self._store is None:
            raise RuntimeError("auditing is off (audit_enabled=false)")
        return self._store

    def event(
        self,
        kind: AuditEventType,
        origin: Origin | None,
        *,
        client_id: str | None = None,
        subject: str | None = None,
        **detail: Any,
    ) -> AuditEvent:
        """A new event stamped now; ``detail`` must hold no credential (see above)."""
        name = _NAMES[kind]
        if origin is None:
            return AuditEvent(self._clock(), name, client_id, subject, None, None, detail)
        if origin.actor is not None:
            detail["actor"] = origin.actor
        return AuditEvent(
            self._clock(), name, client_id, subject, origin.ip, origin.request_id, detail
        )

    async def record(
        self,
        kind: AuditEventType,
        origin: Origin | None,
        *,
        client_id: str | None = None,
        subject: str | None = None,
        **detail: Any,
    ) -> None:
        """Record an event about a change already made; on an outage, log it instead."""
        if self._store is None:
            return
        event = self.event(kind, origin, client_id=client_id, subject=subject, **detail)
        try:
            await self._store.record_audit_event(event)
        except StorageUnavailableError:
            log.error("audit event not stored (storage unavailable): %s", describe(event))


def describe(event: AuditEvent) -> str:
    """The event as one JSON line (what the log gets when the store cannot take it)."""
    fields = {
        "at": event.at,
        "event": event.event,
        "client_id": event.client_id,
        "subject": event.subject,
        "ip": event.ip,
        "request_id": event.request_id,
        "detail": event.detail,
    }
    return orjson.dumps(fields).decode()
