"""The floor: the least any client_credentials answer costs in Python behind uvicorn.

It reads and parses the body, checks an HTTP Basic secret by HMAC, mints 256 random bits
and answers JSON.  It stores nothing, so the gap between it and Mintage is what Mintage
itself costs.  Run: ``uvicorn floor_app:app --app-dir bench`` with ``FLOOR_CLIENT_ID``,
``FLOOR_CLIENT_SECRET`` and ``FLOOR_PEPPER`` set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PEPPER = os.environ.get("FLOOR_PEPPER", "floor-pepper").encode()
_CLIENT_ID = os.environ.get("FLOOR_CLIENT_ID", "floor")
_DIGEST = hmac.new(_PEPPER, os.environ.get("FLOOR_CLIENT_SECRET", "").encode(), "sha256").digest()
_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":  # lifespan and anything else: nothing to set up
        return
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    form = dict(parse_qsl(b"".join(chunks).decode("latin-1")))
    authorization = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
    client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
    presented = hmac.new(_PEPPER, secret.encode(), hashlib.sha256).digest()
    if client_id != _CLIENT_ID or not hmac.compare_digest(presented, _DIGEST):
        await _answer(send, 401, b'{"error":"invalid_client"}')
        return
    if form.get("grant_type") != "client_credentials":
        await _answer(send, 400, b'{"error":"unsupported_grant_type"}')
        return
    token = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    body = {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "read"}
    await _answer(send, 200, orjson.dumps(body))
