"""The optional grace window for refresh retries (RFC 9700 §4.14.2; docs/operations.md).

A client whose refresh response was lost (a timeout, a dropped connection) retries with
the refresh token it still holds, which the server has already rotated.  RFC 9700
§4.14.2 reads that as reuse and revokes the family, so the user must sign in again.
With ``refresh_grace_seconds`` set, a retry within that many seconds of the rotation,
by the same client and for the same scope, gets the **same** successor pair again, as
long as that pair is still live and its refresh token still unused.  Anything else is
reuse, as before.

The store keeps only digests, so the rotation keeps its response sealed in the parent's
``Token.successor``, written by the very statement that consumes the parent.  The seal
is AES-256-GCM (:mod:`..sealing`) under a key of its own for each parent: an HMAC of the
parent token under a key derived (HKDF-SHA256, its own purpose) from the server pepper;
the parent's digest is the associated data.  Only whoever presents the parent token can
open it: a database dump yields no credential, even with the pepper, and a blob left
behind after the window is useless.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson

from ..credentials import token_digest
from ..errors import OAuthError
from ..models import Client, Token
from ..scope import narrowed_scope, parse_scope
from ..sealing import Sealer, SealError, derive_key
from ..storage import TokenStore

#: the most a deployment may configure; longer gives a stolen token a longer ride
MAX_GRACE_SECONDS = 60


class RefreshGrace:
    """Seals rotation responses and answers retries within ``seconds`` of a rotation."""

    __slots__ = ("_key", "seconds")

    def __init__(self, pepper: bytes, seconds: int) -> None:
        if not 0 < seconds <= MAX_GRACE_SECONDS:
            raise ValueError(f"refresh grace must be 1 to {MAX_GRACE_SECONDS} seconds")
        self._key = derive_key(pepper, "mintage refresh successor")
        self.seconds = seconds

    def _sealer(self, parent: str) -> Sealer:
        # One key per parent token (HKDF-Extract style: HMAC of the token under the
        # purpose key), so the blob opens only for whoever presents that token.
        return Sealer(hmac.digest(self._key, parent.encode("utf-8", "surrogatepass"), "sha256"))

    def seal(self, parent: str, parent_digest: str, response: dict[str, Any]) -> str:
        """The rotation ``response`` sealed for the holder of the ``parent`` token."""
        return self._sealer(parent).seal(orjson.dumps(response), parent_digest.encode("ascii"))

    def open(self, parent: str, parent_digest: str, sealed: str) -> dict[str, Any] | None:
        """The sealed response, or ``None`` when it does not open with this token (or
        was sealed under another pepper, or altered)."""
        try:
            plain = self._sealer(parent).open(sealed, parent_digest.encode("ascii"))
        except SealError:
            return None
        response: dict[str, Any] = orjson.loads(plain)
        return response

    async def replay(
        self,
        parent: Token,
        presented: str,
        client: Client,
        requested_scope: str | None,
        tokens: TokenStore,
        now: int,
    ) -> dict[str, Any] | None:
        """The rotation's response again, if this request is a retry within the window;
        ``None`` when it is not, and the caller treats it as reuse.

        ``parent`` is the consumed token as just read, already checked to belong to
        ``client``.  No grace for a request for another scope (not a retry of that
        rotation), nor once the family is revoked (the parent is revoked with it) or
        the successor refresh token is used or revoked: then the response did reach
        someone, and this is a second use.
        """
        if (
            parent.successor is None
            or parent.consumed_at is None
            or parent.revoked_at is not None
            or now - parent.consumed_at > self.seconds
        ):
            return None
        response = self.open(presented, parent.digest, parent.successor)
        if response is None:
            return None
        # A retry repeats its request: it must be granted exactly the scope that the
        # rotation was.  A wider, narrower or malformed scope is another request.
        original = tuple(s for s in parse_scope(parent.scope or None) if s in client.scopes)
        try:
            scopes = narrowed_scope(requested_scope, original)
        except OAuthError:
            return None
        if set(scopes) != set(parse_scope(response.get("scope") or None)):
            return None
        # Nothing is resurrected: both successors must still be live, and the refresh
        # token unused (its use proves the response was received).
        successor = await tokens.get_token(token_digest(response["refresh_token"]))
        if successor is None or successor.consumed_at is not None or not successor.is_active(now):
            return None
        access = await tokens.get_token(token_digest(response["access_token"]))
        if access is None or not access.is_active(now):
            return None
        return {**response, "expires_in": access.expires_at - now}
