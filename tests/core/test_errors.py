"""Error values and their rendering (RFC 6749 §5.2, RFC 6750 §3, RFC 7617 §2)."""

from __future__ import annotations

import re

import orjson
import pytest

from mintage.core import errors
from mintage.core.bearer import MissingTokenError, challenge
from mintage.core.http import error_response

# RFC 6749 §5.2: error_description = *( %x20-21 / %x23-5B / %x5D-7E )
RFC6749_CHARSET = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")

CODES = {
    errors.InvalidRequestError: ("invalid_request", 400),
    errors.InvalidClientError: ("invalid_client", 401),
    errors.InvalidGrantError: ("invalid_grant", 400),
    errors.UnauthorizedClientError: ("unauthorized_client", 400),
    errors.UnsupportedGrantTypeError: ("unsupported_grant_type", 400),
    errors.InvalidScopeError: ("invalid_scope", 400),
    errors.UnsupportedTokenTypeError: ("unsupported_token_type", 400),
    errors.InvalidTokenError: ("invalid_token", 401),
    errors.InsufficientScopeError: ("insufficient_scope", 403),
    errors.AccessDeniedError: ("access_denied", 403),
    errors.RequestTooLargeError: ("invalid_request", 413),
    errors.ServerError: ("server_error", 500),
    errors.TemporarilyUnavailableError: ("temporarily_unavailable", 503),
    errors.TooManyRequestsError: ("temporarily_unavailable", 429),
}


@pytest.mark.parametrize(("cls", "expected"), list(CODES.items()))
def test_each_class_carries_its_code_and_status(
    cls: type[errors.OAuthError], expected: tuple[str, int]
) -> None:
    exc = cls("why")
    assert (exc.error, exc.status_code) == expected
    response = error_response(exc)
    assert response.status == expected[1]
    assert orjson.loads(response.body) == {"error": expected[0], "error_description": "why"}
    assert ("cache-control", "no-store") in response.headers


def test_description_is_optional() -> None:
    assert orjson.loads(error_response(errors.InvalidGrantError()).body) == {
        "error": "invalid_grant"
    }


@pytest.mark.parametrize(
    "text", ['say "hi"', "back\\slash", "new\nline", "tab\t", "nul\x00", "café", "\ud800", "\x7f"]
)
def test_descriptions_are_mapped_into_the_rfc_character_set(text: str) -> None:
    exc = errors.InvalidRequestError(f"parameter {text} is repeated")
    assert exc.description is not None
    assert RFC6749_CHARSET.fullmatch(exc.description)
    assert exc.description.startswith("parameter ")
    # and the body serialises (orjson refuses lone surrogates)
    orjson.loads(error_response(exc).body)


def test_basic_challenge_only_for_invalid_client() -> None:
    with_challenge = error_response(errors.InvalidClientError("no"))
    header = dict(with_challenge.headers)["www-authenticate"]
    assert header.startswith("Basic ")
    assert 'realm="mintage"' in header
    other = error_response(errors.InvalidGrantError("no"))
    assert "www-authenticate" not in dict(other.headers)


def test_temporarily_unavailable_says_when_to_retry() -> None:
    response = error_response(errors.TemporarilyUnavailableError("down", retry_after=7))
    assert dict(response.headers)["retry-after"] == "7"


def test_bearer_challenges() -> None:
    assert challenge("mintage", MissingTokenError()) == 'Bearer realm="mintage"'
    assert challenge("mintage", None) == 'Bearer realm="mintage"'
    assert (
        challenge("mintage", errors.InvalidTokenError("expired"))
        == 'Bearer realm="mintage", error="invalid_token", error_description="expired"'
    )
    assert (
        challenge("r", errors.InsufficientScopeError("more"), "write admin")
        == 'Bearer realm="r", error="insufficient_scope", error_description="more", '
        'scope="write admin"'
    )
    # the scope attribute belongs to insufficient_scope only
    assert "scope=" not in challenge("r", errors.InvalidTokenError("x"), "write")
