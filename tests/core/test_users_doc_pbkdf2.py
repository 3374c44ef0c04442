"""The Django PBKDF2 verifier of docs/users.md, run from the page itself, and
Mintage's own users table as a user source."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from mintage.core.users import StoreUserSource, UserSource
from mintage.storage.memory import MemoryStorage
from oauth_testkit import PASSWORD, add_user

DOC = Path(__file__).resolve().parents[2] / "docs" / "users.md"
#: Django's own test vector (auth_tests, PBKDF2PasswordHasher with 1,000,000 rounds)
DJANGO_HASH = "pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps="


def snippet() -> dict[str, Any]:
    """The namespace of the block that follows the ``django-pbkdf2`` marker."""
    text = DOC.read_text()
    found = re.search(r"<!-- django-pbkdf2:[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/users.md lost its Django PBKDF2 block"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(DOC), "exec"), namespace)  # our own docs
    return namespace


def test_django_hashes_verify() -> None:
    verify = snippet()["django_pbkdf2_verify"]
    assert verify(DJANGO_HASH, "lètmein") is True
    assert verify(DJANGO_HASH, "letmein") is False
    assert verify(DJANGO_HASH.replace("r1uL", "r1uM"), "lètmein") is False


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "pbkdf2_sha256$seasalt",
        "pbkdf2_sha256$many$seasalt$x",
        "pbkdf2_sha1$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=",
        "pbkdf2_sha256$0$seasalt$x",
        "pbkdf2_sha256$99999999999$seasalt$x",  # would hold the pool for hours
    ],
)
def test_malformed_or_foreign_hashes_fail_without_raising(encoded: str) -> None:
    assert snippet()["django_pbkdf2_verify"](encoded, "lètmein") is False


def test_an_unknown_user_costs_the_work_of_a_real_check() -> None:
    namespace = snippet()
    rounds: list[int] = []

    class Spy:
        @staticmethod
        def pbkdf2_hmac(name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
            rounds.append(iterations)
            return hashlib.pbkdf2_hmac(name, password, salt, 1)

    namespace["hashlib"] = Spy
    verify = namespace["django_pbkdf2_verify"]
    assert verify(None, "lètmein") is False
    assert verify(None, "") is False
    assert rounds == [namespace["DUMMY_ITERATIONS"]] * 2
    assert namespace["DUMMY_ITERATIONS"] >= 1_000_000


async def test_mintages_own_table_is_a_user_source() -> None:
    store = MemoryStorage()
    alice = await add_user(store, "alice")
    await store.save_user(
        alice.__class__(alice.user_id, "alice", alice.password_hash, claims={"email": "a@x"})
    )
    source = StoreUserSource(store)
    assert isinstance(source, UserSource)
    found = await source.get_user_by_username("alice")
    assert found is not None and found.user_id == alice.user_id
    assert await source.get_user(alice.user_id) == found
    assert await source.get_user_by_username("Alice") is None
    assert source.verify_password(found, PASSWORD) is True
    assert source.verify_password(found, PASSWORD + "!") is False
    assert source.verify_password(None, PASSWORD) is False
    assert await source.claims(found) == {"email": "a@x"}
