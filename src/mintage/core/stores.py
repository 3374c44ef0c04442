"""One store per concern, and which features need which (docs/storage.md).

The server asks each concern of its own object (:class:`Stores`); one object may serve
several, as the bundled stores serve all.  :data:`FEATURES` maps every feature to the
protocols of :mod:`.storage` it uses, and :func:`check_stores` refuses, at start-up, a
server whose enabled features lack one: the message names the protocol, the methods the
given object lacks, and the feature with the setting that turns it on.  Nothing falls
back to memory behind the user's back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, cast

from .errors import StoreConfigurationError
from .models import SigningKey
from .storage import (
    AuditStore,
    AuthorizationCodeStore,
    ClientStore,
    ConsentStore,
    ExpiringStore,
    KeyStore,
    LoginAttemptStore,
    SessionStore,
    Storage,
    SubjectTokenStore,
    TokenStore,
    UserStore,
)

if TYPE_CHECKING:
    from .server import ServerConfig


@dataclass(frozen=True, slots=True)
class Stores:
    """The store of each concern; ``None``: not given.

    ``Stores.of(obj)`` fills every concern whose protocol ``obj`` implements (the
    bundled stores implement them all); :meth:`with_defaults` fills the gaps of a
    partial ``Stores`` from one such object.
    """

    clients: ClientStore | None = None
    tokens: TokenStore | None = None
    codes: AuthorizationCodeStore | None = None
    users: UserStore | None = None
    login_attempts: LoginAttemptStore | None = None
    consents: ConsentStore | None = None
    sessions: SessionStore | None = None
    keys: KeyStore | None = None
    audit: AuditStore | None = None
    subject_tokens: SubjectTokenStore | None = None

    @classmethod
    def of(cls, store: object) -> Stores:
        """``store`` for every concern whose protocol it implements."""
        given: dict[str, Any] = {
            name: store if _implements(store, protocol) else None
            for name, protocol in PROTOCOLS.items()
        }
        return cls(**given)

    def with_defaults(self, store: object) -> Stores:
        """These stores, with ``store`` for each concern not given (when it serves it)."""
        default = Stores.of(store)
        return replace(
            self,
            **{f.name: getattr(default, f.name) for f in fields(self) if self.get(f.name) is None},
        )

    def get(self, concern: str) -> object | None:
        store: object | None = getattr(self, concern)
        return store

    def distinct(self) -> list[object]:
        """Every object given, once each (lifecycle: open, close, ping)."""
        seen: dict[int, object] = {}
        for f in fields(self):
            store = self.get(f.name)
            if store is not None:
                seen.setdefault(id(store), store)
        return list(seen.values())


#: concern (a field of :class:`Stores`) → its protocol
PROTOCOLS: dict[str, type[Any]] = {
    "clients": ClientStore,
    "tokens": TokenStore,
    "codes": AuthorizationCodeStore,
    "users": UserStore,
    "login_attempts": LoginAttemptStore,
    "consents": ConsentStore,
    "sessions": SessionStore,
    "keys": KeyStore,
    "audit": AuditStore,
    "subject_tokens": SubjectTokenStore,
}


@dataclass(frozen=True, slots=True)
class Feature:
    """A feature of the server, the setting that turns it on, the concerns it uses."""

    name: str
    #: the setting (or ``ServerConfig`` field) that turns it on or off, for messages
    setting: str
    concerns: tuple[str, ...]


#: Every feature and the concerns it uses; docs/storage.md has this table.
FEATURES: tuple[Feature, ...] = (
    Feature(
        "token, revocation and introspection endpoints (RFC 6749, 7009, 7662)",
        "always on",
        ("clients", "tokens"),
    ),
    Feature(
        "authorization code grant with the sign-in and consent pages (RFC 6749 §4.1)",
        "pages_enabled",
        # ID tokens for the openid scope are signed (OpenID Connect Core §2); a withdrawn
        # consent revokes the subject's tokens (core/consent.py).
        ("codes", "users", "login_attempts", "consents", "sessions", "subject_tokens", "keys"),
    ),
    Feature(
        "password grant (RFC 6749 §4.3)", "password_grant_enabled", ("users", "login_attempts")
    ),
    Feature("UserInfo (OpenID Connect Core §5.3)", "userinfo_enabled", ("users",)),
    Feature("JWT access tokens (RFC 9068)", "access_token_format=jwt", ("keys",)),
    Feature("audit events (mintage audit)", "audit_enabled", ("audit",)),
)


def enabled_features(config: ServerConfig) -> list[Feature]:
    """The features these settings turn on."""
    on = {
        "always on": True,
        "pages_enabled": config.pages_enabled,
        "password_grant_enabled": config.password_grant_enabled,
        "userinfo_enabled": config.userinfo_enabled,
        "access_token_format=jwt": config.access_token_format == "jwt",
        "audit_enabled": config.audit_enabled,
    }
    return [f for f in FEATURES if on[f.setting]]


def check_stores(
    stores: Stores, config: ServerConfig, *, provided: frozenset[str] = frozenset()
) -> None:
    """Raise :class:`StoreConfigurationError` unless every enabled feature has its stores.

    ``provided`` names concerns served otherwise (``users``: an application's own
    :class:`~mintage.core.users.UserSource`).

    One message lists every gap, e.g. ``KeyStore (missing list_signing_keys, …) for
    JWT access tokens (RFC 9068), turned on by access_token_format=jwt``.
    """
    problems = []
    for feature in enabled_features(config):
        for concern in feature.concerns:
            if concern in provided:
                continue
            store = stores.get(concern)
            protocol = PROTOCOLS[concern]
            if store is not None and _implements(store, protocol):
                continue
            what = (
                f"no store given (Stores.{concern})"
                if store is None
                else f"{type(store).__name__} lacks {', '.join(missing_methods(store, protocol))}"
            )
            problems.append(
                f"{protocol.__name__} ({what}) for {feature.name}, turned on by {feature.setting}"
            )
    if problems:
        raise StoreConfigurationError(
            "the stores do not serve every enabled feature: "
            + "; ".join(problems)
            + " (docs/storage.md: which feature needs which store)"
        )


def protocol_methods(protocol: type[Any]) -> list[str]:
    """The public methods a protocol declares, its bases' included."""
    names: dict[str, None] = {}
    for klass in reversed(protocol.__mro__):
        if klass in (object,) or klass.__module__ == "typing":
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and (callable(value) or isinstance(value, property)):
                names[name] = None
    return list(names)


