"""The suite's time budget (conftest.py at the repository root): a file over it fails the run, naming the file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_file_over_its_budget_fails_the_run_and_is_named(workers, tmp_path):
    """The root conftest.py loaded as a plugin (``-p conftest``) into a session of one quick test file that
    imports nothing heavy, with and without xdist's workers."""
    (tmp_path / "test_quick.py").write_text("def test_quick():\n    pass\n")

    def run(budget):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                               "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-n", workers,
                               "-o", f"file_time_budget={budget}", "test_quick.py"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})

    over, within = run(0.000001), run(1000)
    assert over.returncode == 1, over.stdout + over.stderr
    assert "test_quick.py: " in over.stdout and "over the time budget" in over.stdout
    assert within.returncode == 0 and "over the time budget" not in within.stdout, within.stdout + within.stderr
