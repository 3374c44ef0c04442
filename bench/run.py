"""Benchmark Mintage against its peers on this machine, in one run: ``make bench``.

Servers (each one process unless said otherwise):

* Mintage, default durable SQLite store; again with PostgreSQL and with ``--workers 2``
  (reported separately);
* the floor: a raw ASGI app under uvicorn doing only what any answer must (``floor_app.py``);
* the origin's server: express + oauth2-server 3.1.1, in-memory model (``peers/origin``);
* node-oidc-provider 9, in-memory adapter (``peers/oidc``).

Each scenario warms every server up, then loads them in turn, A B A B …, with the same
wrk threads, connections and duration.  The table goes to stdout and to
``bench/results/latest.md``; raw wrk output and server logs to ``bench/results/raw/``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from mbench import mintage_setup
from mbench.report import render
from mbench.scenarios import SCENARIOS, Cell, Load, Runner
from mbench.targets import (
    BENCH,
    Target,
    build_floor,
    build_mintage,
    build_oidc,
    build_origin,
    node_version,
    package_version,
)
from mbench.wrk import WrkMissingError, ensure_wrk, wrk_version

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
EXIT_NO_WRK = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run (10)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server (3)")
    p.add_argument("--rounds", type=int, default=3, help="A B A B rounds (3)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    p.add_argument(
        "--scenarios", default="S1,S2,S3,S4,S5,S6", help="comma-separated (S1,S2,S3,S4,S5,S6)"
    )
    p.add_argument("--fill", type=int, default=1_000_000, help="tokens stored for S6 (10^6)")
    p.add_argument("--quick", action="store_true", help="3 s runs, 1 s warm-up, 2 rounds")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="harness check: Mintage (SQLite) and the floor only, 1 s runs, one round",
    )
    p.add_argument("--skip-peers", action="store_true", help="no Node peers (no npm install)")
    p.add_argument("--skip-postgres", action="store_true", help="no Mintage on PostgreSQL")
    p.add_argument("--skip-workers", action="store_true", help="no Mintage --workers 2")
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("MINTAGE_BENCH_POSTGRES_URL", DEFAULT_PG),
        help=f"database for the PostgreSQL run; the bench uses its own schema ({DEFAULT_PG})",
    )
    p.add_argument("--output", type=Path, help="Markdown table (bench/results/latest.md)")
    p.add_argument("--raw-dir", type=Path, help="wrk output, logs, results.json")
    p.add_argument("--pool-rate", type=int, default=15000, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 3, 1, 2
    if args.smoke:
        args.duration, args.warmup, args.rounds = 1, 0, 1
        args.skip_peers = args.skip_postgres = args.skip_workers = True
        args.fill = min(args.fill, 20_000)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.raw_dir = args.raw_dir or BENCH / "results" / "raw" / stamp
    if args.output is None:
        args.output = args.raw_dir / "smoke.md" if args.smoke else BENCH / "results" / "latest.md"
    args.scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    return args


def _postgres_ok(url: str) -> str | None:
    """``None`` when PostgreSQL answers, else why not."""

    async def ping() -> None:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(ping())
    except Exception as exc:  # any failure means: skip this variant, say why
        return f"{type(exc).__name__}: {exc}"
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


class Bench:
    def __init__(self, args: argparse.Namespace, wrk: str) -> None:
        self.args = args
        self.wrk = wrk
        self.notes: list[str] = []
        self.live: list[Target] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="mintage-bench-"))
        args.raw_dir.mkdir(parents=True, exist_ok=True)
        load = Load(
            threads=args.threads,
            connections=args.connections,
            duration=args.duration,
            warmup=args.warmup,
            rounds=args.rounds,
            pool_rate=args.pool_rate,
        )
        self.runner = Runner(wrk, load, self.tmp, args.raw_dir / "wrk.log")

    def _start(self, targets: list[Target]) -> None:
        for target in targets:
            self.live.append(target)
            target.start()
        for target in targets:
            target.wait_ready(timeout=90)

    def _stop(self) -> None:
        while self.live:
            self.live.pop().proc.stop()

    def _main_targets(self, wanted: set[str]) -> list[Target]:
        a, raw, out = self.args, self.args.raw_dir, []
        sqlite = f"sqlite:///{self.tmp}/mintage.db"
        out.append(
            build_mintage("mintage", "Mintage (SQLite, 1 process)", sqlite, workers=1, raw_dir=raw)
        )
        if not a.skip_postgres:
            why = _postgres_ok(a.postgres_url)
            if why is None:
                url = mintage_setup.pg_url(a.postgres_url)
                out.append(
                    build_mintage(
                        "mintage-pg", "Mintage (PostgreSQL, 1 process)", url, workers=1, raw_dir=raw
                    )
                )
            else:
                self.notes.append(f"PostgreSQL run skipped: {why}")
        if not a.skip_workers:
            w2 = f"sqlite:///{self.tmp}/mintage-w2.db"
            out.append(
                build_mintage(
                    "mintage-w2", "Mintage (SQLite, --workers 2)", w2, workers=2, raw_dir=raw
                )
            )
        if wanted & {"S1", "S5"}:
            out.append(build_floor(raw))
        if not a.skip_peers:
            if wanted & {"S1", "S2", "S4"}:
                out.append(build_origin(raw))
            if wanted & {"S1", "S3", "S5"}:
                out.append(build_oidc(raw))
        return out

    def run(self) -> list[Cell]:
        wanted = set(self.args.scenarios)
        cells: list[Cell] = []
        main = [k for k in ("S1", "S2", "S3", "S4", "S5") if k in wanted]
        try:
            if main:
                targets = self._main_targets(wanted)
                self._start(targets)
                for key in main:
                    cells += self.runner.run(SCENARIOS[key], targets)
                self._stop()
            if "S6" in wanted:
                cells += self._run_s6()
        finally:
            self._stop()
            shutil.rmtree(self.tmp, ignore_errors=True)
        return cells

    def _run_s6(self) -> list[Cell]:
        raw, fill = self.args.raw_dir, self.args.fill
        empty = build_mintage(
            "mintage-empty",
            "Mintage (SQLite), empty store",
            f"sqlite:///{self.tmp}/s6-empty.db",
            workers=1,
            raw_dir=raw,
        )
        url = f"sqlite:///{self.tmp}/s6-full.db"
        full = build_mintage(
            "mintage-1e6", f"Mintage (SQLite), {fill:,} tokens stored", url, workers=1, raw_dir=raw
        )
        print(f"S6: storing {fill:,} tokens …", flush=True)
        seconds = mintage_setup.fill_tokens(url, fill, full.cc[0])
        self.notes.append(f"S6: {fill:,} live tokens stored in {seconds:.1f} s (one transaction).")
        self._start([empty, full])
        cells = self.runner.run(SCENARIOS["S6-S1"], [empty, full])
        cells += self.runner.run(SCENARIOS["S6-S2"], [empty, full])
        self._stop()
        return cells

    def header(self) -> list[str]:
        a = self.args
        command = "python bench/run.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
        lines = [
            f"- date: {dt.datetime.now().isoformat(timespec='seconds')}; commit {_git_commit()}",
            f"- command: `{command.strip()}`",
            f"- machine: {os.cpu_count()} CPUs ({_cpu_model()}), "
            f"{platform.system()} {platform.release()}",
            f"- load: {wrk_version(self.wrk)}, -t{a.threads} -c{a.connections}, "
            f"{a.duration} s per run after {a.warmup} s warm-up, {a.rounds} round(s) A B A B; "
            "figures are medians over rounds, CPU is total server CPU ÷ total requests",
            f"- Python {platform.python_version()}, Node {node_version()}",
        ]
        if not a.skip_peers:
            lines.append(
                "- peers: "
                + ", ".join(
                    [
                        package_version("origin", "express"),
                        package_version("origin", "oauth2-server"),
                        package_version("oidc", "oidc-provider"),
                    ]
                )
            )
        skipped = [
            name
            for name, flag in (
                ("the Node peers", a.skip_peers),
                ("PostgreSQL", a.skip_postgres),
                ("--workers 2", a.skip_workers),
            )
            if flag
        ]
        if skipped:
            lines.append(f"- skipped on request: {', '.join(skipped)}")
        if not a.skip_postgres:
            lines.append(
                "- CPU of Mintage (PostgreSQL) is Mintage's process only; the PostgreSQL "
                "server's own CPU, on the same 2 cores, is not counted"
            )
        if not a.skip_peers:
            lines.append(
                "- the origin's in-memory model keeps every token it issues, so its RSS "
                "grows through the run; peak RSS is restarted per scenario"
            )
        return lines + [f"- {note}" for note in self.notes]


def _exit_on_term(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds through the finally blocks that stop every server


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_term)
    try:
        wrk = ensure_wrk()
    except WrkMissingError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return EXIT_NO_WRK
    bench = Bench(args, wrk)
    cells = bench.run()
    text = render(cells, bench.header())
    print("\n" + text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    raw = [
        {
            **{k: v for k, v in asdict(c).items() if k != "runs"},
            "rps": c.rps,
            "p50_ms": c.p50_ms,
            "p99_ms": c.p99_ms,
            "cpu_us_per_request": c.cpu_us_per_request,
            "errors": c.errors,
            "runs": [asdict(r) for r in c.runs],
        }
        for c in cells
    ]
    (args.raw_dir / "results.json").write_text(json.dumps(raw, indent=1))
    print(f"\nwritten: {args.output} (raw: {args.raw_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
