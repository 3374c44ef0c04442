"""``mintage serve`` as a real process, driven by the example client (docs/architecture.md §8).

Each test starts the server on a free port with a temporary SQLite database and working
directory, reads the demo client's credentials from what the server printed, and stops
the server with a signal, which must end it cleanly.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from serve_process import Process, clean_env, free_port, mintage, run_example

DEMO_ID = r"^\s*client_id:\s+(\S+)$"
DEMO_SECRET = r"^\s*client_secret:\s+(mint_cs_\S+)$"
BANNER = r"^Mintage .*issuer (\S+),"


@dataclass
class Served:
    process: Process
    url: str
    db: str
    workdir: Path


StartServer = Callable[..., Served]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartServer]:
    started: list[Process] = []
    db = f"sqlite:///{tmp_path / 'e2e.db'}"

    def start_server(*extra: str) -> Served:
        port = free_port()
        args = [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port)]
        process = Process(
            [*args, "--database-url", db, *extra],
            tmp_path,
            clean_env(),
            f"serve-{len(started)}",
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        process.wait_healthy(url + "/healthz")
        return Served(process, url, db, tmp_path)

    yield start_server
    for process in started:
        process.kill()


def demo_credentials(served: Served) -> tuple[str, str]:
    out = served.process.wait_for_output(BANNER)
    assert out.group(1) == served.url
    client_id = served.process.wait_for_output(DEMO_ID).group(1)
    secret = served.process.wait_for_output(DEMO_SECRET).group(1)
    return client_id, secret


def assert_clean_exit(served: Served, sig: signal.Signals) -> None:
    code = served.process.stop(sig)
    stderr = served.process.stderr
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "Traceback" not in served.process.stdout


def test_demo_client_serves_the_example_client(start: StartServer) -> None:
    served = start()
    client_id, secret = demo_credentials(served)
    stdout = served.process.stdout
    assert stdout.count(secret) == 2  # the credentials line and the curl line, once each
    assert f"curl -s -u '{client_id}:{secret}' -d grant_type=client_credentials" in stdout
    assert f"{served.url}/oauth/token" in stdout and f"{served.url}/resource" in stdout

    result = run_example(
        "client_app.py",
        cwd=served.workdir,
        MINTAGE_URL=served.url,
        CLIENT_ID=client_id,
        CLIENT_SECRET=secret,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    resource = json.loads(result.stdout.split("resource: ", 1)[1].splitlines()[0])
    assert resource["client_id"] == client_id and resource["scope"] == "read"
    assert result.stdout.rstrip().endswith("ok")

    # The same credentials as arguments; a wrong secret is an unexpected answer.
    by_argv = run_example(
        "client_app.py", client_id, secret, "--url", served.url, cwd=served.workdir
    )
    assert by_argv.returncode == 0, by_argv.stderr
    wrong = run_example(
        "client_app.py", client_id, secret[:-1] + "x", "--url", served.url, cwd=served.workdir
    )
    assert wrong.returncode == 1
    assert "401" in wrong.stderr and "invalid_client" in wrong.stderr

    assert_clean_exit(served, signal.SIGINT)


def test_restart_keeps_clients_and_creates_no_second_demo(start: StartServer) -> None:
    first = start()
    client_id, secret = demo_credentials(first)
    assert_clean_exit(first, signal.SIGTERM)

    second = start()
    second.process.wait_for_output(BANNER)
    assert "client_secret" not in second.process.stdout
    response = httpx.post(
        second.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    listed = mintage("client", "list", "--json", "--database-url", second.db, cwd=second.workdir)
    assert [c["client_id"] for c in json.loads(listed.stdout)] == [client_id]
    assert_clean_exit(second, signal.SIGTERM)


def test_password_client_refreshes_and_revokes(start: StartServer) -> None:
    served = start()
    demo_credentials(served)
    created = mintage(
        "client",
        "create",
        "--name",
        "Legacy app",
        "--grant-type",
        "password",
        "--grant-type",
        "refresh_token",
        "--scope",
        "read write",
        "--json",
        "--database-url",
        served.db,
        cwd=served.workdir,
    )
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    user = mintage(
        "user",
        "create",
        "alice",
        "--password-stdin",
        "--database-url",
        served.db,
        cwd=served.workdir,
        input="correct horse\n",
    )
    assert user.returncode == 0, user.stderr

    result = run_example(
        "client_app.py",
        "--username",
        "alice",
        "--password",
        "correct horse",
        cwd=served.workdir,
        MINTAGE_URL=served.url,
        CLIENT_ID=client["client_id"],
        CLIENT_SECRET=client["client_secret"],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "old refresh token rejected: invalid_grant" in out
    assert "resource after revocation: 401 invalid_token" in out
    assert out.count("resource: ") == 2

    wrong = run_example(
        "client_app.py",
        "--username",
        "alice",
        "--password",
        "wrong",
        cwd=served.workdir,
        MINTAGE_URL=served.url,
        CLIENT_ID=client["client_id"],
        CLIENT_SECRET=client["client_secret"],
    )
    assert wrong.returncode == 1 and "invalid_grant" in wrong.stderr
    assert_clean_exit(served, signal.SIGINT)


def test_workers_serve_and_stop_cleanly(start: StartServer) -> None:
    served = start("--workers", "2")
    client_id, secret = demo_credentials(served)
    result = run_example(
        "client_app.py", client_id, secret, "--url", served.url, cwd=served.workdir
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert_clean_exit(served, signal.SIGINT)


def test_bad_settings_exit_2_without_traceback(tmp_path: Path) -> None:
    result = mintage("serve", "--port", "70000", cwd=tmp_path)
    assert result.returncode == 2
    assert "port" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_on_a_listener_of_their_own(start: StartServer, workers: str) -> None:
    """``--metrics-port``: /metrics on loopback at that port and nowhere else; the
    listener answers nothing but /metrics.  With workers, each answers on it."""
    metrics_port = free_port()
    served = start("--workers", workers, "--metrics-port", str(metrics_port))
    client_id, secret = demo_credentials(served)
    listener = f"http://127.0.0.1:{metrics_port}"
    assert served.process.wait_for_output(r"metrics on (\S+)/metrics").group(1) == listener
    grant = {"grant_type": "client_credentials"}
    issued = httpx.post(f"{served.url}/oauth/token", data=grant, auth=(client_id, secret))
    assert issued.status_code == 200
    for _ in range(int(workers) * 2):  # a new connection each time: any worker may answer
        scraped = httpx.get(f"{listener}/metrics")
        assert scraped.status_code == 200
        assert "mintage_http_request_duration_seconds" in scraped.text
    assert httpx.get(f"{served.url}/metrics").status_code == 404
    assert (
        httpx.post(f"{listener}/oauth/token", data=grant, auth=(client_id, secret)).status_code
        == 404
    )
    assert httpx.get(f"{listener}/healthz").status_code == 404
    assert_clean_exit(served, signal.SIGTERM)
