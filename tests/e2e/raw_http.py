"""A small HTTP/1.1 keep-alive client on raw asyncio streams, for load against a real server.

docs/architecture.md §6: httpx collapses to a few hundred requests a second under concurrency, so
load comes from plain sockets.  A :class:`Connection` sends one request at a time and reads
the answer by ``Content-Length`` (every answer of Mintage carries one).  When the server
dies mid-request the call raises :class:`ConnectionLost`: the client never saw an
answer, which is exactly what the crash tests must tell apart from a received 200.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson


class ConnectionLost(Exception):
    """The connection failed before a complete answer arrived."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def basic(client_id: str, secret: str) -> str:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
    return f"Basic {raw}"


@dataclass
class Connection:
    """One keep-alive connection; reconnects lazily after a failure."""

    host: str
    port: int
    timeout: float = 10.0
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()
        self._reader = self._writer = None

    @staticmethod
    def encode(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are: a request, or the first part of one."""
        try:
            _, writer = await self._open()
            writer.write(data)
            await writer.drain()
        except OSError as exc:
            self.close()
            raise ConnectionLost(str(exc)) from exc

    async def read_reply(self, *, then_closed: bool = False) -> Reply:
        """The next complete answer on this connection; with ``then_closed``, the server
        must close the connection after it (``ConnectionLost`` if anything else comes)."""
        reader, _ = await self._open()
        try:
            async with asyncio.timeout(self.timeout):
                head = await reader.readuntil(b"\r\n\r\n")
                status_line, *header_lines = head.decode("latin-1").split("\r\n")
                status = int(status_line.split(" ", 2)[1])
                headers: dict[str, str] = {}
                for line in header_lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if then_closed and await reader.read(1):
                    raise ConnectionLost("the server kept the connection open")
        except TimeoutError:
            self.close()
            raise  # no answer in time is a failure of its own, not a lost connection
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.close()
            raise ConnectionLost(repr(exc)) from exc
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, headers, body)

    async def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        await self.send_raw(self.encode(method, path, self.host, all_headers, body))
        return await self.read_reply()

    async def post(self, path: str, form: dict[str, str], auth: str | None = None) -> Reply:
        return await self.request(
            "POST", path, form=form, headers={"Authorization": auth} if auth else None
        )
