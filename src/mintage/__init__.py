"""Mintage: an OAuth 2.1 authorization server, standalone or embedded.

The public API is listed in ``__all__``.  Names load lazily so that importing
``mintage.core`` (the protocol engine) never pulls in Starlette or a database driver,
and ``import mintage`` works with the resource kit alone (``pip install mintage``); a
server name used without ``mintage[server]`` installed says which extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .extras import SERVER_MODULES, extra_needed

__version__ = "0.1.0"

_EXPORTS = {
    "create_app": "mintage.web.app",
    "mount": "mintage.web.embed",
    "Grant": "mintage.core.grants",
    "GrantContext": "mintage.core.grants",
    "GrantRequest": "mintage.core.grants",
    "GrantRegistry": "mintage.core.grants.registry",
    "Settings": "mintage.settings",
    "AuthorizationServer": "mintage.core.server",
    "ServerConfig": "mintage.core.server",
    "Storage": "mintage.core.storage",
    "ClientStore": "mintage.core.storage",
    "TokenStore": "mintage.core.storage",
    "UserStore": "mintage.core.storage",
    "Client": "mintage.core.models",
    "Token": "mintage.core.models",
    "TokenKind": "mintage.core.models",
    "User": "mintage.core.models",
    "MemoryStorage": "mintage.storage.memory",
    "open_storage": "mintage.storage",
    "register_client": "mintage.core.clients",
    "rotate_secret": "mintage.core.clients",
    "hash_password": "mintage.core.passwords",
    "OAuthError": "mintage.core.errors",
    "StorageUnavailableError": "mintage.core.errors",
    "AuthorizationCode": "mintage.core.models",
    "Consent": "mintage.core.models",
    "Session": "mintage.core.models",
    "AuthorizationCodeStore": "mintage.core.storage",
    "ConsentStore": "mintage.core.storage",
    "SessionStore": "mintage.core.storage",
    "LoginAttemptStore": "mintage.core.storage",
    "LoginFailures": "mintage.core.models",
    "SubjectTokenStore": "mintage.core.storage",
    "AuditEvent": "mintage.core.models",
    "AuditEventType": "mintage.core.audit",
    "AuditStore": "mintage.core.storage",
    "KeyStore": "mintage.core.storage",
    "SigningKey": "mintage.core.models",
    "Stores": "mintage.core.stores",
    "StoreConfigurationError": "mintage.core.errors",
    "UserSource": "mintage.core.users",
    "StoreUserSource": "mintage.core.users",
}

# Spelt out (not computed from _EXPORTS) so linters and type checkers can see it;
# tests/core/test_public_api.py keeps the two in step.
__all__ = [
    "AuditEvent",
    "AuditEventType",
    "AuditStore",
    "AuthorizationCode",
    "AuthorizationCodeStore",
    "AuthorizationServer",
    "Client",
    "ClientStore",
    "Consent",
    "ConsentStore",
    "Grant",
    "GrantContext",
    "GrantRegistry",
    "GrantRequest",
    "KeyStore",
    "LoginAttemptStore",
    "LoginFailures",
    "MemoryStorage",
    "OAuthError",
    "ServerConfig",
    "Session",
    "SessionStore",
    "Settings",
    "SigningKey",
    "Storage",
    "StorageUnavailableError",
    "StoreConfigurationError",
    "StoreUserSource",
    "Stores",
    "SubjectTokenStore",
    "Token",
    "TokenKind",
    "TokenStore",
    "User",
    "UserSource",
    "UserStore",
    "__version__",
    "create_app",
    "hash_password",
    "mount",
    "open_storage",
    "register_client",
    "rotate_secret",
]

if TYPE_CHECKING:
    from .core.audit import AuditEventType
    from .core.clients import register_client, rotate_secret
    from .core.errors import OAuthError, StorageUnavailableError, StoreConfigurationError
    from .core.grants import Grant, GrantContext, GrantRequest
    from .core.grants.registry import GrantRegistry
    from .core.models import (
        AuditEvent,
        AuthorizationCode,
        Client,
        Consent,
        LoginFailures,
        Session,
        SigningKey,
        Token,
        TokenKind,
        User,
    )
    from .core.passwords import hash_password
    from .core.server import AuthorizationServer, ServerConfig
    from .core.storage import (
        AuditStore,
        AuthorizationCodeStore,
        ClientStore,
        ConsentStore,
        KeyStore,
        LoginAttemptStore,
        SessionStore,
        Storage,
        SubjectTokenStore,
        TokenStore,
        UserStore,
    )
    from .core.stores import Stores
    from .core.users import StoreUserSource, UserSource
    from .settings import Settings
    from .storage import open_storage
    from .storage.memory import MemoryStorage
    from .web.app import create_app
    from .web.embed import mount


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mintage' has no attribute {name!r}")
    with extra_needed("server", SERVER_MODULES):
        return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
