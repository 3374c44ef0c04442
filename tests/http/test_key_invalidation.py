"""A signing key rotated by another instance is used at once: the store's invalidation
hook (``keys`` topic) makes the key ring reload without waiting for its interval."""

from __future__ import annotations

from mintage.web.app import build_server
from oauth_testkit import PEPPER, Server


async def test_a_rotation_elsewhere_reaches_the_jwks_at_once(server: Server) -> None:
    before = {k["kid"] for k in (await server.http.get("/.well-known/jwks.json")).json()["keys"]}
    ring = server.engine.keys
    assert before and ring._loaded_at is not None  # loaded, and trusted for a second

    # Another instance on the same store (its own engine and key ring) rotates.
    other = build_server(server.settings, server.storage, clock=server.clock, pepper=PEPPER)
    rotated = await other.keys.rotate(other.keys.algs[0], publish_for=3600)

    assert ring._loaded_at is None  # told, not waiting out the reload interval
    after = {k["kid"] for k in (await server.http.get("/.well-known/jwks.json")).json()["keys"]}
    assert after == before | {rotated.kid}
