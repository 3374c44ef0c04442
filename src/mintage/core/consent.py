"""Remembered consent: which scopes a user approved for a client.

RFC 6749 §4.1.1: the server obtains an authorization decision "by asking the resource
owner or by establishing approval via other means"; a remembered consent is such a
means.  The user is asked again whenever a client asks for a scope beyond what was
approved.  Withdrawing consent also revokes every token that client holds for the
user, so it takes effect at once rather than when the tokens expire.

A remembered consent stands in for asking only where the client's identity is
assured (:func:`remembered_consent_applies`).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from .audit import AuditEventType, Auditor, Origin
from .clock import Clock
from .models import Client, Consent
from .storage import ConsentStore, SubjectTokenStore


def remembered_consent_applies(client: Client, redirect_uri: str) -> bool:
    """May a remembered consent answer this request without asking the user?

    RFC 8252 §8.6: "unless the identity of the client can be proven, the request SHOULD
    be processed as if no previous request had been approved" (also RFC 6749 §10.2).  A
    public native client proves nothing: any app on the device can send its
    ``client_id`` and listen on a loopback port (``http://127.0.0.1:*``,
    ``http://[::1]:*``, ``http://localhost:*``) or register its private-use scheme, and
    with a remembered consent the code would reach that app without the user ever
    seeing a page.  So such a request asks every time.  A confidential client proves
    itself at the token endpoint, and an ``https`` redirect URI reaches only its
    domain's owner (§8.6 accepts claimed ``https`` redirects as identity proof).
    Registration admits plain ``http`` only on loopback hosts, so "not https" is
    exactly "loopback or private-use scheme".
    """
    return not client.is_public or urlsplit(redirect_uri).scheme == "https"


class ConsentService:
    def __init__(
        self,
        consents: ConsentStore,
        tokens: SubjectTokenStore,
        clock: Clock,
        audit: Auditor | None = None,
    ) -> None:
        self._consents = consents
        self._tokens = tokens
        self._clock = clock
        self._audit = audit

    async def get(self, user_id: str, client_id: str) -> Consent | None:
        return await self._consents.get_consent(user_id, client_id)

    async def needs_consent(self, user_id: str, client_id: str, scopes: Iterable[str]) -> bool:
        """``True`` unless every requested scope was approved before."""
        consent = await self._consents.get_consent(user_id, client_id)
        if consent is None:
            return True
        return not set(scopes) <= set(consent.scopes)

    async def remember(self, user_id: str, client_id: str, scopes: Iterable[str]) -> None:
        """Record approval of ``scopes``, added to what the user approved before."""
        previous = await self._consents.get_consent(user_id, client_id)
        merged = list(previous.scopes) if previous is not None else []
        merged.extend(s for s in scopes if s not in merged)
        await self._consents.save_consent(
            Consent(user_id, client_id, tuple(merged), granted_at=self._clock())
        )

    async def revoke(self, user_id: str, client_id: str, *, origin: Origin | None = None) -> int:
        """Withdraw consent and revoke the client's tokens for the user; how many tokens.

        Recorded as ``consent.revoked`` when there was a consent or a token to take back.
        """
        had_consent = await self._consents.delete_consent(user_id, client_id)
        revoked = await self._tokens.revoke_for_subject(client_id, user_id, self._clock())
        if self._audit is not None and (had_consent or revoked):
            await self._audit.record(
                AuditEventType.CONSENT_REVOKED,
                origin,
                client_id=client_id,
                subject=user_id,
                had_consent=had_consent,
                revoked=revoked,
            )
        return revoked

    async def list(self, user_id: str) -> list[Consent]:
        """The user's consents, by client id."""
        return await self._consents.list_consents(user_id)
