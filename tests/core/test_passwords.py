"""Human passwords: Argon2id, verified off the event loop (RFC 9106, DESIGN §4)."""

from __future__ import annotations

from mintage.core.passwords import hash_password, verify_password


async def test_hash_and_verify() -> None:
    hashed = hash_password("s3cret pass")
    assert hashed.startswith("$argon2id$")
    assert "s3cret" not in hashed
    assert await verify_password(hashed, "s3cret pass")
    assert not await verify_password(hashed, "s3cret pasS")


async def test_unknown_user_and_broken_hash_never_verify() -> None:
    assert not await verify_password(None, "mintage dummy password")
    assert not await verify_password("not a hash", "x")
