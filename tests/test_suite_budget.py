"""The suite's time budget (conftest.py at the repository root): a file over it fails the run, naming the file."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_file_over_its_budget_fails_the_run_and_is_named(workers):
    def run(budget):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers,
                               "-o", f"file_time_budget={budget}", "tests/test_schedule.py"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    over, within = run(0.000001), run(1000)
    assert over.returncode == 1 and "tests/test_schedule.py: " in over.stdout and "over the time budget" in over.stdout
    assert within.returncode == 0 and "over the time budget" not in within.stdout
