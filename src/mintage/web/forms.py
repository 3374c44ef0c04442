"""Reading the pages' form posts and checking where they may send the browser back to.

Fields are parsed by the server's one parser (:mod:`mintage.core.params`) on a
size-capped body (docs/architecture.md §6), so the pages refuse what the endpoints
refuse: a repeated field (RFC 6749 §3.1: a second ``redirect_uri`` or ``csrf_token``
must not silently win over the first), bytes that are not UTF-8, an over-long value.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from ..core.errors import InvalidRequestError
from ..core.params import FORM, MAX_VALUE_LENGTH, parse_form, parse_query
from .asgi import BodyTooLarge, header_dict, read_body


class BadForm(Exception):
    """The body is not a form we accept (wrong type, too large, repeated field)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_form(
    request: Request, limit: int, *, max_value: int | None = MAX_VALUE_LENGTH
) -> dict[str, str]:
    """The url-encoded body of ``request`` as a dict of single-valued fields.

    ``max_value=None`` for forms whose fields are not protocol parameters (the sign-in
    form's ``return_to`` carries a whole authorization request): the body limit bounds
    them.
    """
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise BadForm(f"the form must be sent as {FORM}", 415)
    try:
        body = await read_body(request.receive, header_dict(request.scope["headers"]), limit)
    except BodyTooLarge:
        raise BadForm("the form is too large", 413) from None
    try:
        return parse_form(body, max_value=max_value)
    except InvalidRequestError as exc:
        raise BadForm(exc.description or exc.error) from None


def query_fields(request: Request) -> dict[str, str]:
    """The query string as single-valued fields; repeats are refused."""
    try:
        return parse_query(request.scope.get("query_string", b""))
    except InvalidRequestError as exc:
        raise BadForm(exc.description or exc.error) from None


def local_path(target: str | None, default: str) -> str:
    """``target`` when it is a path on this server, else ``default`` (no open redirect).

    RFC 9700 §4.11 / CWE-601: ``return_to`` comes from the request, so an attacker
    chooses it.  Only an absolute path without scheme or host passes; ``//evil`` and
    ``/\\evil`` (both read by browsers as another host), backslashes anywhere and
    control characters are refused.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    return target
