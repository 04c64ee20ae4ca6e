"""The Slurm launcher through submitit's local executor (real subprocess jobs, the cluster's code path):
a cell preempted the way Slurm does it (SIGUSR2 to the job) is requeued and resumes from its checkpoint."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from unfreeze_core.testing import world_grid
from unfreeze_core import sweep as sweeps

submitit = pytest.importorskip("submitit")


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def job_process(controller_pid: int) -> int | None:
    """The job's own process: the child of submitit's local controller (what Slurm would signal)."""
    path = Path(f"/proc/{controller_pid}/task/{controller_pid}/children")
    children = path.read_text().split() if path.exists() else []
    return int(children[0]) if children else None


def test_time_strings_become_minutes():
    from unfreeze_slurm import minutes

    assert [minutes("24:00:00"), minutes("1-00:30:00"), minutes("90:00"), minutes(15)] == [1440, 1470, 90, 15]
    with pytest.raises(ValueError):
        minutes("soon")


def test_a_preempted_cell_is_requeued_and_resumes_from_its_checkpoint(tmp_path):
    faulthandler.dump_traceback_later(300, exit=True)
    path = world_grid(tmp_path, selectors=("topdown",), seeds=(1,), steps=120,
                      launcher={"name": "slurm", "cluster": "local", "time": 30, "poll_s": 0.3, "grace_s": 20})
    plan = sweeps.plan(path, tmp_path / "runs")
    (cell,) = plan.cells
    name, options = sweeps.launcher_settings(plan.grid, None, {})
    assert name == "slurm" and options["cluster"] == "local"
    launcher = sweeps.make_launcher(name, options)
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(tracker=sweeps.run(plan, launcher)))
    thread.start()
    try:
        wait_for(lambda: (cell.run_dir / "checkpoint.safetensors").is_file(), 240, "the first checkpoint")
        controller = wait_for(lambda: getattr(launcher, "submitted", {}).get(cell.id), 10, "the submitted job")
        pid = wait_for(lambda: job_process(controller._process.pid), 10, "the job's process")
        os.kill(pid, signal.SIGUSR2)  # Slurm's preemption / time-limit signal (submitit's --signal USR2)
        thread.join(240)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert not thread.is_alive()
    tracker = outcome["tracker"]
    assert tracker.state == {cell.id: "done"}, tracker.errors
    log = (plan.folder / "logs" / f"{cell.id}.log").read_text()
    assert log.index("starting") < log.index("preempted: requeued") < log.index("resuming from checkpoint.safetensors")
    records = [json.loads(line) for line in (cell.run_dir / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "loss" in r]
    assert steps == list(range(5, 121, 5)), "the resumed run continues the log where the checkpoint left it"
    pids = {line.split("pid ")[1].split(",")[0] for line in log.splitlines() if line.startswith("cell ")}
    assert len(pids) == 2, "the requeued job ran the cell in a new process"
    assert json.loads((cell.run_dir / "results.json").read_text())["selector"] == "topdown"
