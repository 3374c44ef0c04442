"""The moment a request asked for a new sign-in, carried with it, tamper-proof.

OpenID Connect Core §3.1.2.1: ``prompt=login`` (and ``max_age=0``, its equivalent)
asks the user to sign in again even with a session.  The session is not ended for it:
anyone can put such a link on another site, and following it must not sign the user
out.  The request instead goes on (as the sign-in form's ``return_to``, then as the
consent form's fields) with one more parameter, :data:`PARAM`: the moment it asked for
the sign-in and a MAC over that moment and every other parameter.  It is answered only
for a sign-in at or after that moment (``auth_time`` ≥ it), so opening ``return_to``
without signing in shows the sign-in page again, while coming back after the new
sign-in passes.  Nothing is kept on the server: any worker can check the MAC.

Editing the parameters voids the MAC (the demand then starts again from now); lifting
a stamp into another request fails for the same reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from .csrf import canonical

#: the parameter name; a client's own parameter of that name is replaced
PARAM = "sign_in_after"
#: seconds since the epoch fit in 12 digits for the next 30,000 years
_MAX_DIGITS = 12


class SignInDemand:
    """Stamps and reads :data:`PARAM` under one key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def stamp(self, params: Mapping[str, str], now: int) -> dict[str, str]:
        """``params`` demanding a sign-in at or after ``now``."""
        rest = _without_stamp(params)
        return {**rest, PARAM: f"{now}.{self._mac(now, rest)}"}

    def moment(self, params: Mapping[str, str]) -> int | None:
        """When ``params`` asked for a sign-in; ``None`` when unstamped or altered.

        The MAC is compared in constant time.
        """
        raw = params.get(PARAM)
        if raw is None:
            return None
        when, _, mac = raw.partition(".")
        if not (when.isascii() and when.isdigit()) or len(when) > _MAX_DIGITS:
            return None
        moment = int(when)
        expected = self._mac(moment, _without_stamp(params))
        if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
            return None
        return moment

    def _mac(self, moment: int, params: Mapping[str, str]) -> str:
        mac = hmac.new(self._key, b"%d:" % moment, hashlib.sha256)
        mac.update(canonical(params.items()))
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def _without_stamp(params: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k != PARAM}
