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


def fake_tools(folder: Path, **scripts) -> str:
    """Executables named after ``scripts`` (name -> shell body) in ``folder``: a PATH where Slurm's commands
    answer as a real controller would (real processes, not patched functions)."""
    folder.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = folder / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
    return str(folder)


def test_without_slurm_the_slurm_launcher_refuses_in_one_line(tmp_path, monkeypatch):
    """submitit's AutoExecutor silently runs the cells locally where there is no Slurm; the launcher refuses
    (unless the grid says cluster: local). Seen failing (cells ran locally) with check() removed."""
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    path = world_grid(tmp_path, selectors=("standard",), seeds=(1,), steps=2, launcher={"name": "slurm"})
    monkeypatch.setenv("PATH", fake_tools(tmp_path / "bin", python="exit 1") + ":/usr/bin:/bin")
    result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "--launcher slurm: no Slurm here (sbatch is not on PATH)" in result.output
    assert "cluster: local" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
    fake_tools(tmp_path / "bin", sbatch="exit 0", sinfo="echo 'slurm_load_partitions: Unable to contact slurm "
                                                         "controller (connect failure)' >&2; exit 1")
    result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "Slurm is not reachable (sinfo: slurm_load_partitions: Unable to contact" \
        in result.output
    dry = CliRunner().invoke(cli, ["sweep", str(path), "--dry-run", "-l", "cluster=local", "-l", "poll_s=0.5"])
    assert dry.exit_code == 0 and "launcher slurm {'cluster': 'local', 'poll_s': 0.5}" in dry.output, dry.output


def test_slurms_failed_state_wins_over_a_lock_left_behind(tmp_path, monkeypatch):
    """A cell killed hard on a node leaves its run folder's lock; sacct says FAILED: the job is not active
    (it used to be, forever, because the lock was ORed in). While sacct says RUNNING it is."""
    import subprocess
    import sys

    from unfreeze_core.grid import Resources
    from unfreeze_core.launchers import Job
    from unfreeze_slurm import SlurmLauncher

    run_dir = tmp_path / "cell"
    run_dir.mkdir()
    code = ("import time\nfrom unfreeze_core.rundir import RunDir\n"
            f"lock = RunDir({str(run_dir)!r}).lock().acquire()\nprint('held', flush=True)\ntime.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        job = Job("c", run_dir, Resources(), tmp_path / "logs" / "c.log", sweep_dir=tmp_path, job_id="4242")
        launcher = SlurmLauncher(SlurmLauncher.Options())
        for state, active in (("RUNNING", True), ("FAILED", False), ("NODE_FAIL", False), ("OUT_OF_MEMORY", False)):
            monkeypatch.setenv("PATH", fake_tools(tmp_path / f"bin-{state}", sacct=(
                f"printf 'JobID|State|NodeList\\n4242|{state}|node1\\n'")) + ":" + os.environ["PATH"])
            monkeypatch.setattr(submitit.SlurmJob, "watcher", submitit.slurm.slurm.SlurmInfoWatcher(delay_s=0))
            assert launcher.active(job) is active, state
    finally:
        holder.kill()
        holder.wait()
