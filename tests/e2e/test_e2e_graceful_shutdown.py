"""Graceful shutdown of ``mintage serve`` (docs/operations.md, "Graceful shutdown"): on
SIGTERM it stops accepting connections, lets the request in flight finish, closes the
store and exits 0."""

from __future__ import annotations

import base64
import json
import signal
import socket
import sys
import time
from pathlib import Path

from serve_process import Process, clean_env, free_port, refuses_connections

from polling import until_blocking

DEMO_ID = r"^\s*client_id:\s+(\S+)$"
DEMO_SECRET = r"^\s*client_secret:\s+(mint_cs_\S+)$"


def test_a_request_in_flight_is_answered_after_sigterm(tmp_path: Path) -> None:
    port = free_port()
    db = f"sqlite:///{tmp_path / 'shutdown.db'}"
    args = [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port)]
    server = Process(
        [*args, "--database-url", db],
        tmp_path,
        clean_env(),
        "serve",
    )
    try:
        server.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        client_id = server.wait_for_output(DEMO_ID).group(1)
        secret = server.wait_for_output(DEMO_SECRET).group(1)
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        body = b"grant_type=client_credentials&scope=read"
        head = (
            f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Basic {basic}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(head + body[:10])  # the request has begun, its body has not all come
            time.sleep(0.3)
            server.popen.send_signal(signal.SIGTERM)
            # No new connections once shutting down...
            until_blocking(lambda: refuses_connections(port), what="new connections refused")
            # ...but the one in flight is still served, then closed.
            conn.sendall(body[10:])
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 200 OK", answer
        assert b"connection: close" in rest.lower()
        assert json.loads(rest.partition(b"\r\n\r\n")[2])["token_type"] == "Bearer"
        assert server.popen.wait(timeout=20) == 0, server.stderr
        assert "Traceback" not in server.stderr
    finally:
        server.kill()
