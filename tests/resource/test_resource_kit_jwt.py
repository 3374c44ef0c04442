"""JWTVerifier: RFC 9068 §4 validation against a stand-in issuer's JWKS."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator

import pytest
from joserfc.jwk import ECKey, RSAKey
from resource_kit_support import (
    AUDIENCE,
    ISSUER,
    JWKS_PATH,
    METADATA_PATH,
    FakeIssuer,
    b64json,
    signing_keys,
    spare_rsa_key,
)

from mintage.resource import (
    InvalidTokenError,
    JWTVerifier,
    ServerError,
    TemporarilyUnavailableError,
)


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
async def verifier(issuer: FakeIssuer) -> AsyncIterator[JWTVerifier]:
    v = JWTVerifier(ISSUER, transport=issuer.transport, clock=issuer.clock)
    yield v
    await v.aclose()


async def rejected(verifier: JWTVerifier, token: str, reason: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    assert caught.value.status_code == 401
    assert reason in (caught.value.description or ""), caught.value.description
    return caught.value


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
async def test_valid_token_is_accepted(issuer: FakeIssuer, verifier: JWTVerifier, alg: str) -> None:
    minted = issuer.mint(alg, amr=["pwd"], acr="1", auth_time=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # joserfc flags EdDSA unless asked by allow-list
        token = await verifier.verify(minted)
    assert [str(w.message) for w in caught] == []
    assert token.source == "jwt"
    assert token.subject == "user-1"
    assert token.client_id == "client-1"
    assert token.scopes == ("read", "write")
    assert token.scope == "read write"
    assert token.issuer == ISSUER
    assert token.audience == (AUDIENCE,)
    assert token.expires_at == issuer.clock() + 300
    assert token.token_id == "jti-1"
    assert (token.amr, token.acr, token.auth_time) == (("pwd",), "1", 1)
    assert token.has_scopes("read") and not token.has_scopes("read", "admin")
    # metadata once, JWKS once; a second token costs no request at all
    await verifier.verify(issuer.mint(alg, jti="jti-2"))
    assert issuer.requests == {METADATA_PATH: 1, JWKS_PATH: 1}


async def test_audience_list_and_full_media_type(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    token = issuer.mint(
        aud=["https://other.example", AUDIENCE], header={"typ": "application/at+jwt"}
    )
    assert (await verifier.verify(token)).audience == ("https://other.example", AUDIENCE)


async def test_alg_none_is_rejected_without_fetching_keys(
    issuer: FakeIssuer, verifier: JWTVerifier
) -> None:
    await rejected(verifier, issuer.unsigned(), "algorithm is not accepted")
    assert issuer.jwks_fetches == 0


async def test_hs256_signed_with_the_rsa_public_key_is_rejected(
    issuer: FakeIssuer, verifier: JWTVerifier
) -> None:
    await rejected(verifier, issuer.hs256_with_public_key(), "algorithm is not accepted")
    assert issuer.jwks_fetches == 0


@pytest.mark.parametrize("algorithms", [["HS256"], ["none"], ["RS256", "HS512"], []])
def test_symmetric_and_none_cannot_be_allowed(algorithms: list[str]) -> None:
    with pytest.raises(ValueError, match="unsupported algorithms"):
        JWTVerifier(ISSUER, algorithms=algorithms)


async def test_key_of_the_wrong_type_for_alg_is_rejected(
    issuer: FakeIssuer, verifier: JWTVerifier
) -> None:
    """An ES256 header naming the RSA key: the key type must match the algorithm."""
    ec = ECKey.generate_key("P-256", parameters={"kid": "rsa-1"})
    await rejected(verifier, issuer.mint("ES256", key=ec), "does not match its key")


async def test_foreign_kid_triggers_at_most_one_refetch(
    issuer: FakeIssuer, verifier: JWTVerifier
) -> None:
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 1
    foreign = issuer.mint(key=spare_rsa_key("foreign"))
    # right after a fetch, an unknown kid does not refetch at all
    await rejected(verifier, foreign, "unknown key")
    assert issuer.jwks_fetches == 1
    # once the rate limit allows, a burst of unknown kids costs exactly one refetch
    issuer.clock.advance(31)
    for _ in range(5):
        await rejected(verifier, foreign, "unknown key")
    assert issuer.jwks_fetches == 2
    assert verifier.keys.fetches == 2


async def test_signature_by_a_key_not_published_under_a_known_kid(
    issuer: FakeIssuer, verifier: JWTVerifier
) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    await rejected(verifier, issuer.mint(key=impostor), "signature is invalid")


async def test_bad_signature(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    header, payload, signature = issuer.mint("ES256").split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    await rejected(verifier, f"{header}.{payload}.{flipped}", "signature is invalid")


async def test_payload_swapped_under_a_valid_signature(
    issuer: FakeIssuer, verifier: JWTVerifier
) -> None:
    header, _, signature = issuer.mint().split(".")
    widened = b64json(issuer.claims(scope="read write admin"))
    await rejected(verifier, f"{header}.{widened}.{signature}", "signature is invalid")


async def test_expired(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    token = issuer.mint()
    issuer.clock.advance(300 + 29)  # within the 30 s leeway
    assert (await verifier.verify(token)).subject == "user-1"
    issuer.clock.advance(1)
    await rejected(verifier, token, "expired")


async def test_not_yet_valid(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    await rejected(verifier, issuer.mint(nbf=issuer.clock() + 60), "not valid yet")
    assert await verifier.verify(issuer.mint(nbf=issuer.clock() + 20))  # inside the leeway


async def test_issued_in_the_future(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    await rejected(verifier, issuer.mint(iat=issuer.clock() + 120), "issued in the future")


async def test_leeway_is_configurable(issuer: FakeIssuer) -> None:
    strict = JWTVerifier(ISSUER, transport=issuer.transport, clock=issuer.clock, leeway=0)
    token = issuer.mint()
    issuer.clock.advance(300)
    with pytest.raises(InvalidTokenError, match="expired"):
        await strict.verify(token)
    await strict.aclose()


async def test_wrong_audience(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    await rejected(verifier, issuer.mint(aud="https://other.example/api"), "another audience")
    await rejected(verifier, issuer.mint(aud=[]), "another audience")


async def test_configured_audience(issuer: FakeIssuer) -> None:
    orders = JWTVerifier(
        ISSUER, audience="https://orders.example", transport=issuer.transport, clock=issuer.clock
    )
    assert await orders.verify(issuer.mint(aud="https://orders.example"))
    with pytest.raises(InvalidTokenError, match="another audience"):
        await orders.verify(issuer.mint())
    await orders.aclose()


async def test_wrong_issuer(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    await rejected(verifier, issuer.mint(iss="https://evil.example"), "another issuer")
    await rejected(verifier, issuer.mint(iss=ISSUER + "/"), "another issuer")


@pytest.mark.parametrize("typ", ["JWT", "id_token+jwt", "at+jwt+x", None])
async def test_wrong_typ(issuer: FakeIssuer, verifier: JWTVerifier, typ: str | None) -> None:
    """RFC 9068 §4: an ID token signed by the same key is not an access token."""
    await rejected(verifier, issuer.mint(header={"typ": typ}), "typ at+jwt")


@pytest.mark.parametrize("claim", ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"])
async def test_required_claims(issuer: FakeIssuer, verifier: JWTVerifier, claim: str) -> None:
    await rejected(verifier, issuer.mint(**{claim: None}), f"no {claim} claim")


@pytest.mark.parametrize(
    ("claim", "value"),
    [("exp", "tomorrow"), ("exp", True), ("sub", 7), ("aud", [1]), ("scope", [])],
)
async def test_claims_of_the_wrong_type(
    issuer: FakeIssuer, verifier: JWTVerifier, claim: str, value: object
) -> None:
    await rejected(verifier, issuer.mint(**{claim: value}), f"the {claim} claim must be")


async def test_missing_kid_and_crit(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    await rejected(verifier, issuer.mint(header={"kid": ""}), "names no signing key")
    crit = {"typ": "at+jwt", "kid": "rsa-1", "crit": ["x-policy"], "x-policy": 1}
    await rejected(verifier, issuer.sign_raw(crit), "unsupported critical")
    # the same signing path without crit is accepted, so the refusal is about crit
    assert await verifier.verify(issuer.sign_raw({"typ": "at+jwt", "kid": "rsa-1"}))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "not a token",
        "a.b.c",
        "eyJ.eyJ.e30",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        b64json(["alg"]) + ".e30.sig",
        b64json({"alg": "RS256", "typ": "at+jwt", "kid": "rsa-1"}) + ".bm90IGpzb24.c2ln",
        "eyJ" + "A" * 9000 + ".e30.sig",
        "tøken.e30.sig",
        "mint_at_opaque",
    ],
)
async def test_garbage(issuer: FakeIssuer, verifier: JWTVerifier, garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        await verifier.verify(garbage)


async def test_key_rotation_new_kid_is_found_by_a_refetch(
    issuer: FakeIssuer, verifier: JWTVerifier
) -> None:
    await verifier.verify(issuer.mint())
    rotated = spare_rsa_key("rsa-2")
    issuer.published = [rotated, signing_keys()["rsa-1"]]
    issuer.clock.advance(3600)  # rotations come hours apart; the refetch is allowed
    token = await verifier.verify(issuer.mint(key=rotated))
    assert token.subject == "user-1"
    assert issuer.jwks_fetches == 2


async def test_withdrawn_key_stops_working_after_max_age(issuer: FakeIssuer) -> None:
    v = JWTVerifier(ISSUER, transport=issuer.transport, clock=issuer.clock, jwks_max_age=600)
    await v.verify(issuer.mint("ES256"))
    issuer.published = [signing_keys()["rsa-1"]]
    issuer.clock.advance(601)
    with pytest.raises(InvalidTokenError, match="unknown key"):
        await v.verify(issuer.mint("ES256"))
    assert issuer.jwks_fetches == 2
    await v.aclose()


async def test_issuer_down_is_503_never_401(issuer: FakeIssuer, verifier: JWTVerifier) -> None:
    issuer.down = True
    with pytest.raises(TemporarilyUnavailableError) as caught:
        await verifier.verify(issuer.mint())
    assert caught.value.status_code == 503
    assert caught.value.headers["Retry-After"].isdigit()


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_jwks_error_status_is_503(issuer: FakeIssuer, status: int) -> None:
    v = JWTVerifier(
        ISSUER,
        jwks_uri=f"{ISSUER}{JWKS_PATH}",
        transport=issuer.transport,
        clock=issuer.clock,
    )
    issuer.status = status
    with pytest.raises(TemporarilyUnavailableError):
        await v.verify(issuer.mint())
    assert METADATA_PATH not in issuer.requests  # an explicit jwks_uri skips discovery
    # failures back off too: the next request within 5 s does not ask again
    with pytest.raises(TemporarilyUnavailableError):
        await v.verify(issuer.mint())
    assert issuer.jwks_fetches == 1
    issuer.status = None
    issuer.clock.advance(5)
    assert await v.verify(issuer.mint())
    await v.aclose()


async def test_known_keys_survive_an_outage(issuer: FakeIssuer) -> None:
    v = JWTVerifier(ISSUER, transport=issuer.transport, clock=issuer.clock, jwks_max_age=600)
    await v.verify(issuer.mint())
    issuer.down = True
    issuer.clock.advance(3600)
    assert (await v.verify(issuer.mint())).subject == "user-1"
    # but a key that cannot be checked is not called invalid
    with pytest.raises(TemporarilyUnavailableError):
        await v.verify(issuer.mint(key=spare_rsa_key("foreign")))
    await v.aclose()


async def test_metadata_naming_another_issuer_is_refused(issuer: FakeIssuer) -> None:
    """RFC 8414 §3.3: a document for another issuer must not be used."""
    issuer.metadata["issuer"] = "https://evil.example"
    v = JWTVerifier(ISSUER, transport=issuer.transport, clock=issuer.clock)
    with pytest.raises(ServerError):
        await v.verify(issuer.mint())
    assert issuer.jwks_fetches == 0
    await v.aclose()


@pytest.mark.filterwarnings("ignore:Key size should be:UserWarning")
async def test_published_private_keys_and_weak_keys_are_not_used(issuer: FakeIssuer) -> None:
    leaked = spare_rsa_key("leaked")
    weak = RSAKey.generate_key(1024, parameters={"kid": "weak"}, private=True, auto_kid=False)
    issuer.extra_jwks = [leaked.as_dict(private=True), weak.as_dict(private=False)]
    v = JWTVerifier(ISSUER, transport=issuer.transport, clock=issuer.clock)
    for key in (leaked, weak):
        with pytest.raises(InvalidTokenError, match="unknown key"):
            await v.verify(issuer.mint(key=key))
    assert await v.verify(issuer.mint())
    await v.aclose()


@pytest.mark.parametrize("jwks_uri", [None, "http://[::1"])
async def test_unusable_jwks_uri_is_a_server_error(
    issuer: FakeIssuer, jwks_uri: str | None
) -> None:
    """Misconfiguration, not the token's fault: 500, never 401."""
    issuer.metadata["jwks_uri"] = jwks_uri
    v = JWTVerifier(ISSUER, transport=issuer.transport, clock=issuer.clock)
    with pytest.raises(ServerError):
        await v.verify(issuer.mint())
    await v.aclose()
