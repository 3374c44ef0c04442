"""PKCE checks (RFC 7636 §4.1–4.6, RFC 9700 §2.1.1): pure functions, no storage."""

from __future__ import annotations

import base64
import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mintage.core.errors import InvalidGrantError, InvalidRequestError
from mintage.core.pkce import check_challenge, check_verifier_syntax, s256, verify

UNRESERVED = string.ascii_letters + string.digits + "-._~"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s256_matches_the_rfc_example() -> None:
    assert s256(VERIFIER) == CHALLENGE


@given(st.text(alphabet=UNRESERVED, min_size=43, max_size=128))
def test_s256_is_unpadded_base64url_of_sha256(verifier: str) -> None:
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert s256(verifier) == expected.decode().rstrip("=")
    verify(verifier, s256(verifier), "S256")  # round trip accepted


# authorization request side (§4.3, §4.4.1)


def test_s256_challenge_accepted() -> None:
    assert check_challenge(CHALLENGE, "S256", required=True, allow_plain=False) == (
        CHALLENGE,
        "S256",
    )


@pytest.mark.parametrize(
    "challenge",
    [CHALLENGE[:-1], CHALLENGE + "A", CHALLENGE[:-1] + "=", CHALLENGE[:-1] + "+", " " * 43],
)
def test_malformed_s256_challenge_refused(challenge: str) -> None:
    with pytest.raises(InvalidRequestError, match="43 base64url"):
        check_challenge(challenge, "S256", required=True, allow_plain=False)


def test_missing_challenge_refused_when_required() -> None:
    with pytest.raises(InvalidRequestError, match="code_challenge is required"):
        check_challenge(None, None, required=True, allow_plain=False)
    assert check_challenge(None, None, required=False, allow_plain=False) == (None, None)


def test_method_without_challenge_refused() -> None:
    with pytest.raises(InvalidRequestError, match="without code_challenge"):
        check_challenge(None, "S256", required=False, allow_plain=True)


@pytest.mark.parametrize("method", ["plain", None])  # §4.3: an absent method means plain
def test_plain_refused_unless_enabled(method: str | None) -> None:
    with pytest.raises(InvalidRequestError, match="must be S256"):
        check_challenge(VERIFIER, method, required=True, allow_plain=False)
    assert check_challenge(VERIFIER, method, required=True, allow_plain=True) == (
        VERIFIER,
        "plain",
    )


@pytest.mark.parametrize("challenge", ["short", "x" * 129, "a" * 42 + "/", "é" * 43])
def test_plain_challenge_needs_verifier_syntax(challenge: str) -> None:
    with pytest.raises(InvalidRequestError, match="43 to 128"):
        check_challenge(challenge, "plain", required=True, allow_plain=True)


@pytest.mark.parametrize("method", ["s256", "SHA256", "S512", ""])
def test_unknown_method_refused(method: str) -> None:
    with pytest.raises(InvalidRequestError, match="must be S256"):
        check_challenge(CHALLENGE, method or "x", required=True, allow_plain=True)


# token request side (§4.5, §4.6)


def test_verifier_syntax() -> None:
    check_verifier_syntax("a" * 43)
    check_verifier_syntax(UNRESERVED[:64] + "~" * 64)
    for bad in ("a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "=", "a" * 42 + " ", "é" * 43):
        with pytest.raises(InvalidRequestError):
            check_verifier_syntax(bad)


def test_verify_s256() -> None:
    verify(VERIFIER, CHALLENGE, "S256")
    with pytest.raises(InvalidGrantError, match="does not match"):
        verify("x" * 43, CHALLENGE, "S256")
    # the challenge itself is not a valid verifier for S256
    with pytest.raises(InvalidGrantError):
        verify(CHALLENGE, CHALLENGE, "S256")


def test_verify_plain() -> None:
    verify(VERIFIER, VERIFIER, "plain")
    with pytest.raises(InvalidGrantError):
        verify(VERIFIER[:-1] + "A", VERIFIER, "plain")


def test_verify_needs_the_verifier_when_a_challenge_was_stored() -> None:
    with pytest.raises(InvalidRequestError, match="code_verifier"):
        verify(None, CHALLENGE, "S256")


def test_verify_rejects_malformed_verifier_before_hashing() -> None:
    with pytest.raises(InvalidRequestError, match="43 to 128"):
        verify("short", CHALLENGE, "S256")


def test_verifier_without_stored_challenge_is_a_downgrade() -> None:
    verify(None, None, None)
    with pytest.raises(InvalidGrantError, match="no code_challenge"):
        verify(VERIFIER, None, None)
