"""Client registration: validation shared by the CLI and the library (RFC 6749 §2)."""

from __future__ import annotations

import pytest

from mintage.core.clients import register_client, rotate_secret, validate_redirect_uri
from mintage.core.clock import FrozenClock
from mintage.core.errors import InvalidScopeError
from mintage.core.models import Client
from mintage.core.server import AuthorizationServer
from mintage.storage.memory import MemoryStorage


async def test_confidential_client_gets_a_secret_shown_once(
    store: MemoryStorage, engine: AuthorizationServer, clock: FrozenClock
) -> None:
    client, secret = await register_client(
        store,
        engine.hasher,
        name=" svc ",
        grant_types=["client_credentials refresh_token", "client_credentials"],
        scopes=["read write", "read"],
        clock=clock,
    )
    assert secret is not None and secret.startswith("mint_cs_")
    assert client.name == "svc"
    assert client.grant_types == ("client_credentials", "refresh_token")
    assert client.scopes == ("read", "write")
    assert client.created_at == clock()
    assert client.secret_digest is not None and engine.hasher.verify(secret, client.secret_digest)
    assert secret not in repr(store.clients)
    assert await store.get_client(client.client_id) == client


async def test_public_client_has_no_secret(
    store: MemoryStorage, engine: AuthorizationServer
) -> None:
    client, secret = await register_client(
        store, engine.hasher, name="spa", grant_types=["refresh_token"], scopes=[], public=True
    )
    assert secret is None and client.is_public


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": " "}, "name"),
        ({"grant_types": []}, "at least one grant"),
        ({"grant_types": ["implicit"]}, "unknown grant type implicit"),
        ({"public": True}, "confidential"),
        ({"access_token_lifetime": 0}, "positive"),
        ({"refresh_token_lifetime": -1}, "positive"),
        ({"redirect_uris": ["http://example.com/cb"]}, "https"),
        ({"redirect_uris": ["https://example.com/cb#frag"]}, "fragment"),
        ({"redirect_uris": ["/relative"]}, "absolute"),
        ({"grant_types": ["authorization_code"]}, "at least one redirect URI"),
        (
            {
                "grant_types": ["authorization_code"],
                "redirect_uris": ["https://a.example/cb"],
                "public": True,
                "require_pkce": False,
            },
            "public client always requires PKCE",
        ),
    ],
)
async def test_registration_refuses_bad_input(
    store: MemoryStorage, engine: AuthorizationServer, kwargs: dict[str, object], message: str
) -> None:
    options: dict[str, object] = {
        "name": "svc",
        "grant_types": ["client_credentials"],
        "scopes": ["read"],
    }
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        await register_client(store, engine.hasher, **options)  # type: ignore[arg-type]
    assert store.clients == {}


async def test_registration_refuses_bad_scopes(
    store: MemoryStorage, engine: AuthorizationServer
) -> None:
    with pytest.raises(InvalidScopeError):
        await register_client(
            store, engine.hasher, name="svc", grant_types=["client_credentials"], scopes=['a"b']
        )
    assert store.clients == {}


async def test_duplicate_client_id_is_refused(
    store: MemoryStorage, engine: AuthorizationServer
) -> None:
    options = {"name": "svc", "grant_types": ["client_credentials"], "scopes": ["read"]}
    first, _ = await register_client(store, engine.hasher, client_id="fixed", **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already exists"):
        await register_client(store, engine.hasher, client_id="fixed", **options)  # type: ignore[arg-type]
    assert store.clients == {"fixed": first}


async def test_rotate_secret_invalidates_the_old_one(
    store: MemoryStorage, engine: AuthorizationServer
) -> None:
    client, old = await register_client(
        store, engine.hasher, name="svc", grant_types=["client_credentials"], scopes=[]
    )
    assert old is not None
    rotated, new = await rotate_secret(store, engine.hasher, client.client_id)
    assert rotated.secret_digest is not None
    assert engine.hasher.verify(new, rotated.secret_digest)
    assert not engine.hasher.verify(old, rotated.secret_digest)
    with pytest.raises(LookupError):
        await rotate_secret(store, engine.hasher, "nobody")


def test_loopback_redirect_uris_may_use_http() -> None:
    for uri in ("http://localhost:8080/cb", "http://127.0.0.1/cb", "com.example.app:/cb"):
        assert validate_redirect_uri(uri) == uri


async def test_authorization_code_client_requires_pkce_unless_relaxed(
    store: MemoryStorage, engine: AuthorizationServer
) -> None:
    async def register(**kwargs: bool) -> Client:
        client, _ = await register_client(
            store,
            engine.hasher,
            name="web",
            grant_types=["authorization_code"],
            scopes=[],
            redirect_uris=["https://a.example/cb"],
            **kwargs,
        )
        return client

    assert (await register()).require_pkce
    assert (await register(public=True)).require_pkce
    relaxed = await register(require_pkce=False)
    assert not relaxed.require_pkce
    assert await store.get_client(relaxed.client_id) == relaxed
