"""Standard claims of the user record, released by scope (OpenID Connect Core §5.1, §5.4).

User sources give claims as strings (``mintage user set-claims alice email=…`` keeps
them so in Mintage's own table; see core/users.py for a source of one's own); this
module gives them their JSON types on the way out: booleans for ``*_verified``, a number
for ``updated_at``, and an object for ``address`` (from ``address.<field>`` entries, or
one ``address`` entry holding a JSON object or a formatted address).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..models import User

#: Core §5.4: the claims each scope asks for.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}

#: Core §5.1.1: the members of the ``address`` claim.
ADDRESS_FIELDS = ("formatted", "street_address", "locality", "region", "postal_code", "country")

#: every claim a user record may hold
SETTABLE_CLAIMS = frozenset(
    [c for claims in SCOPE_CLAIMS.values() for c in claims if c != "address"]
    + ["address"]
    + [f"address.{f}" for f in ADDRESS_FIELDS]
)

_BOOLEAN = frozenset({"email_verified", "phone_number_verified"})


def claims_supported() -> list[str]:
    """For discovery (``claims_supported``)."""
    names = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "amr", "at_hash"}
    for claims in SCOPE_CLAIMS.values():
        names.update(claims)
    return sorted(names)


def released_claims(
    user: User, stored: Mapping[str, str], scopes: tuple[str, ...] | list[str]
) -> dict[str, Any]:
    """``sub`` and the claims (``stored``, the user source's) the granted scopes
    release (Core §5.3.2), typed."""
    out: dict[str, Any] = {"sub": user.user_id}
    for scope in scopes:
        for name in SCOPE_CLAIMS.get(scope, ()):
            if name == "address":
                address = _address(stored)
                if address:
                    out["address"] = address
            elif name == "preferred_username" and name not in stored:
                out[name] = user.username
            elif name in stored:
                out[name] = _typed(name, stored[name])
    return out


def _typed(name: str, value: str) -> Any:
    if name in _BOOLEAN:
        return value.strip().lower() in ("true", "1", "yes")
    if name == "updated_at":
        return int(value) if value.strip().isdigit() else value
    return value


def _address(stored: Mapping[str, str]) -> dict[str, str]:
    address: dict[str, str] = {}
    whole = stored.get("address")
    if whole:
        try:
            parsed = orjson.loads(whole)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            address.update({k: str(v) for k, v in parsed.items() if k in ADDRESS_FIELDS})
        else:
            address["formatted"] = whole
    for field in ADDRESS_FIELDS:
        value = stored.get(f"address.{field}")
        if value:
            address[field] = value
    return address
