"""Fixtures for the resource kit against the real Mintage app (memory store, frozen clock).

``transport`` reaches the app in process and counts the requests the kit makes, so a
test can prove that a cached answer cost no HTTP call; ``rs`` is the resource server's
own confidential client (what introspection authenticates with).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from resource_kit_support import CountingTransport

from mintage.resource import IntrospectionVerifier
from oauth_testkit import Registered, Server


@pytest.fixture
def transport(server: Server) -> CountingTransport:
    return CountingTransport(httpx.ASGITransport(app=server.app))


@pytest.fixture
async def rs(server: Server) -> Registered:
    """The API's own client: confidential, registered for the tokens' audience (its
    ``resources``), no grants needed to introspect."""
    return await server.resource_server("orders api")


@pytest.fixture
async def introspector(
    server: Server, rs: Registered, transport: CountingTransport
) -> AsyncIterator[IntrospectionVerifier]:
    assert rs.secret is not None
    verifier = IntrospectionVerifier(
        server.settings.issuer_url,
        client_id=rs.client_id,
        client_secret=rs.secret,
        transport=transport,
        clock=server.clock,
    )
    yield verifier
    await verifier.aclose()
