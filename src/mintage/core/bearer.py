"""How a request presents a bearer token (RFC 6750 §2), for the server and the kit.

One implementation for the origin's ``/resource`` and ``/userinfo``
(:mod:`.endpoints.resource`) and for resource servers (``mintage.resource``), so both
answer the same request the same way.  Pure and light: the resource kit may import it
(docs/architecture.md §1), so it imports nothing but the errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import InsufficientScopeError, InvalidRequestError, OAuthError

PARAM = "access_token"
_MALFORMED = "the Authorization header must be: Bearer <token>"


class MissingTokenError(OAuthError):
    """401 without an error code: the request carried no bearer token at all.

    RFC 6750 §3.1: "If the request lacks any authentication information (e.g., the
    client was unaware that authentication is necessary or attempted using an
    unsupported authentication method), the resource server SHOULD NOT include an error
    code or other error information", so neither the challenge nor the body names one.
    """

    error = "invalid_request"
    status_code = 401

    def __init__(self) -> None:
        super().__init__("no bearer token was presented")

    def body(self) -> dict[str, str]:
        return {}


def challenge(realm: str, exc: OAuthError | None, scope: str | None = None) -> str:
    """The ``WWW-Authenticate: Bearer`` value for an error (RFC 6750 §3).

    Always the realm; the error code and description unless no token was presented
    (§3.1); the scope the resource requires (``scope``) for ``insufficient_scope`` only.
    ``realm`` must already be safe for a quoted string; descriptions are kept to RFC 6749
    §5.2's character set by :class:`~mintage.core.errors.OAuthError`.
    """
    parts = [f'realm="{realm}"']
    if exc is not None and not isinstance(exc, MissingTokenError):
        parts.append(f'error="{exc.error}"')
        if exc.description:
            parts.append(f'error_description="{exc.description}"')
        if scope and isinstance(exc, InsufficientScopeError):
            parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def bearer_token(
    authorization: Sequence[str],
    query: Mapping[str, Sequence[str]],
    form: Mapping[str, str] | None = None,
    *,
    allow_query: bool,
) -> str:
    """The one bearer token the request carries.

    ``authorization`` holds the request's ``Authorization`` field values; ``query`` its
    query parameters, every value of each; ``form`` the fields of a form-encoded body
    when the caller reads one (§2.2), else ``None``.

    §2.1 ``Authorization: Bearer <token>`` (the scheme is case-insensitive, RFC 9110
    §11.1); ``Bearer`` without a single token after it is malformed, ``invalid_request``.
    Another scheme (``Basic``) is no bearer credential: :class:`MissingTokenError`
    (§3.1).  §2.3 ``?access_token=`` only when ``allow_query``: URLs end up in logs,
    browser history and ``Referer`` headers (RFC 9700 §4.3.2 says not to), so by default
    a token there is ``invalid_request`` rather than silently ignored.  §2: more than one
    method, or a repeated header or parameter, is ``invalid_request``.
    """
    found: list[str] = []
    if len(authorization) > 1:
        raise InvalidRequestError("send one Authorization header")
    if authorization:
        scheme, _, credentials = authorization[0].strip().partition(" ")
        if scheme.lower() == "bearer":
            credentials = credentials.strip()
            # b64token (§2.1) has no space or comma: a second value is a second header
            # joined into this one (RFC 9110 §5.3) or a malformed credential.
            # One token68 (RFC 6750 §2.1): a space, tab or comma means more than one.
            if not credentials or " " in credentials or "\t" in credentials or "," in credentials:
                raise InvalidRequestError(_MALFORMED)
            found.append(credentials)
    if form is not None and PARAM in form:
        found.append(form[PARAM])
    in_query = query.get(PARAM)
    if in_query:
        if not allow_query:
            raise InvalidRequestError(
                "access tokens in the query string are not accepted; use the Authorization header"
            )
        if len(in_query) > 1:
            raise InvalidRequestError(f"send the {PARAM} parameter once")
        found.append(in_query[0])
    if not found:
        raise MissingTokenError()
    if len(found) > 1:
        raise InvalidRequestError("present the access token by one method only")
    return found[0]
