"""Who an access token is meant for: its audience (RFC 9068 §3 ``aud``, RFC 8707 §2).

Every access token today is meant for one server-wide audience, the
``access_token_audience`` setting (``<issuer>/resource`` by default): JWT access tokens
carry it as ``aud``, introspection reports it, and a client registered with that
identifier among its ``resources`` may introspect the token (RFC 7662 §4).  Tokens
meant for a resource each (RFC 8707 ``resource`` requests) change :meth:`Audiences.of`
and nothing else.
"""

from __future__ import annotations

from .models import Client, Token


class Audiences:
    """The audience of access tokens, computed in this one place."""

    __slots__ = ("default",)

    def __init__(self, default: str) -> None:
        #: the audience of a token issued without naming one: every token, for now
        self.default = default

    def of(self, token: Token) -> str:
        """The audience of an issued access token."""
        return self.default

    def serves(self, caller: Client, token: Token) -> bool:
        """Is ``caller`` a resource server the access token ``token`` is meant for?"""
        return self.of(token) in caller.resources
