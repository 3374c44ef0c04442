"""Preparing Mintage's store before a run, through the library API and bulk SQL.

Clients and the user are created with :func:`mintage.register_client` and the store's
own methods, as an operator's script would.  Rows that only need to *exist* (the 10⁶
tokens of S6, the refresh tokens that S4 spends) are written in one transaction with
the store's own ``INSERT`` statement: a fast path, not one HTTP request each.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from mintage.core.clients import register_client
from mintage.core.credentials import REFRESH_TOKEN_PREFIX, SecretHasher, mint, new_id, token_digest
from mintage.core.models import TokenKind, User
from mintage.core.passwords import hash_password
from mintage.secret_key import load_pepper
from mintage.settings import Settings
from mintage.storage import open_storage

_COLUMNS = (
    "digest",
    "kind",
    "client_id",
    "scope",
    "issued_at",
    "expires_at",
    "family_id",
    "subject",
    "revoked_at",
    "consumed_at",
)
_SQLITE_INSERT = (
    f"INSERT INTO tokens ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
)
SCHEMA = "mintage_bench"  # PostgreSQL: a schema of our own, dropped and made anew


@dataclass(frozen=True, slots=True)
class MintageCredentials:
    cc_id: str  # client_credentials client (S1, S2, S3)
    cc_secret: str
    jwt_id: str  # client_credentials client given RFC 9068 JWT access tokens (S5)
    jwt_secret: str
    rt_id: str  # password + refresh_token client (S4)
    rt_secret: str
    user_id: str


def pg_url(base_url: str) -> str:
    """The URL that puts every connection of the server into :data:`SCHEMA`."""
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}search_path={SCHEMA}"


async def reset_pg_schema(base_url: str) -> None:
    """Drop and recreate the bench's own schema; nothing else is touched."""
    conn = await asyncpg.connect(base_url, timeout=5)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await conn.execute(f"CREATE SCHEMA {SCHEMA}")
    finally:
        await conn.close()


async def _prepare(database_url: str, secret_key: str) -> MintageCredentials:
    pepper = load_pepper(Settings(database_url=database_url, secret_key=secret_key))
    hasher = SecretHasher(pepper)
    store = open_storage(database_url)
    await store.open()
    try:
        cc, cc_secret = await register_client(
            store,
            hasher,
            name="bench client_credentials",
            grant_types=["client_credentials"],
            scopes=["read"],
        )
        jwt, jwt_secret = await register_client(
            store,
            hasher,
            name="bench client_credentials, JWT access tokens",
            grant_types=["client_credentials"],
            scopes=["read"],
            access_token_format="jwt",
        )
        rt, rt_secret = await register_client(
            store,
            hasher,
            name="bench password + refresh",
            grant_types=["password", "refresh_token"],
            scopes=["read"],
        )
        user = User(
            user_id=new_id(),
            username="bench",
            password_hash=hash_password("bench password"),
            created_at=int(time.time()),
        )
        await store.save_user(user)
    finally:
        await store.close()
    assert cc_secret is not None and jwt_secret is not None and rt_secret is not None
    return MintageCredentials(
        cc.client_id, cc_secret, jwt.client_id, jwt_secret, rt.client_id, rt_secret, user.user_id
    )


def prepare(database_url: str, secret_key: str) -> MintageCredentials:
    """Migrate a fresh store and create the bench's clients (opaque and JWT) and user."""
    if database_url.startswith("postgres"):
        base = database_url.split("?", 1)[0]
        asyncio.run(reset_pg_schema(base))
    return asyncio.run(_prepare(database_url, secret_key))


def _insert(database_url: str, rows: Iterator[tuple[Any, ...]]) -> None:
    if database_url.startswith("sqlite:///"):
        db = sqlite3.connect(database_url[len("sqlite:///") :], timeout=30)
        try:
            with db:  # one transaction
                db.executemany(_SQLITE_INSERT, rows)
        finally:
            db.close()
        return

    async def copy() -> None:
        conn = await asyncpg.connect(database_url.split("?", 1)[0], timeout=5)
        try:
            await conn.copy_records_to_table(
                "tokens", records=list(rows), columns=_COLUMNS, schema_name=SCHEMA
            )
        finally:
            await conn.close()

    asyncio.run(copy())


def fill_tokens(database_url: str, count: int, client_id: str) -> float:
    """Store ``count`` live access tokens (S6); returns the seconds it took."""
    started = time.perf_counter()
    now = int(time.time())
    kind = TokenKind.ACCESS.value

    def rows() -> Iterator[tuple[Any, ...]]:
        for _ in range(count):
            digest = os.urandom(32).hex()  # never presented: any unique digest will do
            yield (
                digest,
                kind,
                client_id,
                "read",
                now,
                now + 86400,
                digest[:22],
                client_id,
                None,
                None,
            )

    _insert(database_url, rows())
    return time.perf_counter() - started


def mint_refresh_pool(database_url: str, creds: MintageCredentials, count: int, out: Path) -> None:
    """Store ``count`` fresh refresh tokens, each its own family, and list them in ``out``.

    They are what the password grant would have issued to ``creds.rt_id`` for the user.
    """
    now = int(time.time())
    kind = TokenKind.REFRESH.value
    values = [mint(REFRESH_TOKEN_PREFIX) for _ in range(count)]
    rows = (
        (
            token_digest(value),
            kind,
            creds.rt_id,
            "read",
            now,
            now + 14 * 86400,
            new_id(),
            creds.user_id,
            None,
            None,
        )
        for value in values
    )
    _insert(database_url, rows)
    out.write_text("\n".join(values) + "\n")
