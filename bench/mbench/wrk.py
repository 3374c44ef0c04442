"""Running wrk (Debian's package) with the scripts in ``bench/lua``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"


class WrkMissingError(RuntimeError):
    pass


def ensure_wrk() -> str:
    """The path of ``wrk``; installs Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise WrkMissingError("wrk is not installed and apt-get is not available")
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    print("wrk is missing: installing Debian's package", flush=True)
    install = [apt, "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([apt, "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=False)
    found = shutil.which("wrk")
    if not found:
        raise WrkMissingError("could not install wrk with apt-get")
    return found


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    socket_errors: int
    bad_status: int
    exhausted: bool

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.bad_status


def run_wrk(
    wrk: str,
    url: str,
    script: str,
    args: Sequence[str],
    *,
    threads: int,
    connections: int,
    duration: int,
    log: Path | None = None,
) -> WrkResult:
    """One wrk run; the script's ``done()`` prints the ``MBENCH {…}`` line parsed here."""
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA_DIR / script),
        url,
        "--",
        *args,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    if log is not None:
        with log.open("a") as handle:
            handle.write(f"$ wrk {' '.join(argv[1:8])} {url}\n{out.stdout}{out.stderr}\n")
    for line in out.stdout.splitlines():
        if line.startswith("MBENCH "):
            data = json.loads(line[len("MBENCH ") :])
            break
    else:
        raise RuntimeError(f"wrk gave no result (exit {out.returncode}):\n{out.stderr}")
    return WrkResult(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        bad_status=data["status"],
        exhausted=bool(data["exhausted"]),
    )
