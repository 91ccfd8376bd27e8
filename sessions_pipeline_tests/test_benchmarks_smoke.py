"""`benchmarks/run.py --quick` prints every figure, the dashboard's too; `breakdown.py` every stage.

Only that: the quick sizes are far too small for the timings to mean anything, so no
timing is asserted; the full run (`benchmarks/run.py`) is what measures the targets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
FIGURES = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n")
VERDICTS = ("PASS", "FAIL", "reported")


def run_quick(script: str) -> str:
    """The script's output with `--quick`, once it ended well."""
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / script), "--quick"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_quick_benchmark_prints_every_figure_with_a_verdict() -> None:
    output = run_quick("run.py")
    rows = [line for line in output.splitlines() if line.startswith("| (")]
    assert [row[3] for row in rows] == list(FIGURES), output
    for row in rows:
        assert row.rstrip(" |").endswith(VERDICTS), row


def test_the_quick_breakdown_prints_every_stage() -> None:
    output = run_quick("breakdown.py")
    headings = [line[:3] for line in output.splitlines() if line.startswith("(")]
    assert headings == ["(a)", "(h)", "(e)", "(g)", "(i)"], output
    assert output.count("| load_sessions |") == 2, output
    assert "| rules: session ids and labels |" in output, output
