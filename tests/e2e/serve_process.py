"""Real server processes for end-to-end tests: start, wait until healthy, stop by signal.

Output goes to files rather than pipes, so a chatty process can never block on a full
pipe, and a test can read what was printed so far while the process runs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from polling import until_blocking

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def refuses_connections(port: int) -> bool:
    """Nothing accepts connections on ``port`` of the loopback interface (any more)."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without MINTAGE_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINTAGE_")}
    env.update(extra)
    return env


class Process:
    """A child process whose stdout and stderr land in files under ``workdir``."""

    def __init__(self, args: Sequence[str], workdir: Path, env: dict[str, str], name: str) -> None:
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.popen = subprocess.Popen(list(args), cwd=workdir, env=env, stdout=out, stderr=err)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_healthy(self, url: str) -> None:
        """Poll ``url`` until it answers 200; fail early if the process died."""

        def healthy() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"exited with {self.popen.returncode}:\n{self.stdout}\n{self.stderr}"
                )
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        until_blocking(healthy, within=STARTUP_SECONDS, interval=0.1, what=f"{url} healthy")

    def wait_for_output(self, pattern: str) -> re.Match[str]:
        """The first match of ``pattern`` in stdout, waiting for it up to the deadline."""
        return until_blocking(
            lambda: re.search(pattern, self.stdout, re.MULTILINE),
            within=STARTUP_SECONDS,
            interval=0.05,
            what=f"{pattern!r} in stdout",
        )

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """Send ``sig`` and wait (bounded) for the exit code."""
        self.popen.send_signal(sig)
        return self.popen.wait(timeout=20)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


def mintage(
    *args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a ``mintage`` command to completion, with ``env`` added to a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "mintage.cli.main", *args],
        cwd=cwd,
        env=clean_env(**(env or {})),
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_example(script: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one of ``examples/`` to completion."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
