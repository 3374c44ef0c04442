"""RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0 §2, §3).

The engine half of ``/oauth/logout``: it checks the ``id_token_hint``, identifies the
client, and allows a ``post_logout_redirect_uri`` only when it exactly matches one the
client registered (§3.1: never an open redirector).  Asking the user, ending the
session and redirecting belong to ``mintage.web``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequestError
from ..jose import JWSError, header_of, verify
from ..keyring import KeyRing
from ..models import Client
from ..storage import ClientStore


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    """A validated logout request.

    ``subject`` is the ``sub`` of a valid ``id_token_hint`` (the RP says whose session
    it means); ``redirect_uri`` is the registered ``post_logout_redirect_uri`` to
    return to, if one was asked for.
    """

    client: Client | None
    subject: str | None
    redirect_uri: str | None
    state: str | None


class EndSessionEndpoint:
    def __init__(self, clients: ClientStore, keys: KeyRing, *, issuer: str) -> None:
        self._clients = clients
        self._keys = keys
        self._issuer = issuer

    async def validate(self, params: dict[str, str]) -> LogoutRequest:
        """Raises :class:`InvalidRequestError` for a request we must not follow."""
        given = {k: v for k, v in params.items() if v != ""}
        claims = None
        hint = given.get("id_token_hint")
        if hint is not None:
            claims = await self.id_token_claims(hint)
        client_id = given.get("client_id")
        if claims is not None:
            aud = claims.get("aud")
            audiences = aud if isinstance(aud, list) else [aud]
            # §2: with both, client_id must be the ID token's audience.
            if client_id is not None and client_id not in audiences:
                raise InvalidRequestError("client_id does not match the id_token_hint")
            client_id = client_id or (audiences[0] if len(audiences) == 1 else None)
        client = await self._clients.get_client(client_id) if client_id else None
        if client_id is not None and client is None:
            raise InvalidRequestError("unknown client_id")
        redirect_uri = given.get("post_logout_redirect_uri")
        if redirect_uri is not None:
            # §3: "MUST NOT perform post-logout redirection" unless the client is known
            # and the URI was registered for it, compared exactly.
            if client is None:
                raise InvalidRequestError(
                    "post_logout_redirect_uri needs id_token_hint or client_id"
                )
            if redirect_uri not in client.post_logout_redirect_uris:
                raise InvalidRequestError(
                    "post_logout_redirect_uri is not registered for this client"
                )
        subject = claims.get("sub") if claims is not None else None
        return LogoutRequest(
            client=client,
            subject=subject if isinstance(subject, str) else None,
            redirect_uri=redirect_uri,
            state=given.get("state"),
        )

    async def id_token_claims(self, token: str) -> dict[str, Any]:
        """The claims of an ID token we issued: signature by one of our published keys
        and our ``iss``.  An expired one is fine (§2: the session may outlive it)."""
        try:
            kid = header_of(token).get("kid")
            found = await self._keys.verification_key(kid) if isinstance(kid, str) else None
            if found is None:
                raise JWSError("unknown kid")
            alg, key = found
            header, claims = verify(token, key, allowed=(alg,))
        except JWSError:
            raise InvalidRequestError("id_token_hint is not an ID token of this server") from None
        if claims.get("iss") != self._issuer or header.get("typ") == "at+jwt":
            raise InvalidRequestError("id_token_hint is not an ID token of this server")
        return claims
