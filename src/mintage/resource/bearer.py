"""Finding the bearer token in an ASGI request (RFC 6750 §2)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qs

from .errors import InvalidRequestError, MissingTokenError


def bearer_token(
    headers: Iterable[tuple[bytes, bytes]], query_string: bytes = b"", *, allow_query: bool = False
) -> str:
    """The one bearer token the request carries.

    §2.1 ``Authorization: Bearer <token>`` (the scheme is case-insensitive, RFC 7235
    §2.1).  §2.3 ``?access_token=`` only when ``allow_query``: URLs end up in logs,
    browser history and ``Referer`` headers (RFC 9700 §4.3.2 says not to), so by default
    a token there is ``invalid_request`` rather than silently ignored.  §2.2 (a form
    body) is not read: a middleware would have to buffer every body.  §2: more than one
    method is ``invalid_request``; none at all, or another scheme such as ``Basic``, is
    :class:`MissingTokenError` (401, no error code, §3.1).
    """
    found: list[str] = []
    values = [v for k, v in headers if k == b"authorization"]  # ASGI lower-cases names
    if len(values) > 1:
        raise InvalidRequestError("send one Authorization header")
    if values:
        scheme, _, credentials = values[0].decode("latin-1").strip().partition(" ")
        if scheme.lower() == "bearer":
            credentials = credentials.strip()
            if not credentials:
                raise InvalidRequestError("the Authorization header must be: Bearer <token>")
            found.append(credentials)
    if b"access_token" in query_string:
        query = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
        in_query = query.get("access_token")
        if in_query:
            if not allow_query:
                raise InvalidRequestError(
                    "access tokens in the query string are not accepted; "
                    "use the Authorization header"
                )
            if len(in_query) > 1:
                raise InvalidRequestError("send the access_token parameter once")
            found.append(in_query[0])
    if not found:
        raise MissingTokenError()
    if len(found) > 1:
        raise InvalidRequestError("present the access token by one method only")
    return found[0]
