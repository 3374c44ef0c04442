"""The grants a token endpoint serves, by ``grant_type`` (RFC 6749 §4, §4.5).

The built-in grants are registered the same way as an application's own: an
extension grant (RFC 6749 §4.5) is an object meeting :class:`~mintage.core.grants.Grant`,
added with :meth:`GrantRegistry.register` or ``create_app(grants=[...])``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from . import Grant
from .authorization_code import AuthorizationCodeGrant
from .client_credentials import ClientCredentialsGrant
from .password import PasswordGrant
from .refresh_token import RefreshTokenGrant

#: RFC 6749 Appendix A.10: ``grant-name = 1*name-char`` or an absolute URI (§4.5)
_GRANT_NAME = re.compile(r"[A-Za-z0-9._-]+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+")


def is_grant_type(value: str) -> bool:
    """A ``grant_type`` value as RFC 6749 Appendix A.10 allows it."""
    return bool(_GRANT_NAME.fullmatch(value) or _URI.fullmatch(value))


def is_extension_grant_type(value: str) -> bool:
    """An extension grant's type: an absolute URI (RFC 6749 §4.5)."""
    return bool(_URI.fullmatch(value))


class GrantRegistry:
    """Grants by ``grant_type``; one grant per type."""

    def __init__(self, grants: Iterable[Grant] = ()) -> None:
        self._grants: dict[str, Grant] = {}
        for grant in grants:
            self.register(grant)

    def register(self, grant: Grant) -> None:
        """Serve ``grant`` at the token endpoint (and list it in the metadata's
        ``grant_types_supported``, RFC 8414 §2).  Refuses a second grant of one type:
        replacing a built-in grant silently would change what clients get."""
        grant_type = grant.grant_type
        if not is_grant_type(grant_type):
            raise ValueError(
                f"grant_type {grant_type!r} is neither a grant name nor an absolute URI "
                "(RFC 6749 Appendix A.10)"
            )
        if grant_type in self._grants:
            raise ValueError(f"a grant is already registered for grant_type {grant_type}")
        self._grants[grant_type] = grant

    def get(self, grant_type: str) -> Grant | None:
        return self._grants.get(grant_type)

    def __contains__(self, grant_type: object) -> bool:
        return grant_type in self._grants

    def __iter__(self) -> Iterator[Grant]:
        """The registered grants, in registration order."""
        return iter(self._grants.values())

    @property
    def grant_types(self) -> tuple[str, ...]:
        return tuple(self._grants)

    def __len__(self) -> int:
        return len(self._grants)


def builtin_grants(*, authorization_code: bool = True, password: bool = True) -> GrantRegistry:
    """The grants Mintage ships: the authorization code (with the pages that issue its
    codes), client credentials, refresh token, and the password grant (RFC 9700 §2.4
    advises against it; a setting turns it off)."""
    registry = GrantRegistry()
    if authorization_code:
        registry.register(AuthorizationCodeGrant())
    registry.register(ClientCredentialsGrant())
    registry.register(RefreshTokenGrant())
    if password:
        registry.register(PasswordGrant())
    return registry
