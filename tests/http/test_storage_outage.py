"""A store that fails: 503 for an outage, 500 for a bug, and never a wrong verdict.

docs/architecture.md §2: an outage must not answer ``invalid_grant``, ``invalid_token``,
``invalid_client`` or ``active: false``: clients would throw away credentials that are still good.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from mintage.core.errors import StorageUnavailableError
from mintage.core.models import Client, Token, User
from mintage.storage.memory import MemoryStorage
from oauth_testkit import MakeServer, Server

SECRET_DETAIL = "connection to db.internal:5432 refused for user=admin password=hunter2"


class FlakyStorage(MemoryStorage):
    """A memory store whose methods raise ``failure`` while it is set.

    ``only`` narrows the failure to some methods, to fail half-way through a request.
    """

    def __init__(self) -> None:
        super().__init__()
        self.failure: Exception | None = None
        self.only: set[str] | None = None

    def _check(self, method: str) -> None:
        if self.failure is not None and (self.only is None or method in self.only):
            raise self.failure

    async def ping(self) -> bool:
        self._check("ping")
        return await super().ping()

    async def get_client(self, client_id: str) -> Client | None:
        self._check("get_client")
        return await super().get_client(client_id)

    async def save_token(self, token: Token) -> None:
        self._check("save_token")
        await super().save_token(token)

    async def get_token(self, digest: str) -> Token | None:
        self._check("get_token")
        return await super().get_token(digest)

    async def consume_token(self, digest: str, now: int) -> Token | None:
        self._check("consume_token")
        return await super().consume_token(digest, now)

    async def revoke_token(self, digest: str, now: int) -> bool:
        self._check("revoke_token")
        return await super().revoke_token(digest, now)

    async def revoke_family(self, family_id: str, now: int) -> int:
        self._check("revoke_family")
        return await super().revoke_family(family_id, now)

    async def get_user_by_username(self, username: str) -> User | None:
        self._check("get_user_by_username")
        return await super().get_user_by_username(username)


class Outage:
    def __init__(self, server: Server, store: FlakyStorage) -> None:
        self.server = server
        self.store = store

    async def setup(self) -> None:
        await self.server.user()
        self.rs = await self.server.resource_server()
        self.app = await self.server.client(
            grant_types=("client_credentials", "password", "refresh_token"), scopes=("read",)
        )
        self.issued = await self.server.password_grant(self.app)

    def requests(self) -> dict[str, Any]:
        """One request per endpoint that touches the store, each valid when the store is up."""
        http = self.server.http
        return {
            "client_credentials": lambda: http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, headers=self.app.basic
            ),
            "password": lambda: http.post(
                "/oauth/token",
                data={
                    "grant_type": "password",
                    "username": "alice",
                    "password": "correct horse battery staple",
                },
                headers=self.app.basic,
            ),
            "refresh": lambda: http.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": self.issued["refresh_token"]},
                headers=self.app.basic,
            ),
            "introspect": lambda: http.post(
                "/oauth/introspect",
                data={"token": self.issued["access_token"]},
                headers=self.rs.basic,
            ),
            "revoke": lambda: http.post(
                "/oauth/revoke",
                data={"token": self.issued["access_token"]},
                headers=self.app.basic,
            ),
            "resource": lambda: http.get(
                "/resource", headers={"Authorization": f"Bearer {self.issued['access_token']}"}
            ),
        }


@pytest.fixture
async def outage(make_server: MakeServer) -> Outage:
    store = FlakyStorage()
    o = Outage(await make_server(storage=store), store)
    await o.setup()
    return o


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response.headers["retry-after"]) > 0
    assert "www-authenticate" not in response.headers


ENDPOINTS = ["client_credentials", "password", "refresh", "introspect", "revoke", "resource"]


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_outage_answers_503_everywhere(outage: Outage, name: str) -> None:
    outage.store.failure = StorageUnavailableError("down")
    assert_unavailable(await outage.requests()[name]())
    # and once the store is back, the same credentials still work
    outage.store.failure = None
    response = await outage.requests()[name]()
    assert response.status_code == 200, response.text
    if name == "introspect":
        assert response.json()["active"] is True


@pytest.mark.parametrize(
    ("name", "failing"),
    [
        ("refresh", {"get_token"}),
        ("refresh", {"consume_token"}),
        ("refresh", {"save_token"}),
        ("password", {"get_user_by_username"}),
        ("client_credentials", {"save_token"}),
        ("introspect", {"get_token"}),
        ("revoke", {"revoke_token"}),
        ("resource", {"get_token"}),
    ],
)
async def test_outage_half_way_through_a_request(
    outage: Outage, name: str, failing: set[str]
) -> None:
    """Client authentication succeeded; a later call fails: still 503, not a verdict."""
    outage.store.failure = StorageUnavailableError("down")
    outage.store.only = failing
    assert_unavailable(await outage.requests()[name]())


@pytest.mark.parametrize("failing", ["get_token", "consume_token", "save_token"])
async def test_an_outage_during_refresh_does_not_burn_the_family(
    outage: Outage, failing: str
) -> None:
    """The client retries with the same refresh token after a 503 and succeeds.

    Were the old token consumed before its successor was stored, a failed write would
    leave it spent: the retry would look like reuse and revoke the family, so an outage
    would cost the user their grant.
    """
    outage.store.failure = StorageUnavailableError("down")
    outage.store.only = {failing}
    assert_unavailable(await outage.requests()["refresh"]())
    outage.store.failure = None
    response = await outage.requests()["refresh"]()
    assert response.status_code == 200, response.text
    assert (await outage.server.resource(response.json()["access_token"])).status_code == 200
    assert (await outage.server.resource(outage.issued["access_token"])).status_code == 200


async def test_readiness_reports_the_outage(outage: Outage) -> None:
    outage.store.failure = StorageUnavailableError("down")
    response = await outage.server.http.get("/readyz")
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
    assert (await outage.server.http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_unexpected_errors_are_a_bare_server_error(
    outage: Outage, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    outage.store.failure = RuntimeError(SECRET_DETAIL)
    before = outage.server.tokens()
    with caplog.at_level(logging.ERROR, logger="mintage"):
        response = await outage.requests()[name]()
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert b"hunter2" not in response.content
    assert "hunter2" not in str(response.headers)
    assert outage.server.tokens() == before
    # the detail goes to the log instead
    assert any(r.exc_info and SECRET_DETAIL in str(r.exc_info[1]) for r in caplog.records)
