"""Request parameters: form or JSON bodies and query strings, duplicates rejected.

The one parser of the server: the raw-ASGI endpoints and the browser pages
(``web/forms.py``) both read their fields here.  RFC 6749 §3.2 and §4.4.2 define form
encoding (UTF-8, Appendix B); the origin's example client posts JSON, so both are
accepted.  "Request and response parameters MUST NOT be included more than once"
(RFC 6749 §3.1): a repeated name is ``invalid_request`` whatever the encoding.  Each
value is capped (:data:`MAX_VALUE_LENGTH`) on top of the body limit of the web layer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl

from .errors import InvalidRequestError

if TYPE_CHECKING:  # the resource kit imports this module: it stays this light
    from .http import OAuthRequest

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_WHAT_TO_SEND = f"send the parameters as {FORM} (or {JSON})"
MAX_VALUE_LENGTH = 4096  # longer than any legitimate parameter, shorter than abuse


def _no_duplicates(
    pairs: list[tuple[str, str]], max_value: int | None = MAX_VALUE_LENGTH
) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise InvalidRequestError(f"parameter {name} is repeated")
        if max_value is not None and len(value) > max_value:
            raise InvalidRequestError(f"parameter {name} is too long")
        out[name] = value
    return out


def _pairs(raw: bytes | str, *, strict: bool) -> list[tuple[str, str]]:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidRequestError("the parameters are not valid UTF-8") from None
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=strict, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("the parameters are not valid form encoding") from None


def parse_form(body: bytes | str, *, max_value: int | None = MAX_VALUE_LENGTH) -> dict[str, str]:
    """Fields of an ``application/x-www-form-urlencoded`` body (RFC 6749 Appendix B).

    Strict: a fragment without ``=`` (which would hide a typo) or bytes that are not
    UTF-8 are ``invalid_request``.  ``max_value=None`` leaves the size to the body limit
    alone, for fields that are not protocol parameters (a page's ``return_to``).
    """
    return _no_duplicates(_pairs(body, strict=bool(body)), max_value)


def parse_query(query: bytes | str) -> dict[str, str]:
    """Fields of a URL query (RFC 3986 §3.4): like :func:`parse_form`, but lenient on
    shape as :attr:`OAuthRequest.query` is: an empty fragment (``?a=1&``) is skipped and
    a bare name is an empty value."""
    return _no_duplicates(_pairs(query, strict=False))


class _JsonObject(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs, repeats kept, so duplicates can be seen.

    A class of its own so that an object is never confused with an array: ``[]`` and
    ``{}`` would both be an empty list.
    """


def parse_json(body: bytes) -> dict[str, str]:
    """Parameters of a JSON object body (RFC 8259 §4); duplicate names are rejected."""
    try:
        document = json.loads(body, object_pairs_hook=_JsonObject)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(document, _JsonObject):
        raise InvalidRequestError("the JSON body must be an object of string values")
    pairs: list[tuple[str, str]] = []
    for name, value in document:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidRequestError(f"parameter {name} must be a string")
        pairs.append((name, str(value)))
    return _no_duplicates(pairs)


def body_params(request: OAuthRequest, *, allow_empty: bool = False) -> dict[str, str]:
    """Parameters of a POST body, by content type."""
    ctype = request.content_type
    if ctype == FORM:
        return parse_form(request.body)
    if ctype == JSON:
        return parse_json(request.body)
    if allow_empty and not request.body:
        return {}
    got = f"got {ctype}" if ctype else "no Content-Type was given"
    raise InvalidRequestError(f"unsupported content type ({got}): {_WHAT_TO_SEND}")


def split_query(query_string: bytes) -> dict[str, list[str]]:
    """Every value of every name of a raw query string, as :attr:`OAuthRequest.query`
    holds them (repeats kept, so that they can be refused where they matter).

    Never raises: bytes that are not UTF-8 become U+FFFD, and such a value matches no
    parameter the server issued.
    """
    if not query_string:
        return {}
    return parse_qs(query_string.decode("latin-1"), keep_blank_values=True)


def query_params(query: Mapping[str, list[str]]) -> dict[str, str]:
    return _no_duplicates([(k, v) for k, vs in query.items() for v in vs])


def require(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidRequestError(f"missing parameter {name}")
    return value
