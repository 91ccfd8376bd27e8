"""`benchmarks/run.py --quick` prints every figure, the dashboard's too; `breakdown.py` every stage.

Only that: the quick sizes are far too small for the timings to mean anything, so no
timing is asserted; the full run (`benchmarks/run.py`) is what measures the targets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
FIGURES = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k")
VERDICTS = ("PASS", "FAIL", "reported")


def test_the_quick_benchmark_prints_every_figure_with_a_verdict() -> None:
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "run.py"), "--quick"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| (")]
    assert [row[3] for row in rows] == list(FIGURES), result.stdout
    for row in rows:
        assert row.rstrip(" |").endswith(VERDICTS), row


def test_the_quick_breakdown_prints_every_stage() -> None:
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "breakdown.py"), "--quick"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    headings = [line[:3] for line in result.stdout.splitlines() if line.startswith("(")]
    assert headings == ["(a)", "(h)", "(e)"], result.stdout
    assert result.stdout.count("| load_sessions |") == 2, result.stdout
    assert "| rules: session ids and labels |" in result.stdout, result.stdout
