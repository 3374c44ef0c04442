"""The servers under test: how each starts, where its endpoints are, who may call them."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import mintage_setup
from .http import request_json
from .procs import ServerProcess, free_port

BENCH = Path(__file__).resolve().parent.parent
CACHE = BENCH / ".cache"
Family = Literal["mintage", "origin", "oidc", "floor"]
#: pool_filler(count, file): make ``count`` unused refresh tokens, listed in ``file``
PoolFiller = Callable[[int, Path], None]


@dataclass
class Target:
    key: str
    label: str
    family: Family
    proc: ServerProcess
    cc: tuple[str, str]  # confidential client_credentials client: id, secret
    #: client_credentials client given RFC 9068 JWT access tokens (S5); None: cannot
    cc_jwt: tuple[str, str] | None = None
    token_path: str = "/oauth/token"
    resource_path: str | None = None
    introspect_path: str | None = None
    rt: tuple[str, str] | None = None  # client allowed the refresh_token grant
    fill_pool: PoolFiller | None = None
    processes: int = 1
    notes: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.proc.start()

    def wait_ready(self, timeout: float) -> None:
        self.proc.wait_ready(timeout, processes=self.processes)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINTAGE_", "NODE_"))}
    env.update(extra)
    return env


# wrk sends thousands of requests a second from one address with one client: the
# default limits would answer most of them 429.  The limits stay on, so every request
# still pays for its checks, but far above what the bench can send.
BENCH_RATE_LIMITS = {
    f"MINTAGE_{endpoint}_RATE_LIMIT_PER_{who}": "1000000/second"
    for endpoint in ("TOKEN", "INTROSPECTION", "REVOCATION")
    for who in ("IP", "CLIENT")
}


def mintage_argv(port: int, workers: int) -> list[str]:
    """``mintage serve`` from the running interpreter's environment."""
    cli = Path(sys.executable).parent / "mintage"
    if cli.exists():
        argv = [str(cli), "serve", "--port", str(port)]
    else:  # the CLI is not installed: the same app through uvicorn's factory mode
        argv = [sys.executable, "-m", "uvicorn", "--factory", "mintage.web.app:create_app"]
        argv += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    return [*argv, "--workers", str(workers)] if workers > 1 else argv


def build_mintage(
    key: str, label: str, database_url: str, *, workers: int, raw_dir: Path
) -> Target:
    """A fresh store with the bench's clients, and the server that will serve it."""
    secret_key = secrets.token_urlsafe(32)
    creds = mintage_setup.prepare(database_url, secret_key)
    port = free_port()
    env = _clean_env(
        MINTAGE_DATABASE_URL=database_url,
        MINTAGE_SECRET_KEY=secret_key,
        MINTAGE_PORT=str(port),
        MINTAGE_LOG_LEVEL="warning",
        MINTAGE_CREATE_DEMO_CLIENT="false",
        **BENCH_RATE_LIMITS,
    )
    proc = ServerProcess(
        key,
        mintage_argv(port, workers),
        env=env,
        cwd=raw_dir,
        port=port,
        log_path=raw_dir / f"{key}.log",
    )

    def fill(count: int, out: Path) -> None:
        mintage_setup.mint_refresh_pool(database_url, creds, count, out)

    return Target(
        key=key,
        label=label,
        family="mintage",
        proc=proc,
        cc=(creds.cc_id, creds.cc_secret),
        cc_jwt=(creds.jwt_id, creds.jwt_secret),
        resource_path="/resource",
        introspect_path="/oauth/introspect",
        rt=(creds.rt_id, creds.rt_secret),
        fill_pool=fill,
        processes=workers + 1 if workers > 1 else 1,
    )


def build_floor(raw_dir: Path) -> Target:
    port = free_port()
    client = ("floor-client", secrets.token_urlsafe(32))
    env = _clean_env(
        FLOOR_CLIENT_ID=client[0], FLOOR_CLIENT_SECRET=client[1], FLOOR_PEPPER=secrets.token_hex(32)
    )
    argv = [sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(BENCH)]
    argv += ["--port", str(port), "--no-access-log", "--log-level", "warning", "--lifespan", "off"]
    proc = ServerProcess(
        "floor", argv, env=env, cwd=raw_dir, port=port, log_path=raw_dir / "floor.log"
    )
    # The floor signs nothing: in S5 it answers the S1 request, the least any answer costs.
    return Target(
        key="floor", label="floor (raw ASGI)", family="floor", proc=proc, cc=client, cc_jwt=client
    )


