"""A throw-away PostgreSQL cluster that a test may stop and start at will.

The shared server (127.0.0.1:5432) must never be stopped by a test, since other suites
use it at the same moment.  Outage tests therefore create their own cluster with
``initdb`` in a temporary directory and run it with ``pg_ctl`` on a free port, with its
Unix socket in that directory too.  PostgreSQL refuses to run as root, so when the
tests run as root the commands run as the ``postgres`` account (``runuser``) in a
directory that account owns.

The cluster skips ``fsync`` (``fsync=off``, ``initdb --no-sync``): the tests that use it
are about outages, not about what survives a crash of the operating system.  It keeps
``synchronous_commit=on``, so a commit is written to the WAL before it is acknowledged
and survives even ``pg_ctl stop -m immediate``, as on a production server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from serve_process import free_port

REQUIRE_POSTGRES = os.environ.get("MINTAGE_REQUIRE_POSTGRES") == "1"
#: The account PostgreSQL runs as when the tests run as root.
OS_USER = "postgres"


class ClusterUnavailable(Exception):
    """``initdb`` or ``pg_ctl`` is missing or cannot run here; the message says why."""


def bin_dir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` live: on PATH, else the newest Debian install."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    for initdb in candidates:
        if os.access(Path(initdb).with_name("pg_ctl"), os.X_OK):
            return Path(initdb).parent
    raise ClusterUnavailable("initdb and pg_ctl are not installed (PATH, /usr/lib/postgresql)")


class PgCluster:
    """One cluster in its own directory; :meth:`create` first, :meth:`destroy` last."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mintage-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.log = self.root / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(OS_USER)
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise ClusterUnavailable(
                    f"running as root and there is no {OS_USER!r} account to run PostgreSQL"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                shutil.rmtree(self.root, ignore_errors=True)
                raise ClusterUnavailable("running as root and runuser is missing")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_user = [runuser, "-u", OS_USER, "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C"},
        )

    def create(self) -> None:
        """``initdb`` (trust authentication, no fsync) and a first start."""
        done = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        if done.returncode != 0:
            raise ClusterUnavailable(f"initdb failed: {done.stderr.strip() or done.stdout}")
        self.start()

    def start(self) -> None:
        """Start and wait until it accepts connections (``pg_ctl -w``)."""
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        done = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )
        if done.returncode != 0:
            raise ClusterUnavailable(
                f"pg_ctl start failed: {done.stderr.strip() or done.stdout}\n{self.log_text()}"
            )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` ends every session at once (``immediate``: no
        shutdown checkpoint, as after a crash)."""
        done = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        if done.returncode != 0:
            raise AssertionError(f"pg_ctl stop failed: {done.stderr}\n{self.log_text()}")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text()
        return ""

    def destroy(self) -> None:
        """Stop (if running) and delete everything."""
        try:
            if self.data.exists() and self.running():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
