"""Reading the pages' form posts and checking where they may send the browser back to.

Forms are parsed with the standard library on a size-capped body (docs/architecture.md §6), and a
repeated field is refused, as RFC 6749 §3.1 requires of authorization parameters: a
second ``redirect_uri`` or ``csrf_token`` must not silently win over the first.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request

from .asgi import BodyTooLarge, header_dict, read_body

FORM_TYPE = "application/x-www-form-urlencoded"


class BadForm(Exception):
    """The body is not a form we accept (wrong type, too large, repeated field)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def unique_pairs(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The pairs as a dict; :class:`BadForm` if a name appears twice."""
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise BadForm(f"the field {name} is repeated")
        fields[name] = value
    return fields


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """The url-encoded body of ``request`` as a dict of single-valued fields."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        raise BadForm("the form must be sent as application/x-www-form-urlencoded", 415)
    try:
        body = await read_body(request.receive, header_dict(request.scope["headers"]), limit)
    except BodyTooLarge:
        raise BadForm("the form is too large", 413) from None
    return parse_fields(body)


def parse_fields(raw: bytes | str) -> dict[str, str]:
    """Url-encoded fields, strictly UTF-8, each name at most once."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadForm("the fields are not valid UTF-8 form encoding") from None
    return unique_pairs(pairs)


def query_fields(request: Request) -> dict[str, str]:
    """The query string as single-valued fields; repeats are refused."""
    return parse_fields(request.scope.get("query_string", b""))


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
