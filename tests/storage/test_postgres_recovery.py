"""PostgreSQL store: a session the server ended is an outage, and then replaced.

When a server ends a session (a fast shutdown, ``pg_terminate_backend``), it sends a
FATAL error just before it closes the socket.  asyncpg, receiving an error while the
connection sits idle in the pool, keeps consuming it, and a query sent in that window
fails with ``InternalClientError: cannot switch to state …``.  Under load requests did
pick such connections (tests/e2e/test_e2e_outage.py): they answered 500.  The store must
answer them as an outage (503), and the pool must not hand the connection out again,
even when the close never comes.

A relay between the store and PostgreSQL plays the server's part: it injects the FATAL
message and keeps the socket open, the worst case.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from mintage.core.errors import StorageUnavailableError
from mintage.storage.sql.postgres import PostgresStorage


def fatal(code: str, message: str) -> bytes:
    """A protocol-v3 ErrorResponse (PostgreSQL docs, "Message Formats")."""
    fields = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


class InjectingRelay:
    """A TCP relay to PostgreSQL that can send its clients a message of its own."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.to_clients: list[asyncio.StreamWriter] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        #: swallow traffic instead of relaying it: a host that stopped answering
        self.frozen = False

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.to_clients.append(writer)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.frozen:
                        continue
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def inject(self, message: bytes) -> None:
        for writer in self.to_clients:
            if not writer.is_closing():
                writer.write(message)
                await writer.drain()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        if self.server is not None:
            await self.server.wait_closed()


@pytest.fixture
async def relayed(postgres_url: str) -> AsyncIterator[tuple[InjectingRelay, str]]:
    parts = urlsplit(postgres_url)
    relay = InjectingRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await relay.start()
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    yield relay, parts._replace(netloc=netloc).geturl()
    await relay.close()


async def test_connection_ended_by_the_server_is_an_outage_then_replaced(
    relayed: tuple[InjectingRelay, str], pg_schema: str
) -> None:
    relay, url = relayed
    store = PostgresStorage(url, schema=pg_schema, min_size=1, max_size=1)
    await store.open()
    try:
        assert await store.get_token("digest-1") is None  # the one pooled connection
        await relay.inject(fatal("57P01", "terminating connection due to administrator command"))
        await asyncio.sleep(0.05)  # asyncpg reads the message while the connection is idle

        with pytest.raises(StorageUnavailableError):
            await store.get_token("digest-1")
        # The socket is still open: the next call works only on a fresh connection.
        assert await store.get_token("digest-1") is None
        assert await store.ping() is True
    finally:
        await store.close()


async def test_a_server_that_stops_answering_is_an_outage_after_the_command_timeout(
    relayed: tuple[InjectingRelay, str],
) -> None:
    relay, url = relayed
    store = PostgresStorage(url, command_timeout=0.5, listen_check_interval=60)
    await store.open()
    try:
        assert await store.get_client("nobody") is None
        relay.frozen = True  # a partition: nothing comes back, nothing is closed
        started = asyncio.get_running_loop().time()
        with pytest.raises(StorageUnavailableError):
            await store.get_token("digest-that-never-returns")
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        relay.frozen = False
        await relay.close()
        await asyncio.wait_for(store.close(), 30)