def install_peer(name: str) -> Path:
    """Copy ``bench/peers/<name>`` into the cache and ``npm ci`` it when its pins changed."""
    source = BENCH / "peers" / name
    dest = CACHE / "peers" / name
    dest.mkdir(parents=True, exist_ok=True)
    pins = b"".join((source / f).read_bytes() for f in ("package.json", "package-lock.json"))
    stamp = hashlib.sha256(pins).hexdigest()
    stamp_file = dest / ".installed"
    for f in ("package.json", "package-lock.json", "server.js"):
        shutil.copyfile(source / f, dest / f)
    if stamp_file.exists() and stamp_file.read_text() == stamp and (dest / "node_modules").is_dir():
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: apt-get install nodejs npm, or use --skip-peers")
    print(f"installing the {name} peer with npm ci into {dest}", flush=True)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"],
        cwd=dest,
        check=True,
    )
    stamp_file.write_text(stamp)
    return dest


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "none"
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


def _node_target(name: str, raw_dir: Path, extra_env: dict[str, str]) -> ServerProcess:
    home = install_peer(name)
    node = shutil.which("node") or "node"
    port = free_port()
    env = _clean_env(PORT=str(port), NODE_ENV="production", **extra_env)
    proc = ServerProcess(
        name,
        [node, "server.js"],
        env=env,
        cwd=home,
        port=port,
        log_path=raw_dir / f"{name}.log",
        health_path="/healthz" if name == "origin" else "/.well-known/openid-configuration",
    )
    return proc


def build_origin(raw_dir: Path) -> Target:
    client = ("origin-client", secrets.token_urlsafe(32))
    password = secrets.token_urlsafe(16)
    proc = _node_target(
        "origin",
        raw_dir,
        {
            "BENCH_CLIENT_ID": client[0],
            "BENCH_CLIENT_SECRET": client[1],
            "BENCH_USER_PASSWORD": password,
        },
    )

    def fill(count: int, out: Path) -> None:
        # oauth2-server's own format: 40 hex characters.
        out.write_text("".join(secrets.token_hex(20) + "\n" for _ in range(count)))
        answer = request_json(proc.base_url + "/_bench/seed", json_body={"file": str(out)})
        if answer.get("seeded") != count:
            raise RuntimeError(f"origin seeded {answer} instead of {count} refresh tokens")

    return Target(
        key="origin",
        label="origin (express + oauth2-server 3.1.1)",
        family="origin",
        proc=proc,
        cc=client,
        resource_path="/resource",
        rt=client,
        fill_pool=fill,
    )


def build_oidc(raw_dir: Path) -> Target:
    client = ("oidc-client", secrets.token_urlsafe(32))
    jwt_client = ("oidc-jwt-client", secrets.token_urlsafe(32))
    proc = _node_target(
        "oidc",
        raw_dir,
        {
            "BENCH_CLIENT_ID": client[0],
            "BENCH_CLIENT_SECRET": client[1],
            "BENCH_JWT_CLIENT_ID": jwt_client[0],
            "BENCH_JWT_CLIENT_SECRET": jwt_client[1],
        },
    )
    return Target(
        key="oidc",
        label="node-oidc-provider 9",
        family="oidc",
        proc=proc,
        cc=client,
        cc_jwt=jwt_client,
        token_path="/token",
        introspect_path="/token/introspection",
    )


def package_version(peer: str, package: str) -> str:
    """The installed version of a peer's package, read from its node_modules."""
    try:
        path = CACHE / "peers" / peer / "node_modules" / package / "package.json"
        meta = json.loads(path.read_text())
        return f"{package}@{meta['version']}"
    except (OSError, ValueError, KeyError):
        return f"{package}@?"
