"""Scenarios and the measured runs: warm-up, then A B A B … over several rounds."""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .http import basic, client_credentials_token
from .targets import Family, Target
from .wrk import WrkResult, run_wrk


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    base: str = ""  # S6 repeats S1 or S2 on other servers
    not_applicable: tuple[str, ...] = ()  # peers that cannot, and why
    notes: tuple[str, ...] = ()  # what a reader needs to compare the rows fairly


SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("S1", "client_credentials issue, HTTP Basic"),
        Scenario(
            "S2",
            "GET /resource with a valid opaque token",
            not_applicable=(
                "node-oidc-provider: no protected resource of its own (its userinfo "
                "endpoint takes only end-user tokens with `openid`)",
            ),
        ),
        Scenario(
            "S3",
            "introspection of a valid token",
            not_applicable=("origin: oauth2-server 3.1.1 has no introspection endpoint",),
        ),
        Scenario(
            "S4",
            "refresh with rotation (each token used once)",
            not_applicable=(
                "node-oidc-provider: refresh tokens come only from end-user flows (authorization "
                "code, device, CIBA) with a signed-in account and a grant; no password grant",
            ),
        ),
        Scenario(
            "S5",
            "client_credentials issuing a JWT access token (RFC 9068, ES256), HTTP Basic",
            not_applicable=("origin: oauth2-server 3.1.1 issues no JWT access tokens",),
            notes=(
                "Mintage stores every JWT access token's digest durably, as in S1 (revocation "
                "and introspection need it); node-oidc-provider stores nothing for a JWT "
                "access token",
                "the floor answers S1's request again: it signs nothing",
            ),
        ),
        Scenario("S6-S1", "S1 again with a pre-filled store", base="S1"),
        Scenario("S6-S2", "S2 again with a pre-filled store", base="S2"),
    )
}
SKIPPED: dict[str, str] = {}  # scenario key → why it cannot run yet


@dataclass(frozen=True, slots=True)
class Load:
    threads: int
    connections: int
    duration: int
    warmup: int
    rounds: int
    pool_rate: int  # refresh tokens made per second of a run before any rate is known


@dataclass
class Run:
    round: int
    result: WrkResult
    cpu_s: float


@dataclass
class Cell:
    """One server in one scenario: every measured run plus the peak RSS."""

    scenario: str
    target: str
    label: str
    family: Family
    runs: list[Run] = field(default_factory=list)
    peak_rss_kb: int = 0
    note: str = ""

    def _median(self, values: Sequence[float]) -> float:
        return statistics.median(values) if values else 0.0

    @property
    def rps(self) -> float:
        return self._median([r.result.rps for r in self.runs])

    @property
    def p50_ms(self) -> float:
        return self._median([r.result.p50_ms for r in self.runs])

    @property
    def p99_ms(self) -> float:
        return self._median([r.result.p99_ms for r in self.runs])

    @property
    def cpu_us_per_request(self) -> float:
        requests = sum(r.result.requests for r in self.runs)
        return sum(r.cpu_s for r in self.runs) / requests * 1e6 if requests else 0.0

    @property
    def errors(self) -> int:
        return sum(r.result.errors for r in self.runs)

    @property
    def exhausted(self) -> bool:
        return any(r.result.exhausted for r in self.runs)


RequestFactory = Callable[[int, Path], tuple[str, list[str]]]


