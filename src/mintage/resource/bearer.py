"""Finding the bearer token in an ASGI request (RFC 6750 §2).

The rules are :func:`mintage.core.bearer.bearer_token`'s, the origin's own: a resource
server answers a request as the authorization server's ``/resource`` would.
"""

from __future__ import annotations

from collections.abc import Iterable

from mintage.core.bearer import PARAM
from mintage.core.bearer import bearer_token as _bearer_token
from mintage.core.params import split_query

_PARAM = PARAM.encode()


def bearer_token(
    headers: Iterable[tuple[bytes, bytes]], query_string: bytes = b"", *, allow_query: bool = False
) -> str:
    """The one bearer token of a request with these ASGI ``headers`` and query.

    §2.1 ``Authorization: Bearer <token>``; §2.3 ``?access_token=`` only when
    ``allow_query`` (else ``invalid_request``); §2.2 (a form body) is not read: a
    middleware would have to buffer every body.  No bearer credentials at all (no
    header, or another scheme such as ``Basic``) is
    :class:`~mintage.core.bearer.MissingTokenError` (401, no error code, §3.1).
    """
    # ASGI servers pass names lower-cased (ASGI HTTP spec, "headers").
    authorization = [v.decode("latin-1") for k, v in headers if k == b"authorization"]
    query = split_query(query_string) if _PARAM in query_string else {}
    return _bearer_token(authorization, query, allow_query=allow_query)
