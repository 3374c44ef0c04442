"""``examples/embedded_custom_store.py``: importable quietly, and it runs.

In process, its app is driven through ``ASGITransport`` (Mintage mounted at ``/auth``
on the example's own client and token tables); as a real process, it is started the way
its docstring says and the example client talks to it.  Its two store classes pass the
contract of their concerns (:mod:`mintage.testing`).
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from serve_process import EXAMPLES, Process, clean_env, free_port, run_example

from mintage.testing import ClientStoreContract, TokenStoreContract


def load_example(capsys: pytest.CaptureFixture[str]) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "embedded_custom_store", EXAMPLES / "embedded_custom_store.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert capsys.readouterr() == ("", "")  # no side effects on import
    return module


async def test_mounted_app_with_the_logging_store(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    example = load_example(capsys)
    app = example.build_app(port=8000)
    caplog.set_level(logging.INFO, logger="example.store")
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://127.0.0.1:8000"
        ) as client,
    ):
        printed = capsys.readouterr().out
        client_id = printed.split("client_id:", 1)[1].split()[0]
        secret = printed.split("client_secret:", 1)[1].split()[0]
        token = await client.post(
            "/auth/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        resource = await client.get("/auth/resource", headers=bearer)
        assert resource.status_code == 200
        assert resource.json()["client_id"] == client_id
        metadata = await client.get("/auth/.well-known/oauth-authorization-server")
        assert metadata.json()["token_endpoint"] == "http://127.0.0.1:8000/auth/oauth/token"
        home = await client.get("/")
        assert home.json()["authorization_server_metadata"].endswith(
            "/auth/.well-known/oauth-authorization-server"
        )
    logged = caplog.text
    assert f"get_client({client_id}) -> Example service" in logged
    assert "save_token(access_token" in logged
    assert secret not in logged and token.json()["access_token"] not in logged


def test_the_example_runs_as_a_script(tmp_path: Path) -> None:
    port = free_port()
    process = Process(
        [sys.executable, str(EXAMPLES / "embedded_custom_store.py")],
        tmp_path,
        clean_env(PORT=str(port)),
        "embedded",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        process.wait_healthy(base + "/auth/healthz")
        client_id = process.wait_for_output(r"^client_id:\s+(\S+)$").group(1)
        secret = process.wait_for_output(r"^client_secret:\s+(\S+)$").group(1)
        result = run_example(
            "client_app.py", client_id, secret, "--url", base + "/auth", cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert process.stop(signal.SIGINT) == 0
        assert "Traceback" not in process.stderr
        assert "example.store: save_token(access_token" in process.stderr
    finally:
        process.kill()


def _example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "embedded_custom_store_contract", EXAMPLES / "embedded_custom_store.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_EXAMPLE = _example_module()


class TestTheExampleClientsPassTheContract(ClientStoreContract):
    """The example's client table meets :class:`mintage.ClientStore` (a test of it that
    needs tokens in the same object is skipped)."""

    @pytest.fixture
    def store(self) -> Any:
        return _EXAMPLE.Clients(_EXAMPLE.connect())


class TestTheExampleTokensPassTheContract(TokenStoreContract):
    @pytest.fixture
    def store(self) -> Any:
        return _EXAMPLE.Tokens(_EXAMPLE.connect())
