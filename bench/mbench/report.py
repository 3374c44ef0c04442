"""The results table (Markdown), Mintage-to-peer ratios and the targets of the issue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .scenarios import SCENARIOS, SKIPPED, Cell

PEERS = ("floor", "origin", "oidc")
PEER_NAMES = {"floor": "floor", "origin": "origin", "oidc": "node-oidc-provider"}
PRIMARY = "mintage"  # one process, default durable SQLite store: what the targets judge


@dataclass(frozen=True, slots=True)
class Goal:
    text: str
    measured: float | None  # None: could not be measured in this run
    goal: float
    unit: str = "×"

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "n/a"
        return "met" if self.measured >= self.goal else "**not met**"


def _find(cells: Sequence[Cell], scenario: str, target: str) -> Cell | None:
    for cell in cells:
        if cell.scenario == scenario and cell.target == target and cell.runs:
            return cell
    return None


def _ratio(cells: Sequence[Cell], scenario: str, mine: str, theirs: str) -> float | None:
    a, b = _find(cells, scenario, mine), _find(cells, scenario, theirs)
    if a is None or b is None or b.rps <= 0:
        return None
    return a.rps / b.rps


def goals(cells: Sequence[Cell]) -> list[Goal]:
    """The issue's targets, each measured as a ratio within this run."""
    out = [
        Goal("S1 ≥ 1.5× node-oidc-provider", _ratio(cells, "S1", PRIMARY, "oidc"), 1.5),
        Goal("S1 ≥ 3× the origin server", _ratio(cells, "S1", PRIMARY, "origin"), 3.0),
        Goal("S1 ≥ 0.4× the floor", _ratio(cells, "S1", PRIMARY, "floor"), 0.4),
        Goal("S2 ≥ 2× the origin server", _ratio(cells, "S2", PRIMARY, "origin"), 2.0),
        Goal("S3 ≥ 1.5× node-oidc-provider", _ratio(cells, "S3", PRIMARY, "oidc"), 1.5),
    ]
    for key in ("S6-S1", "S6-S2"):
        ratio = _ratio(cells, key, "mintage-1e6", "mintage-empty")
        out.append(Goal(f"{key}: pre-filled store ≥ 0.8× empty store", ratio, 0.8))
    mine = max(
        (c.peak_rss_kb for c in cells if c.target == PRIMARY and c.scenario in _MAIN), default=0
    )
    theirs = max(
        (c.peak_rss_kb for c in cells if c.target == "origin" and c.scenario in _MAIN), default=0
    )
    rss = theirs / mine if mine and theirs else None
    out.append(Goal("peak RSS of one Mintage process ≤ origin's", rss, 1.0, "× (origin ÷ Mintage)"))
    return out


_MAIN = ("S1", "S2", "S3", "S4")


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def scenario_table(cells: Sequence[Cell]) -> list[str]:
    lines = [
        "| server | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MiB | errors "
        "| req/s by round |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in cells:
        rounds = " / ".join(_num(r.result.rps) for r in cell.runs)
        flag = " (pool ran dry)" if cell.exhausted else ""
        lines.append(
            f"| {cell.label} | {_num(cell.rps)} | {cell.p50_ms:.2f} | {cell.p99_ms:.2f} | "
            f"{cell.cpu_us_per_request:.0f} | {cell.peak_rss_kb / 1024:.1f} | {cell.errors}"
            f"{flag} | {rounds} |"
        )
    return lines


def ratio_table(cells: Sequence[Cell], scenario: str) -> list[str]:
    peers = [p for p in PEERS if _find(cells, scenario, p) is not None]
    mintages = [c for c in cells if c.scenario == scenario and c.family == "mintage"]
    if not peers or not mintages:
        return []
    head = " | ".join(f"÷ {PEER_NAMES[p]}" for p in peers)
    lines = ["", f"| Mintage req/s | {head} |", "|---" + "|---:" * len(peers) + "|"]
    for cell in mintages:
        ratios = [_ratio(cells, scenario, cell.target, p) for p in peers]
        shown = " | ".join("–" if r is None else f"{r:.2f}×" for r in ratios)
        lines.append(f"| {cell.label} | {shown} |")
    return lines


def signing_cost(cells: Sequence[Cell]) -> list[str]:
    """S5 against S1 for each server that signs: what the JWT costs over an opaque token."""
    lines = []
    for jwt in cells:
        if jwt.scenario != "S5" or jwt.family == "floor":
            continue
        opaque = _find(cells, "S1", jwt.target)
        if opaque is None or not jwt.runs or opaque.rps <= 0:
            continue
        extra = jwt.cpu_us_per_request - opaque.cpu_us_per_request
        lines.append(
            f"- signing cost, {jwt.label}: S5 ÷ S1 = {jwt.rps / opaque.rps:.2f}× req/s; "
            f"CPU {opaque.cpu_us_per_request:.0f} → {jwt.cpu_us_per_request:.0f} µs/req "
            f"({extra:+.0f} µs)."
        )
    return lines


def render(cells: Sequence[Cell], header: Sequence[str]) -> str:
    lines = ["# Mintage benchmark", "", *header, ""]
    order = list(SCENARIOS)
    for key in order:
        mine = [c for c in cells if c.scenario == key]
        if not mine:
            continue
        lines += [f"## {key} — {SCENARIOS[key].title}", "", *scenario_table(mine)]
        lines += ratio_table(cells, key)
        lines += [""] + [f"- n/a: {why}." for why in SCENARIOS[key].not_applicable]
        lines += [f"- {note}." for note in SCENARIOS[key].notes]
        if key == "S5":
            lines += signing_cost(cells)
        lines.append("")
    for key, why in SKIPPED.items():
        lines += [f"## {key} — skipped", "", why + ".", ""]
    lines += ["## Targets (ratios within this run)", ""]
    lines += ["| target | measured | verdict |", "|---|---:|---|"]
    for goal in goals(cells):
        shown = "–" if goal.measured is None else f"{goal.measured:.2f}{goal.unit}"
        lines.append(f"| {goal.text} | {shown} | {goal.verdict} |")
    lines.append("")
    return "\n".join(lines)
