"""A store per concern (``create_app(stores=Stores(...))``), checked at start-up.

The server needs only the stores its enabled features use (core/stores.py FEATURES);
one missing stops the start-up with a message naming the protocol, what the object
lacks, and the feature with its setting.  Nothing falls back to memory.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from mintage import MemoryStorage, Settings, Stores, create_app, register_client
from mintage.core.clock import FrozenClock
from mintage.core.errors import StoreConfigurationError
from mintage.core.models import Client
from mintage.core.server import AuthorizationServer, ServerConfig
from mintage.core.stores import FEATURES, PROTOCOLS, protocol_methods
from oauth_testkit import BASE_URL, PEPPER


def settings(**overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "database_url": "memory://",
        "purge_interval": 0,
        "rate_limits_enabled": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return Settings(**(options | overrides))


class ClientsOnly:
    """A store of clients alone, as a custom one might be."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}

    async def get_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    async def save_client(self, client: Client) -> None:
        self.clients[client.client_id] = client

    async def delete_client(self, client_id: str) -> bool:
        return self.clients.pop(client_id, None) is not None

    async def list_clients(self) -> list[Client]:
        return list(self.clients.values())


def test_every_concern_is_in_the_feature_table() -> None:
    used = {c for f in FEATURES for c in f.concerns}
    assert used == set(PROTOCOLS)


def test_a_missing_store_is_named_with_its_feature_and_setting() -> None:
    with pytest.raises(StoreConfigurationError) as raised:
        create_app(settings(), stores=Stores(clients=ClientsOnly()), pepper=PEPPER)
    message = str(raised.value)
    assert "TokenStore (no store given (Stores.tokens)) for token, revocation" in message
    assert "AuthorizationCodeStore (no store given (Stores.codes))" in message
    assert "turned on by pages_enabled" in message
    assert "AuditStore (no store given (Stores.audit)) for audit events" in message
    assert "turned on by audit_enabled" in message


def test_an_object_lacking_methods_is_named_with_them() -> None:
    """Given as the token store, a client store lacks every TokenStore method."""
    clients = ClientsOnly()
    memory = MemoryStorage()
    stores = Stores(clients=clients, tokens=clients)  # type: ignore[arg-type]
    with pytest.raises(StoreConfigurationError) as raised:
        create_app(settings(), stores=stores, storage=memory, pepper=PEPPER)
    missing = ", ".join(protocol_methods(PROTOCOLS["tokens"]))
    assert f"TokenStore (ClientsOnly lacks {missing}) for token" in str(raised.value)
    assert "save_token" in missing and "purge_expired" in missing


def test_signing_keys_missing_for_jwt_access_tokens_stop_the_start() -> None:
    memory = MemoryStorage()
    config = ServerConfig(
        issuer="https://as.example",
        pages_enabled=False,
        password_grant_enabled=False,
        userinfo_enabled=False,
        audit_enabled=False,
        access_token_format="jwt",
    )
    with pytest.raises(StoreConfigurationError, match=r"KeyStore .* turned on by access_token"):
        AuthorizationServer(config, Stores(clients=memory, tokens=memory), PEPPER)


def test_a_client_credentials_server_needs_clients_and_tokens_only() -> None:
    memory = MemoryStorage()
    config = ServerConfig(
        issuer="https://as.example",
        pages_enabled=False,
        password_grant_enabled=False,
        userinfo_enabled=False,
        audit_enabled=False,
    )
    server = AuthorizationServer(config, Stores(clients=memory, tokens=memory), PEPPER)
    assert set(server.token.grants) == {"client_credentials", "refresh_token"}


def test_custom_stores_need_the_server_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``mintage.db.key`` is invented in the current directory for a custom store."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="pass pepper="):
        create_app(settings(database_url="sqlite:///mintage.db"), storage=MemoryStorage())
    with pytest.raises(ValueError, match="pass pepper="):
        create_app(settings(), stores=Stores.of(MemoryStorage()))
    assert list(tmp_path.iterdir()) == []
    secret = "s" * 40
    create_app(settings(secret_key=secret), storage=MemoryStorage())


class Recorded(MemoryStorage):
    """Counts the lifecycle calls the app makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.up = True

    async def open(self) -> None:
        self.calls.append("open")

    async def close(self) -> None:
        self.calls.append("close")

    async def ping(self) -> bool:
        return self.up


async def test_split_stores_each_keep_their_concern_and_share_the_lifecycle() -> None:
    clients, tokens, rest = ClientsOnly(), Recorded(), Recorded()
    app = create_app(
        settings(),
        stores=Stores(clients=clients, tokens=tokens),
        storage=rest,
        pepper=PEPPER,
        clock=FrozenClock(),
    )
    client, secret = await register_client(
        clients, PEPPER, name="split", grant_types=["client_credentials"], scopes=["read"]
    )
    assert secret is not None
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        assert tokens.calls == ["open"] and rest.calls == ["open"]
        answer = await http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client.client_id,
                "client_secret": secret,
            },
        )
        assert answer.status_code == 200, answer.text
        assert len(tokens.tokens) == 1 and not rest.tokens  # kept by the token store only
        assert not rest.clients  # and the client by the client store
        resource = await http.get(
            "/resource", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
        )
        assert resource.status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        tokens.up = False  # one store down: not ready
        assert (await http.get("/readyz")).status_code == 503
    assert tokens.calls == ["open", "close"] and rest.calls == ["open", "close"]
