"""Request parameters: form and JSON bodies, duplicates, sizes (RFC 6749 §3.1, §3.2)."""

from __future__ import annotations

import pytest

from mintage.core.errors import InvalidRequestError
from mintage.core.http import OAuthRequest
from mintage.core.params import (
    MAX_VALUE_LENGTH,
    body_params,
    parse_form,
    parse_json,
    parse_query,
    query_params,
    require,
)


def _post(body: bytes, content_type: str | None) -> OAuthRequest:
    headers = {} if content_type is None else {"content-type": content_type}
    return OAuthRequest("POST", "/oauth/token", headers=headers, body=body)


def _description(info: pytest.ExceptionInfo[InvalidRequestError]) -> str:
    assert info.value.description is not None
    return info.value.description


# form


def test_form_decodes_percent_and_plus() -> None:
    assert parse_form(b"a=b%20c&d=e+f&g=") == {"a": "b c", "d": "e f", "g": ""}


def test_empty_form_is_no_parameters() -> None:
    assert parse_form(b"") == {}


def test_form_rejects_repeated_names() -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_form(b"grant_type=client_credentials&grant_type=password")
    assert "grant_type" in _description(info)


def test_form_rejects_repeats_even_with_equal_values() -> None:
    with pytest.raises(InvalidRequestError):
        parse_form(b"scope=read&scope=read")


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe=1",  # not UTF-8
        b"a=%ff",  # percent-encoding that decodes to invalid UTF-8
        b"a=%C3%28",
        b"a=1&&b=2",  # empty field
        b"justaname",  # no "="
    ],
)
def test_form_rejects_malformed_bodies(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        parse_form(body)


def test_form_value_length_is_capped() -> None:
    assert parse_form(b"a=" + b"x" * MAX_VALUE_LENGTH) == {"a": "x" * MAX_VALUE_LENGTH}
    with pytest.raises(InvalidRequestError) as info:
        parse_form(b"a=" + b"x" * (MAX_VALUE_LENGTH + 1))
    assert "too long" in _description(info)


def test_form_accepts_text_and_lifts_the_cap_on_request() -> None:
    long = "x" * (MAX_VALUE_LENGTH + 1)
    assert parse_form("a=%C3%A9") == {"a": "\u00e9"}
    assert parse_form(f"return_to={long}", max_value=None) == {"return_to": long}


# query


def test_query_is_lenient_on_shape_but_not_on_repeats() -> None:
    assert parse_query(b"a=1&&b=&c") == {"a": "1", "b": "", "c": ""}
    assert parse_query("") == {}
    with pytest.raises(InvalidRequestError) as info:
        parse_query(b"redirect_uri=x&redirect_uri=y")
    assert "redirect_uri" in _description(info)


@pytest.mark.parametrize("query", [b"a=%ff", b"\xff=1", b"a=" + b"x" * (MAX_VALUE_LENGTH + 1)])
def test_query_rejects_what_the_form_rejects(query: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        parse_query(query)
    with pytest.raises(InvalidRequestError):
        parse_form(query)


# JSON


def test_json_object_of_strings() -> None:
    assert parse_json(b'{"grant_type": "client_credentials", "client_id": "x"}') == {
        "grant_type": "client_credentials",
        "client_id": "x",
    }


def test_empty_json_object_is_no_parameters() -> None:
    assert parse_json(b"{}") == {}


def test_json_rejects_duplicate_keys() -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_json(b'{"scope": "read", "scope": "write"}')
    assert "scope" in _description(info)


@pytest.mark.parametrize(
    "body",
    [b"[]", b'[["grant_type", "password"]]', b'"grant_type"', b"null", b"42", b"[{}]"],
)
def test_json_must_be_an_object(body: bytes) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_json(body)
    assert "object" in _description(info)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": null}',
        b'{"a": true}',
        b'{"a": 1.5}',
        b'{"a": ["x"]}',
        b'{"a": {"b": "c"}}',
    ],
)
def test_json_values_must_be_strings(body: bytes) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_json(body)
    assert "a must be a string" in _description(info)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"a": "\xff"}', b"\xff\xfe", b"[" * 100_000, b'{"a": "b"} trailing'],
)
def test_json_rejects_malformed_documents(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        parse_json(body)


# content types


def test_body_params_follow_the_content_type() -> None:
    assert body_params(_post(b"a=1", "application/x-www-form-urlencoded; charset=UTF-8")) == {
        "a": "1"
    }
    assert body_params(_post(b'{"a": "1"}', "Application/JSON")) == {"a": "1"}


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        (None, "no Content-Type"),
        ("text/plain", "text/plain"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        ("application/x-www-form-urlencoded, application/json", "urlencoded"),
    ],
)
def test_other_content_types_say_what_to_send(content_type: str | None, said: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        body_params(_post(b"a=1", content_type))
    description = _description(info)
    assert said in description
    assert "application/x-www-form-urlencoded" in description
    assert "application/json" in description


def test_allow_empty_accepts_a_bodiless_request() -> None:
    assert body_params(_post(b"", None), allow_empty=True) == {}
    with pytest.raises(InvalidRequestError):
        body_params(_post(b"a=1", None), allow_empty=True)


# query and require


def test_query_params_reject_repeats() -> None:
    assert query_params({"a": ["1"], "b": ["2"]}) == {"a": "1", "b": "2"}
    with pytest.raises(InvalidRequestError):
        query_params({"access_token": ["x", "y"]})


def test_require_treats_empty_as_missing() -> None:
    assert require({"a": "1"}, "a") == "1"
    for params in ({}, {"a": ""}):
        with pytest.raises(InvalidRequestError) as info:
            require(params, "a")
        assert _description(info) == "missing parameter a"
