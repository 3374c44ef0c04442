"""The benchmark harness keeps working: a short run against Mintage (SQLite) and the floor.

No thresholds (a second per run is noise); the point is that every scenario still
produces a row of real numbers with no failed request, so ``make bench`` cannot rot.
The Node peers, PostgreSQL and ``--workers 2`` are left out (``--smoke``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXIT_NO_WRK = 3  # bench/run.py: wrk missing and apt-get could not install it
MINTAGE_SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6-S1", "S6-S2")


def _sections(text: str) -> dict[str, list[list[str]]]:
    """Scenario key → table rows (cells stripped), from the Markdown report."""
    out: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = out.setdefault(line[3:].split(" ")[0], [])
        elif current is not None and line.startswith("| ") and not line.startswith("| server"):
            current.append([cell.strip() for cell in line.strip("|").split("|")])
    return out


def _number(cell: str) -> float:
    return float(cell.replace(",", "").split()[0])


@pytest.mark.timeout(300)
def test_smoke_run_reports_every_mintage_scenario(tmp_path: Path) -> None:
    report = tmp_path / "smoke.md"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--smoke",
            "--raw-dir",
            str(tmp_path / "raw"),
            "--output",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    if run.returncode == EXIT_NO_WRK:
        pytest.skip(f"wrk is unavailable: {run.stderr.strip()}")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    text = report.read_text()
    sections = _sections(text)
    for key in MINTAGE_SCENARIOS:
        rows = [r for r in sections.get(key, []) if r[0].startswith("Mintage") and len(r) == 8]
        assert rows, f"{key}: no Mintage row in the report"
        for label, rps, p50, p99, cpu, rss, errors, _rounds in rows:
            for name, value in (("req/s", rps), ("p50", p50), ("p99", p99), ("CPU", cpu)):
                assert _number(value) > 0, f"{key} {label}: {name} is {value}"
            assert _number(rss) > 0, f"{key} {label}: peak RSS is {rss}"
            assert errors == "0", f"{key} {label}: {errors} failed requests"
    floor = [r for r in sections["S1"] if r[0].startswith("floor")]
    assert floor and _number(floor[0][1]) > 0
    # S5 (JWT access tokens) is set against S1 (opaque) for the cost of signing.
    assert "signing cost, Mintage (SQLite, 1 process): S5 ÷ S1 = " in text
    # The one target measurable without the peers has a ratio, not a dash.
    assert any(r[0] == "S1 ≥ 0.4× the floor" and r[1] != "–" for r in sections["Targets"])
