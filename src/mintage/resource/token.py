"""The verified access token a protected route receives."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

#: Which check vouched for the token: local JWT verification, RFC 7662 introspection, or
#: the authorization server in the same process (:mod:`mintage.resource.engine`).
Source = Literal["jwt", "introspection", "engine"]


@dataclasses.dataclass(frozen=True, slots=True)
class AccessToken:
    """What an access token says, once verified (never the token string itself).

    Field names follow the RFC vocabulary: ``sub``, ``client_id``, ``scope`` (RFC 9068
    §2.2, RFC 7662 §2.2), ``iss``, ``aud``, ``exp``, ``iat``, ``jti`` and the optional
    authentication claims ``auth_time``, ``acr``, ``amr`` (RFC 9068 §2.2.1).  ``claims``
    holds every claim as received (the JWT payload or the introspection response), for
    anything else the authorization server adds.
    """

    source: Source
    subject: str | None
    client_id: str | None
    scopes: tuple[str, ...]
    issuer: str | None
    audience: tuple[str, ...]
    expires_at: int | None
    issued_at: int | None
    token_id: str | None = None
    auth_time: int | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    claims: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def scope(self) -> str:
        """The scopes as the space-separated string of RFC 6749 §3.3."""
        return " ".join(self.scopes)

    def has_scopes(self, *required: str) -> bool:
        """``True`` when every required scope was granted (RFC 6750 §3.1)."""
        granted = set(self.scopes)
        return all(s in granted for s in required)


class ClaimError(ValueError):
    """A claim is present with the wrong JSON type (RFC 7519 §4.1, RFC 7662 §2.2)."""


def _string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ClaimError(f"the {name} claim must be a string")


def numeric_date(claims: Mapping[str, Any], name: str) -> int | None:
    """RFC 7519 §2 NumericDate: a JSON number of seconds (fractions allowed)."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClaimError(f"the {name} claim must be a number")
    return int(value)


def _strings(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A string or an array of strings (``aud``, RFC 7519 §4.1.3; ``amr``)."""
    value = claims.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ClaimError(f"the {name} claim must be a string or an array of strings")


def access_token_from_claims(claims: Mapping[str, Any], source: Source) -> AccessToken:
    """Read the registered claims into an :class:`AccessToken`; raises :class:`ClaimError`."""
    scope = _string(claims, "scope")
    return AccessToken(
        source=source,
        subject=_string(claims, "sub"),
        client_id=_string(claims, "client_id"),
        scopes=tuple(scope.split()) if scope else (),
        issuer=_string(claims, "iss"),
        audience=_strings(claims, "aud"),
        expires_at=numeric_date(claims, "exp"),
        issued_at=numeric_date(claims, "iat"),
        token_id=_string(claims, "jti"),
        auth_time=numeric_date(claims, "auth_time"),
        acr=_string(claims, "acr"),
        amr=_strings(claims, "amr"),
        claims=dict(claims),
    )
