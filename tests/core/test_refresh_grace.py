"""Sealing a rotation's response for the refresh grace window (core/grants/refresh_grace.py)."""

from __future__ import annotations

import pytest

from mintage.core.credentials import REFRESH_TOKEN_PREFIX, mint, token_digest
from mintage.core.grants.refresh_grace import MAX_GRACE_SECONDS, RefreshGrace
from mintage.settings import Settings
from oauth_testkit import PEPPER

RESPONSE = {
    "access_token": "mint_at_example",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "read",
    "refresh_token": "mint_rt_example",
}


@pytest.fixture
def grace() -> RefreshGrace:
    return RefreshGrace(PEPPER, 10)


def parent() -> tuple[str, str]:
    value = mint(REFRESH_TOKEN_PREFIX)
    return value, token_digest(value)


def test_sealed_response_opens_with_the_parent_token(grace: RefreshGrace) -> None:
    value, digest = parent()
    sealed = grace.seal(value, digest, RESPONSE)
    assert grace.open(value, digest, sealed) == RESPONSE


def test_sealed_text_holds_no_token_in_clear(grace: RefreshGrace) -> None:
    value, digest = parent()
    sealed = grace.seal(value, digest, RESPONSE)
    assert sealed.startswith("v1.")
    for secret in ("mint_at_example", "mint_rt_example", value):
        assert secret not in sealed
    # a fresh nonce each time: the same response never seals to the same text
    assert grace.seal(value, digest, RESPONSE) != sealed


def test_only_the_parent_token_opens_it_not_the_pepper_alone(grace: RefreshGrace) -> None:
    """The key comes from the pepper *and* the parent token: someone with a database
    dump and the server secret still cannot read the successor pair."""
    value, digest = parent()
    sealed = grace.seal(value, digest, RESPONSE)
    other, _ = parent()
    assert grace.open(other, digest, sealed) is None


def test_bound_to_the_parents_row(grace: RefreshGrace) -> None:
    value, digest = parent()
    sealed = grace.seal(value, digest, RESPONSE)
    _, other_digest = parent()
    assert grace.open(value, other_digest, sealed) is None


def test_another_pepper_cannot_open_it(grace: RefreshGrace) -> None:
    value, digest = parent()
    sealed = grace.seal(value, digest, RESPONSE)
    assert (
        RefreshGrace(b"another-pepper-0123456789abcdef-01", 10).open(value, digest, sealed) is None
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s[:40] + ("A" if s[40] != "A" else "B") + s[41:],  # ciphertext altered
        lambda s: s[:-5] + ("A" if s[-5] != "A" else "B") + s[-4:],  # tag altered
        lambda s: s[:20] + s[21:],  # a character missing
        lambda s: "v2." + s[3:],  # unknown version
        lambda s: "v1.",  # nothing
        lambda s: "v1.!!!",  # not base64url
    ],
    ids=["ciphertext", "tag", "truncated", "version", "empty", "garbage"],
)
def test_altered_text_does_not_open(grace: RefreshGrace, damage: object) -> None:
    value, digest = parent()
    sealed = grace.seal(value, digest, RESPONSE)
    assert callable(damage)
    assert grace.open(value, digest, damage(sealed)) is None


@pytest.mark.parametrize("seconds", [0, -1, MAX_GRACE_SECONDS + 1])
def test_window_must_be_between_one_second_and_the_maximum(seconds: int) -> None:
    with pytest.raises(ValueError):
        RefreshGrace(PEPPER, seconds)


def test_settings_allow_what_the_engine_allows() -> None:
    assert Settings(database_url="memory://").refresh_grace_seconds == 0
    assert Settings(refresh_grace_seconds=MAX_GRACE_SECONDS).refresh_grace_seconds == 60
    with pytest.raises(ValueError):
        Settings(refresh_grace_seconds=MAX_GRACE_SECONDS + 1)
    with pytest.raises(ValueError):
        Settings(refresh_grace_seconds=-1)
