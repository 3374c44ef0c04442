"""The authorization decision (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1–§3.1.2.6,
RFC 8252 §8.6): sign-in, consent, a code or an error redirect, decided in the engine."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mintage.core.authorize_decision import (
    AuthorizationDecider,
    ConsentRequired,
    ErrorRedirect,
    IssueCode,
    SignedIn,
    SignInRequired,
)
from mintage.core.clock import FrozenClock
from mintage.core.endpoints.authorize import AuthorizationRequest
from mintage.core.pkce import s256
from mintage.core.server import AuthorizationServer
from mintage.storage.memory import MemoryStorage
from oauth_testkit import Registered, add_client

WEB = "https://app.example/cb"
LOOPBACK = "http://127.0.0.1:4711/cb"
CHALLENGE = s256("v" * 43)


@pytest.fixture
def decider(engine: AuthorizationServer) -> AuthorizationDecider:
    return engine.decider


async def client(
    engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock, **kwargs: Any
) -> Registered:
    options: dict[str, Any] = {
        "grant_types": ("authorization_code",),
        "scopes": ("read", "write"),
        "redirect_uris": (WEB, LOOPBACK),
    }
    options.update(kwargs)
    return await add_client(store, engine, clock, **options)


@pytest.fixture
async def web(engine: AuthorizationServer, store: MemoryStorage, clock: FrozenClock) -> Registered:
    return await client(engine, store, clock, public=True)


async def request(
    engine: AuthorizationServer, reg: Registered, redirect_uri: str = WEB, **params: str
) -> AuthorizationRequest:
    base = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": redirect_uri,
        "scope": "read",
        "state": "st",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    return await engine.authorize.validate({**base, **params})


def error_of(decision: object) -> str:
    assert isinstance(decision, ErrorRedirect), decision
    query = parse_qs(urlsplit(decision.location).query)
    assert query["state"] == ["st"] and query["error"] == [decision.error.error]
    return decision.error.error


async def test_no_session_needs_a_sign_in_and_prompt_none_refuses(
    engine: AuthorizationServer, decider: AuthorizationDecider, web: Registered
) -> None:
    assert await decider.decide(await request(engine, web), None, None) == SignInRequired(
        "no_session"
    )
    silent = await request(engine, web, prompt="none")
    assert error_of(await decider.decide(silent, None, None)) == "login_required"


async def test_consent_then_remembered_then_code(
    engine: AuthorizationServer,
    decider: AuthorizationDecider,
    web: Registered,
    clock: FrozenClock,
    store: MemoryStorage,
) -> None:
    alice = SignedIn("alice", clock())
    pending = await request(engine, web)
    assert await decider.decide(pending, alice, None) == ConsentRequired(
        ("read",), "none_remembered"
    )
    issued = await decider.answer(pending, alice, None, approved=True)
    assert isinstance(issued, IssueCode)
    assert "code" in parse_qs(urlsplit(issued.location).query)
    assert len(store.codes) == 1
    # remembered now: the next request is answered at once, without a page
    assert isinstance(await decider.decide(pending, alice, None), IssueCode)
    # a scope beyond the approved ones asks again, naming what was approved
    wider = await request(engine, web, scope="read write")
    assert await decider.decide(wider, alice, None) == ConsentRequired(
        ("read", "write"), "new_scopes", ("read",)
    )
    assert (
        error_of(
            await decider.decide(
                await request(engine, web, scope="read write", prompt="none"), alice, None
            )
        )
        == "consent_required"
    )
    forced = await request(engine, web, prompt="consent")
    assert await decider.decide(forced, alice, None) == ConsentRequired(
        ("read",), "prompt", ("read",)
    )


async def test_deny_is_access_denied_and_remembers_nothing(
    engine: AuthorizationServer,
    decider: AuthorizationDecider,
    web: Registered,
    clock: FrozenClock,
    store: MemoryStorage,
) -> None:
    alice = SignedIn("alice", clock())
    pending = await request(engine, web)
    assert error_of(await decider.answer(pending, alice, None, approved=False)) == "access_denied"
    assert store.consents == {} and store.codes == {}


async def test_a_public_native_client_is_asked_every_time(
    engine: AuthorizationServer,
    decider: AuthorizationDecider,
    web: Registered,
    clock: FrozenClock,
) -> None:
    """RFC 8252 §8.6: a loopback redirect proves no identity; https does."""
    alice = SignedIn("alice", clock())
    native = await request(engine, web, LOOPBACK)
    assert isinstance(await decider.answer(native, alice, None, approved=True), IssueCode)
    assert await decider.decide(native, alice, None) == ConsentRequired(
        ("read",), "unproven_client", ("read",)
    )
    assert isinstance(await decider.decide(await request(engine, web), alice, None), IssueCode)


async def test_a_confidential_client_on_loopback_keeps_its_consent(
    engine: AuthorizationServer,
    decider: AuthorizationDecider,
    store: MemoryStorage,
    clock: FrozenClock,
) -> None:
    confidential = await client(engine, store, clock)
    alice = SignedIn("alice", clock())
    pending = await request(engine, confidential, LOOPBACK)
    await decider.answer(pending, alice, None, approved=True)
    assert isinstance(await decider.decide(pending, alice, None), IssueCode)


async def test_prompt_login_needs_a_sign_in_after_it_asked(
    engine: AuthorizationServer,
    decider: AuthorizationDecider,
    web: Registered,
    clock: FrozenClock,
) -> None:
    signed_in_earlier = SignedIn("alice", clock())
    clock.advance(10)
    for params in ({"prompt": "login"}, {"max_age": "0"}):
        pending = await request(engine, web, **params)
        # not stamped yet: sign in, and carry the moment from now
        assert await decider.decide(pending, signed_in_earlier, None) == SignInRequired(
            "login_demanded", stamp=True
        )
        asked_at = clock()
        assert await decider.decide(pending, signed_in_earlier, asked_at) == SignInRequired(
            "login_demanded"
        )
        fresh = SignedIn("alice", asked_at)
        assert isinstance(await decider.decide(pending, fresh, asked_at), ConsentRequired)
        # the stamp is needed even for a signed-out browser's sign-in
        assert await decider.decide(pending, None, None) == SignInRequired("no_session", stamp=True)


async def test_max_age_bounds_the_sign_in_at_every_step(
    engine: AuthorizationServer,
    decider: AuthorizationDecider,
    web: Registered,
    clock: FrozenClock,
    store: MemoryStorage,
) -> None:
    alice = SignedIn("alice", clock())
    pending = await request(engine, web, max_age="60")
    assert isinstance(await decider.decide(pending, alice, None), ConsentRequired)
    clock.advance(61)  # the consent page stayed open too long
    assert await decider.answer(pending, alice, None, approved=True) == SignInRequired("max_age")
    assert store.codes == {} and store.consents == {}
    assert await decider.decide(pending, alice, None) == SignInRequired("max_age")
    silent = await request(engine, web, max_age="60", prompt="none")
    assert error_of(await decider.decide(silent, alice, None)) == "login_required"


async def test_signed_out_before_answering_signs_in_again(
    engine: AuthorizationServer, decider: AuthorizationDecider, web: Registered
) -> None:
    pending = await request(engine, web)
    assert await decider.answer(pending, None, None, approved=True) == SignInRequired("no_session")
