"""Hooks for counting what the engine does, without a metrics library in core.

docs/architecture.md §1: core imports no metrics library.

The engine calls an :class:`EngineObserver` at the moments an operator wants to count;
the default does nothing.  The web layer passes one that feeds Prometheus
(:mod:`mintage.web.metrics`); an embedder may pass their own.  Error codes need no hook:
every error answer carries its RFC error code in :attr:`OAuthResponse.error`.

Methods run on the hot path, synchronously: they must be cheap and must not raise.
"""

from __future__ import annotations


class EngineObserver:
    """Does nothing; subclass and override what you want to observe."""

    __slots__ = ()

    def token_issued(self, grant_type: str, client_id: str) -> None:
        """The token endpoint answered with tokens (RFC 6749 §5.1) for this grant and client.

        Never receives the token itself.
        """


NO_OBSERVER = EngineObserver()
