"""The authorization endpoint's engine (RFC 6749 §4.1.1–4.1.2.1, RFC 7636 §4.3–4.4,
RFC 9207, OAuth 2.1 §4.1): validate, approve, deny.

Errors about the client or its redirect URI are never redirected; every other error
goes back to the verified redirect URI with ``state`` and ``iss``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mintage.core.clock import FrozenClock
from mintage.core.credentials import AUTHORIZATION_CODE_PREFIX, token_digest, well_formed
from mintage.core.endpoints.authorize import (
    CODE_LIFETIME,
    AuthorizationRequest,
    AuthorizeEndpoint,
    NonRedirectableError,
    RedirectError,
    authorization_params,
)
from mintage.core.http import OAuthRequest
from mintage.core.models import Client
from mintage.core.pkce import s256
from mintage.core.server import AuthorizationServer, ServerConfig
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PEPPER, Registered, add_client

ISSUER = "https://as.example"
CB = "https://app.example/cb"
VERIFIER = "v" * 43
CHALLENGE = s256(VERIFIER)


def endpoint(engine: AuthorizationServer) -> AuthorizeEndpoint:
    assert engine.authorize is not None
    return engine.authorize


async def code_client(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock, **kwargs: Any
) -> Registered:
    options: dict[str, Any] = {
        "grant_types": ("authorization_code", "refresh_token"),
        "scopes": ("read", "write"),
        "redirect_uris": (CB,),
        "public": True,
    }
    options.update(kwargs)
    return await add_client(store, engine, clock, **options)


def request_params(reg: Registered, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": CB,
        "scope": "read",
        "state": "xyz",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
async def public(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> Registered:
    return await code_client(engine, store, clock)


async def redirected(engine: AuthorizationServer, params: dict[str, str]) -> RedirectError:
    with pytest.raises(RedirectError) as info:
        await endpoint(engine).validate(params)
    return info.value


# a valid request


async def test_valid_request(engine: AuthorizationServer, public: Registered) -> None:
    params = request_params(public, nonce="n-1")
    request = await endpoint(engine).validate(params)
    assert request == AuthorizationRequest(
        client=public.client,
        redirect_uri=CB,
        scopes=("read",),
        state="xyz",
        code_challenge=CHALLENGE,
        code_challenge_method="S256",
        nonce="n-1",
        params=params,
    )
    assert request.params is not params  # a copy: the caller's dict may change


async def test_defaults_scope_and_redirect_uri(
    engine: AuthorizationServer, public: Registered
) -> None:
    request = await endpoint(engine).validate(
        request_params(public, scope=None, redirect_uri=None, state=None)
    )
    assert request.scopes == ("read", "write")  # everything the client may ask for
    assert request.redirect_uri == CB  # the only registered one
    assert request.state is None
    assert not request.redirect_uri_given


async def test_openid_request_must_name_its_redirect_uri(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> None:
    """OpenID Connect Core §3.1.2.1: REQUIRED, though RFC 6749 lets OAuth omit it."""
    rp = await code_client(engine, store, clock, scopes=("openid", "read"))
    with pytest.raises(RedirectError) as raised:
        await endpoint(engine).validate(request_params(rp, scope="openid", redirect_uri=None))
    back = query(raised.value.location)
    assert raised.value.location.startswith(CB + "?")  # the one registered URI
    assert (back["error"], back["state"], back["iss"]) == ("invalid_request", "xyz", ISSUER)
    # a plain OAuth request of the same client still may omit it
    request = await endpoint(engine).validate(request_params(rp, redirect_uri=None))
    assert request.redirect_uri == CB and not request.redirect_uri_given
    # and an OpenID Connect request that names it is fine
    request = await endpoint(engine).validate(request_params(rp, scope="openid"))
    assert request.scopes == ("openid",)


async def test_empty_values_count_as_omitted(
    engine: AuthorizationServer, public: Registered
) -> None:
    # RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were
    # omitted"
    request = await endpoint(engine).validate(request_params(public, scope="", state=""))
    assert request.scopes == ("read", "write")
    assert request.state is None


# approve: the code and the success redirect (§4.1.2, RFC 9207)


async def test_approve_stores_a_bound_single_use_code(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock, public: Registered
) -> None:
    request = await endpoint(engine).validate(request_params(public, nonce="n-1"))
    location = await endpoint(engine).approve(request, "user-1", auth_time=clock.now - 5)
    assert location.startswith(CB + "?")
    got = query(location)
    assert set(got) == {"code", "state", "iss"}
    assert (got["state"], got["iss"]) == ("xyz", ISSUER)
    code = got["code"]
    assert well_formed(code, AUTHORIZATION_CODE_PREFIX)
    assert code not in store.codes  # only the digest is stored
    stored = store.codes[token_digest(code)]
    assert stored.client_id == public.client_id
    assert stored.redirect_uri == CB
    assert stored.scope == "read"
    assert stored.subject == "user-1"
    assert stored.auth_time == clock.now - 5
    assert stored.expires_at - stored.issued_at == CODE_LIFETIME == 60
    assert (stored.code_challenge, stored.code_challenge_method) == (CHALLENGE, "S256")
    assert stored.nonce == "n-1"
    assert stored.consumed_at is None


async def test_each_approval_is_a_new_code_and_family(
    engine: AuthorizationServer, store: MemoryStorage, public: Registered
) -> None:
    request = await endpoint(engine).validate(request_params(public))
    first = query(await endpoint(engine).approve(request, "u", 0))["code"]
    second = query(await endpoint(engine).approve(request, "u", 0))["code"]
    assert first != second
    families = {c.family_id for c in store.codes.values()}
    assert len(families) == 2


async def test_omitted_redirect_uri_is_recorded_as_omitted(
    engine: AuthorizationServer, store: MemoryStorage, public: Registered
) -> None:
    request = await endpoint(engine).validate(request_params(public, redirect_uri=None))
    location = await endpoint(engine).approve(request, "u", 0)
    assert location.startswith(CB + "?")
    assert store.codes[token_digest(query(location)["code"])].redirect_uri == ""


async def test_registered_query_is_kept_and_state_encoded(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> None:
    uri = "https://app.example/cb?tenant=a%20b"
    reg = await code_client(engine, store, clock, redirect_uris=(uri,))
    state = "s p&a=c/é"
    request = await endpoint(engine).validate(request_params(reg, redirect_uri=uri, state=state))
    location = await endpoint(engine).approve(request, "u", 0)
    assert location.startswith(uri + "&code=")
    got = query(location)
    assert got["tenant"] == "a b"
    assert got["state"] == state


async def test_deny_redirects_access_denied_with_state_and_iss(
    engine: AuthorizationServer, store: MemoryStorage, public: Registered
) -> None:
    request = await endpoint(engine).validate(request_params(public))
    location = endpoint(engine).deny(request)
    assert location.startswith(CB + "?")
    got = query(location)
    assert got["error"] == "access_denied"
    assert (got["state"], got["iss"]) == ("xyz", ISSUER)
    assert "error_description" in got
    assert store.codes == {}


# errors never redirected (§4.1.2.1)


async def test_client_id_missing_or_unknown(
    engine: AuthorizationServer, public: Registered
) -> None:
    for params in (
        request_params(public, client_id=None),
        request_params(public, client_id=""),
        request_params(public, client_id="nobody"),
    ):
        with pytest.raises(NonRedirectableError) as info:
            await endpoint(engine).validate(params)
        assert info.value.error == "invalid_request"
        assert info.value.description


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/cb",
        CB + "/",
        CB + "?x=1",
        CB + "#f",
        "http://app.example/cb",
        "not a uri",
    ],
)
async def test_unregistered_redirect_uri_is_not_redirected(
    engine: AuthorizationServer, public: Registered, redirect_uri: str
) -> None:
    with pytest.raises(NonRedirectableError, match="not registered"):
        await endpoint(engine).validate(request_params(public, redirect_uri=redirect_uri))


async def test_redirect_uri_required_with_several_registered(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> None:
    reg = await code_client(engine, store, clock, redirect_uris=(CB, "https://app.example/2"))
    with pytest.raises(NonRedirectableError, match="missing parameter redirect_uri"):
        await endpoint(engine).validate(request_params(reg, redirect_uri=None))
    request = await endpoint(engine).validate(
        request_params(reg, redirect_uri="https://app.example/2")
    )
    assert request.redirect_uri == "https://app.example/2"


async def test_client_without_redirect_uris_is_not_redirected(
    engine: AuthorizationServer, store: MemoryStorage
) -> None:
    bare = Client("bare", "bare", ("authorization_code",), ("read",))
    await store.save_client(bare)
    for uri in (None, CB):
        params = {"response_type": "code", "client_id": "bare", "code_challenge": CHALLENGE}
        if uri:
            params["redirect_uri"] = uri
        with pytest.raises(NonRedirectableError):
            await endpoint(engine).validate(params)


@pytest.mark.parametrize(
    "redirect_uri", ["javascript:alert(document.domain)//", "JavaScript:x", "data:text/html,x"]
)
async def test_a_stored_dangerous_redirect_uri_is_never_redirected_to(
    engine: AuthorizationServer, store: MemoryStorage, redirect_uri: str
) -> None:
    # Stored as a store of one's own, or registration before it refused these, would.
    await store.save_client(
        Client("old", "old", ("authorization_code",), ("read",), redirect_uris=(redirect_uri,))
    )
    params = {
        "response_type": "code",
        "client_id": "old",
        "redirect_uri": redirect_uri,
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    with pytest.raises(NonRedirectableError, match="never a redirect target"):
        await endpoint(engine).validate(params)


async def test_errors_before_the_redirect_uri_is_trusted_are_not_redirected(
    engine: AuthorizationServer, public: Registered
) -> None:
    # a bad response_type and a bad redirect URI: the redirect URI wins, no redirect
    with pytest.raises(NonRedirectableError):
        await endpoint(engine).validate(
            request_params(public, response_type="token", redirect_uri="https://evil.example/")
        )


def test_repeated_parameters_are_not_redirected() -> None:
    get = OAuthRequest("GET", "/oauth/authorize", query={"client_id": ["a"], "state": ["1", "2"]})
    with pytest.raises(NonRedirectableError, match="repeated"):
        authorization_params(get)
    post = OAuthRequest("POST", "/oauth/authorize", body=b"client_id=a&client_id=b")
    with pytest.raises(NonRedirectableError, match="repeated"):
        authorization_params(post)
    with pytest.raises(NonRedirectableError):
        authorization_params(OAuthRequest("POST", "/oauth/authorize", body=b"\xff=1"))


def test_params_from_query_or_form() -> None:
    get = OAuthRequest("GET", "/oauth/authorize", query={"client_id": ["a"], "state": [""]})
    assert authorization_params(get) == {"client_id": "a", "state": ""}
    post = OAuthRequest("POST", "/oauth/authorize", body=b"client_id=a&scope=read+write")
    assert authorization_params(post) == {"client_id": "a", "scope": "read write"}


# errors redirected to the client, with state and iss


@pytest.mark.parametrize(
    ("overrides", "error", "fragment"),
    [
        ({"response_type": None}, "invalid_request", "response_type"),
        ({"response_type": "token"}, "unsupported_response_type", "code"),
        ({"response_type": "code id_token"}, "unsupported_response_type", "code"),
        ({"response_type": "CODE"}, "unsupported_response_type", "code"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request", "PKCE"),
        ({"code_challenge": None}, "invalid_request", "code_challenge"),
        ({"code_challenge_method": "plain"}, "invalid_request", "S256"),
        ({"code_challenge_method": None}, "invalid_request", "S256"),  # means plain
        ({"code_challenge_method": "S512"}, "invalid_request", "S256"),
        ({"code_challenge": "short"}, "invalid_request", "43"),
        ({"scope": "admin"}, "invalid_scope", "admin"),
        ({"scope": "read  write"}, "invalid_scope", "spaces"),
    ],
)
async def test_redirected_errors(
    engine: AuthorizationServer,
    store: MemoryStorage,
    public: Registered,
    overrides: dict[str, str | None],
    error: str,
    fragment: str,
) -> None:
    exc = await redirected(engine, request_params(public, **overrides))
    assert exc.error.error == error
    assert exc.location.startswith(CB + "?")
    got = query(exc.location)
    assert got["error"] == error
    assert fragment in got["error_description"]
    assert (got["state"], got["iss"]) == ("xyz", ISSUER)
    assert "code" not in got
    assert store.codes == {}


async def test_redirected_error_without_state_has_none(
    engine: AuthorizationServer, public: Registered
) -> None:
    exc = await redirected(engine, request_params(public, response_type="token", state=None))
    assert "state" not in query(exc.location)
    assert query(exc.location)["iss"] == ISSUER


async def test_client_without_the_grant_is_unauthorized(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> None:
    reg = await code_client(engine, store, clock, grant_types=("password",))
    exc = await redirected(engine, request_params(reg))
    assert query(exc.location)["error"] == "unauthorized_client"


async def test_redirected_to_the_loopback_port_asked_for(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> None:
    reg = await code_client(engine, store, clock, redirect_uris=("http://127.0.0.1/cb",))
    exc = await redirected(
        engine, request_params(reg, redirect_uri="http://127.0.0.1:4711/cb", scope="admin")
    )
    assert exc.location.startswith("http://127.0.0.1:4711/cb?error=invalid_scope")
    request = await endpoint(engine).validate(
        request_params(reg, redirect_uri="http://127.0.0.1:4711/cb")
    )
    assert request.redirect_uri == "http://127.0.0.1:4711/cb"
    location = await endpoint(engine).approve(request, "u", 0)
    assert location.startswith("http://127.0.0.1:4711/cb?code=")


# PKCE policy by client type (RFC 9700 §2.1.1)


async def test_confidential_clients_need_pkce_by_default(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> None:
    reg = await code_client(engine, store, clock, public=False)
    exc = await redirected(engine, request_params(reg, code_challenge=None))
    assert query(exc.location)["error"] == "invalid_request"


async def test_confidential_client_may_be_relaxed(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock
) -> None:
    reg = await code_client(engine, store, clock, public=False, require_pkce=False)
    request = await endpoint(engine).validate(
        request_params(reg, code_challenge=None, code_challenge_method=None)
    )
    assert (request.code_challenge, request.code_challenge_method) == (None, None)
    # ... but a challenge it does send is still checked and kept
    request = await endpoint(engine).validate(request_params(reg))
    assert request.code_challenge == CHALLENGE


async def test_a_public_client_is_never_relaxed(
    engine: AuthorizationServer, store: MemoryStorage
) -> None:
    # even if a hand-edited store says so
    odd = Client("odd", "odd", ("authorization_code",), ("read",), (CB,), require_pkce=False)
    await store.save_client(odd)
    exc = await redirected(engine, {"response_type": "code", "client_id": "odd"})
    assert query(exc.location)["error"] == "invalid_request"


async def test_plain_pkce_when_the_server_allows_it(
    store: MemoryStorage, clock: FrozenClock
) -> None:
    engine = AuthorizationServer(
        ServerConfig(issuer=ISSUER, allow_plain_pkce=True), store, PEPPER, clock
    )
    reg = await code_client(engine, store, clock)
    for method in ("plain", None):
        request = await endpoint(engine).validate(
            request_params(reg, code_challenge=VERIFIER, code_challenge_method=method)
        )
        assert (request.code_challenge, request.code_challenge_method) == (VERIFIER, "plain")
