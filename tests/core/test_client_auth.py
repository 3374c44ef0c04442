"""Client authentication (RFC 6749 §2.3.1, §3.2.1; RFC 7591 §2 ``none``)."""

from __future__ import annotations

import base64

import pytest

from mintage.core.client_auth import ClientAuthenticator
from mintage.core.clock import FrozenClock
from mintage.core.errors import InvalidClientError, InvalidRequestError
from mintage.core.http import OAuthRequest
from mintage.core.server import AuthorizationServer
from mintage.storage.memory import MemoryStorage
from oauth_testkit import Registered, add_client, basic


def _request(headers: dict[str, str] | None = None) -> OAuthRequest:
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    return OAuthRequest("POST", "/oauth/token", headers=lowered)


@pytest.fixture
def auth(store: MemoryStorage, engine: AuthorizationServer) -> ClientAuthenticator:
    return ClientAuthenticator(store, engine.hasher)


@pytest.fixture
async def confidential(
    store: MemoryStorage, engine: AuthorizationServer, clock: FrozenClock
) -> Registered:
    return await add_client(store, engine, clock)


@pytest.fixture
async def public(
    store: MemoryStorage, engine: AuthorizationServer, clock: FrozenClock
) -> Registered:
    return await add_client(
        store, engine, clock, grant_types=("refresh_token", "password"), public=True
    )


async def test_basic(auth: ClientAuthenticator, confidential: Registered) -> None:
    got = await auth.authenticate(_request(confidential.basic), {})
    assert (got.client, got.method) == (confidential.client, "client_secret_basic")


async def test_basic_scheme_is_case_insensitive(
    auth: ClientAuthenticator, confidential: Registered
) -> None:
    header = confidential.basic["Authorization"].replace("Basic", "bAsIc")
    got = await auth.authenticate(_request({"Authorization": header}), {})
    assert got.method == "client_secret_basic"


async def test_basic_credentials_are_form_urlencoded(
    auth: ClientAuthenticator, store: MemoryStorage, engine: AuthorizationServer, clock: FrozenClock
) -> None:
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64
    reg = await add_client(store, engine, clock, client_id="svc:one two")
    assert reg.secret is not None
    raw = base64.b64encode(f"svc%3Aone+two:{reg.secret}".encode()).decode()
    got = await auth.authenticate(_request({"Authorization": f"Basic {raw}"}), {})
    assert got.client.client_id == "svc:one two"


async def test_basic_with_matching_body_client_id(
    auth: ClientAuthenticator, confidential: Registered
) -> None:
    params = {"client_id": confidential.client_id}
    got = await auth.authenticate(_request(confidential.basic), params)
    assert got.method == "client_secret_basic"


async def test_basic_with_other_body_client_id(
    auth: ClientAuthenticator, confidential: Registered
) -> None:
    with pytest.raises(InvalidClientError):
        await auth.authenticate(_request(confidential.basic), {"client_id": "someone-else"})


async def test_client_secret_post(auth: ClientAuthenticator, confidential: Registered) -> None:
    got = await auth.authenticate(_request(), confidential.post)
    assert (got.client, got.method) == (confidential.client, "client_secret_post")


async def test_two_methods_at_once_is_invalid_request(
    auth: ClientAuthenticator, confidential: Registered
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await auth.authenticate(_request(confidential.basic), confidential.post)
    assert not isinstance(info.value, InvalidClientError)


async def test_public_client_identifies_with_client_id(
    auth: ClientAuthenticator, public: Registered
) -> None:
    got = await auth.authenticate(_request(), {"client_id": public.client_id})
    assert (got.client, got.method) == (public.client, "none")


async def test_confidential_client_cannot_skip_its_secret(
    auth: ClientAuthenticator, confidential: Registered
) -> None:
    with pytest.raises(InvalidClientError):
        await auth.authenticate(_request(), {"client_id": confidential.client_id})


async def test_public_client_cannot_present_a_secret(
    auth: ClientAuthenticator, public: Registered
) -> None:
    with pytest.raises(InvalidClientError):
        await auth.authenticate(_request(), {"client_id": public.client_id, "client_secret": ""})
    with pytest.raises(InvalidClientError):
        await auth.authenticate(_request(basic(public.client_id, "x")), {})


@pytest.mark.parametrize(
    ("headers", "params", "via_basic"),
    [
        ({"Authorization": "Basic !!!notbase64"}, {}, True),
        ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, {}, True),
        ({"Authorization": "Basic " + base64.b64encode(b":secret").decode()}, {}, True),
        ({"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}, {}, True),
        ({"Authorization": "Basic ÿÿÿÿ"}, {}, True),
        ({"Authorization": "Basic "}, {}, True),
        ({"Authorization": "Bearer abc"}, {}, True),
        ({"Authorization": "Basic"}, {}, True),
        ({}, {}, True),
        ({}, {"client_id": ""}, True),
        ({}, {"client_id": "unknown"}, False),
        ({}, {"client_id": "unknown", "client_secret": "x"}, False),
    ],
)
async def test_failures_are_invalid_client(
    auth: ClientAuthenticator,
    headers: dict[str, str],
    params: dict[str, str],
    via_basic: bool,
) -> None:
    with pytest.raises(InvalidClientError) as info:
        await auth.authenticate(_request(headers), params)
    assert info.value.error == "invalid_client"
    assert info.value.status_code == 401


async def test_wrong_secret(auth: ClientAuthenticator, confidential: Registered) -> None:
    assert confidential.secret is not None
    wrong = confidential.secret[:-1] + ("A" if confidential.secret[-1] != "A" else "B")
    with pytest.raises(InvalidClientError):
        await auth.authenticate(_request(basic(confidential.client_id, wrong)), {})
    with pytest.raises(InvalidClientError):
        params = {"client_id": confidential.client_id, "client_secret": wrong}
        await auth.authenticate(_request(), params)


def test_presented(auth: ClientAuthenticator) -> None:
    assert not auth.presented(_request(), {"token": "x"})
    assert auth.presented(_request(), {"client_id": "x"})
    assert auth.presented(_request({"Authorization": "Basic x"}), {})