def request_for(scenario: Scenario, target: Target, threads: int) -> RequestFactory | None:
    """How to load ``target`` in ``scenario``: ``(pool size, tmp dir) -> (script, args)``.

    The pool size only matters to S4, which spends one new refresh token per request.

    ``None`` when the target cannot serve the scenario.
    """
    key = scenario.base or scenario.key
    form = "Content-Type: application/x-www-form-urlencoded"
    auth = "Authorization: " + basic(*target.cc)
    if key == "S1":
        args = ["POST", target.token_path, "grant_type=client_credentials&scope=read", auth, form]
        return lambda _rate, _tmp: ("request.lua", args)
    if key == "S5" and target.cc_jwt is not None:
        if target.family != "floor":  # the floor answers S1's way: it signs nothing
            _check_jwt(target)
        jwt_auth = "Authorization: " + basic(*target.cc_jwt)
        args = [
            "POST",
            target.token_path,
            "grant_type=client_credentials&scope=read",
            jwt_auth,
            form,
        ]
        return lambda _rate, _tmp: ("request.lua", args)
    if key == "S2" and target.resource_path:
        token = client_credentials_token(target.proc.base_url + target.token_path, *target.cc)
        args = ["GET", target.resource_path, "", f"Authorization: Bearer {token}"]
        return lambda _rate, _tmp: ("request.lua", args)
    if key == "S3" and target.introspect_path:
        token = client_credentials_token(target.proc.base_url + target.token_path, *target.cc)
        args = ["POST", target.introspect_path, f"token={token}", auth, form]
        return lambda _rate, _tmp: ("request.lua", args)
    if key == "S4" and target.rt is not None and target.fill_pool is not None:
        fill, rt_auth = target.fill_pool, basic(*target.rt)

        def refresh(count: int, tmp: Path) -> tuple[str, list[str]]:
            pool = tmp / f"pool-{target.key}-{time.monotonic_ns()}.txt"
            fill(count, pool)
            return "refresh.lua", [target.token_path, rt_auth, str(pool), str(threads)]

        return refresh
    return None


def _check_jwt(target: Target) -> None:
    """Fail before measuring when S5's client is not given an ES256 JWT (RFC 9068 §2.1)."""
    assert target.cc_jwt is not None
    token = client_credentials_token(target.proc.base_url + target.token_path, *target.cc_jwt)
    parts = token.split(".")
    header: dict[str, object] = {}
    if len(parts) == 3:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    if header.get("alg") != "ES256" or header.get("typ") not in ("at+jwt", "application/at+jwt"):
        raise RuntimeError(f"{target.key}: S5 client got no ES256 JWT access token: {header}")


class Runner:
    def __init__(self, wrk: str, load: Load, tmp: Path, log: Path) -> None:
        self.wrk = wrk
        self.load = load
        self.tmp = tmp
        self.log = log

    def _once(
        self, target: Target, make: RequestFactory, seconds: int, rate: float
    ) -> tuple[WrkResult, float]:
        pool = int(rate * seconds) + 2000  # only refresh (S4) uses a pool
        script, args = make(pool, self.tmp)
        before = target.proc.cpu_seconds()
        result = run_wrk(
            self.wrk,
            target.proc.base_url,
            script,
            args,
            threads=self.load.threads,
            connections=self.load.connections,
            duration=seconds,
            log=self.log,
        )
        return result, target.proc.cpu_seconds() - before

    def run(self, scenario: Scenario, targets: Sequence[Target]) -> list[Cell]:
        load = self.load
        plans: list[tuple[Target, RequestFactory, Cell]] = []
        for target in targets:
            make = request_for(scenario, target, load.threads)
            if make is None:
                continue
            plans.append(
                (target, make, Cell(scenario.key, target.key, target.label, target.family))
            )
            target.proc.reset_peak_rss()
        # Expected throughput per target sizes S4's pools; it grows with what we see.
        rates = {t.key: float(load.pool_rate) for t, _, _ in plans}
        print(f"{scenario.key}: {scenario.title}", flush=True)
        if load.warmup > 0:
            for target, make, _ in plans:
                result, _cpu = self._once(target, make, load.warmup, rates[target.key])
                rates[target.key] = max(2 * result.rps, 1000.0)
        for round_no in range(1, load.rounds + 1):
            for target, make, cell in plans:
                result, cpu = self._once(target, make, load.duration, rates[target.key])
                if result.exhausted:  # the pool ran dry: measure again with a larger one
                    rates[target.key] *= 4
                    result, cpu = self._once(target, make, load.duration, rates[target.key])
                rates[target.key] = max(rates[target.key], 1.5 * result.rps)
                cell.runs.append(Run(round_no, result, cpu))
                print(
                    f"  round {round_no} {target.key:<14} {result.rps:>9.0f} req/s"
                    f"  p99 {result.p99_ms:6.2f} ms  cpu {cpu / max(result.requests, 1) * 1e6:6.1f}"
                    f" µs/req  errors {result.errors}",
                    flush=True,
                )
        for target, _, cell in plans:
            cell.peak_rss_kb = target.proc.peak_rss_kb()
        return [cell for _, _, cell in plans]