def missing_methods(store: object, protocol: type[Any]) -> list[str]:
    return [m for m in protocol_methods(protocol) if not hasattr(store, m)]


def _implements(store: object, protocol: type[Any]) -> bool:
    return not missing_methods(store, protocol)


class Absent:
    """Stands for the store of a concern no enabled feature uses.

    Any method call raises :class:`StoreConfigurationError`: a route of a feature that
    is off, still reached, fails loudly instead of keeping data somewhere unexpected.
    """

    def __init__(self, concern: str) -> None:
        self._concern = concern

    def __getattr__(self, name: str) -> Any:
        protocol = PROTOCOLS[self._concern].__name__
        raise StoreConfigurationError(
            f"{protocol}.{name} called, but no {protocol} was given (Stores.{self._concern}):"
            " the feature that needs it is off"
        )


class NoKeyStore:
    """The key store of a server whose features sign nothing: no key to publish (an
    empty JWK Set), and none may be made (:class:`StoreConfigurationError`)."""

    async def list_signing_keys(self) -> list[SigningKey]:
        return []

    async def save_signing_key(self, key: SigningKey) -> None:
        raise StoreConfigurationError(
            "a signing key is needed (a client registered for JWT access tokens?) but no "
            "KeyStore was given (Stores.keys)"
        )

    async def delete_signing_key(self, kid: str) -> bool:
        return False


NO_KEYS = NoKeyStore()


async def purge_all(
    stores: Stores | Storage, now: int, batch: int, *, audit_before: int | None = None
) -> int:
    """Delete expired tokens, codes, sessions and login failures, and audit events
    older than ``audit_before`` (when given), in batches, yielding between batches.

    ``purge_expired`` is called on each object that keeps an expiring concern, once
    per object whichever of them it serves.  Each call deletes at most ``batch`` rows
    per kind and returns the total; a total below ``batch`` means every kind of that
    object is drained, so its loop ends (at worst one extra call that deletes nothing).
    Returns the rows deleted in all.
    """
    if not isinstance(stores, Stores):
        stores = Stores.of(stores)
    expiring = Stores(
        tokens=stores.tokens,
        codes=stores.codes,
        sessions=stores.sessions,
        login_attempts=stores.login_attempts,
    ).distinct()
    total = 0
    for store in expiring:
        total += await _drain(cast(ExpiringStore, store).purge_expired, now, batch)
    if audit_before is not None and stores.audit is not None:
        total += await _drain(stores.audit.purge_audit_events, audit_before, batch)
    return total


async def _drain(purge: Callable[[int, int], Awaitable[int]], before: int, batch: int) -> int:
    total = 0
    while True:
        deleted = await purge(before, batch)
        total += deleted
        if deleted < batch:
            return total
        await asyncio.sleep(0)  # let requests run between batches
