"""An application's own grant (RFC 6749 §4.5) through the token endpoint:
``examples/custom_grant.py``'s ``DemoGrant`` served by ``create_app(grants=[...])``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import httpx
import pytest
from asgi_lifespan import LifespanManager

from mintage import GrantRegistry, GrantRequest, MemoryStorage
from mintage.core.clients import register_client
from mintage.core.credentials import SecretHasher
from mintage.core.grants.client_credentials import ClientCredentialsGrant
from oauth_testkit import PEPPER, MakeServer, bearer

EXAMPLE = Path(__file__).parents[2] / "examples" / "custom_grant.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("custom_grant_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look modules up by name
    spec.loader.exec_module(module)
    return module


example = load_example()
DEMO = example.DEMO_GRANT


async def test_the_metadata_lists_the_grant(make_server: MakeServer) -> None:
    server = await make_server(grants=[example.DemoGrant("demo-user")])
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        document = (await server.http.get(path)).json()
        assert DEMO in document["grant_types_supported"]
        assert "client_credentials" in document["grant_types_supported"]
    bare = await make_server()
    document = (await bare.http.get("/.well-known/oauth-authorization-server")).json()
    assert DEMO not in document["grant_types_supported"]


async def test_a_registered_client_gets_a_token_for_the_subject(make_server: MakeServer) -> None:
    server = await make_server(grants=[example.DemoGrant("demo-user")])
    client = await server.client(grant_types=[DEMO], scopes=["read", "write"])
    response = await server.token({"grant_type": DEMO, "scope": "read"}, client.basic)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read"
    assert "refresh_token" not in body
    api = await server.resource_server()
    introspected = await server.introspect(api, body["access_token"])
    assert introspected["active"] is True
    assert introspected["sub"] == "demo-user"
    assert introspected["client_id"] == client.client_id
    assert (await server.resource(body["access_token"])).status_code == 200


async def test_abuse_of_the_grant(make_server: MakeServer) -> None:
    server = await make_server(grants=[example.DemoGrant("demo-user")])
    # a client not registered with the grant (RFC 6749 §5.2 unauthorized_client)
    other = await server.client(grant_types=["client_credentials"])
    response = await server.token({"grant_type": DEMO}, other.basic)
    assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")
    # a public client: the grant allows none
    public = await server.client(grant_types=[DEMO], public=True)
    response = await server.token({"grant_type": DEMO, **public.post})
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert "www-authenticate" in response.headers
    # more scope than the client has
    client = await server.client(grant_types=[DEMO], scopes=["read"])
    response = await server.token({"grant_type": DEMO, "scope": "admin"}, client.basic)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")
    # a wrong secret never reaches the grant
    response = await server.token(
        {"grant_type": DEMO, "client_id": client.client_id, "client_secret": "wrong"}
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert not [t for t in server.tokens().values() if t.subject == "demo-user"]


class SpyGrant:
    """Records what reaches it."""

    grant_type: ClassVar[str] = "urn:example:spy"
    allows_public: ClassVar[bool] = False
    parameters: ClassVar[tuple[str, ...]] = ("assertion", "scope")

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: GrantRequest) -> dict[str, Any]:
        self.seen.append(dict(request.params))
        return {"access_token": "x", "token_type": "Bearer"}


async def test_the_grant_sees_only_the_parameters_it_declared(make_server: MakeServer) -> None:
    spy = SpyGrant()
    server = await make_server(grants=[spy])
    client = await server.client(grant_types=[SpyGrant.grant_type])
    response = await server.token(
        {
            "grant_type": SpyGrant.grant_type,
            "assertion": "a",
            "other": "b",
            **client.post,  # client_secret_post: the secret must not reach the grant
        }
    )
    assert response.status_code == 200, response.text
    assert spy.seen == [{"assertion": "a"}]


def test_the_registry_refuses_a_second_grant_of_a_type_and_bad_names() -> None:
    registry = GrantRegistry([ClientCredentialsGrant()])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ClientCredentialsGrant())

    class Bad(SpyGrant):
        grant_type: ClassVar[str] = "two words"

    with pytest.raises(ValueError, match=r"Appendix A\.10"):
        registry.register(Bad())
    assert registry.grant_types == ("client_credentials",)


def test_create_app_refuses_a_grant_replacing_a_built_in_one() -> None:
    from mintage import Settings, create_app

    with pytest.raises(ValueError, match="client_credentials"):
        create_app(
            Settings(database_url="memory://"),
            storage=MemoryStorage(),
            pepper=PEPPER,
            grants=[ClientCredentialsGrant()],
        )


async def test_clients_may_be_registered_with_an_extension_grant_uri() -> None:
    store, hasher = MemoryStorage(), SecretHasher(PEPPER)
    client, _ = await register_client(
        store, hasher, name="ext", grant_types=[DEMO, "client_credentials"], scopes=["read"]
    )
    assert client.grant_types == (DEMO, "client_credentials")
    with pytest.raises(ValueError, match="unknown grant type bogus"):
        await register_client(store, hasher, name="bad", grant_types=["bogus"], scopes=[])


async def test_the_example_runs_as_its_docstring_says(capsys: pytest.CaptureFixture[str]) -> None:
    app = example.build_app(port=8000)
    assert capsys.readouterr() == ("", "")  # no side effects before start-up
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        ) as http,
    ):
        curl = capsys.readouterr().out.strip()
        credentials = curl.split("-u '")[1].split("'")[0]
        client_id, secret = credentials.split(":")
        response = await http.post(
            "/oauth/token", data={"grant_type": DEMO}, auth=(client_id, secret)
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert (await http.get("/resource", headers=bearer(token))).status_code == 200
