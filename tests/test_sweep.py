"""Grid files, the paper's presets, and `unfreeze sweep` on the local launcher: skip, resume, failures, tables."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from unfreeze_core.testing import world_grid
from unfreeze_cli.main import cli
from unfreeze_core import grid as grids
from unfreeze_core import sweep as sweeps
from unfreeze_core.grid import build_config
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.launchers import Launcher
from unfreeze_core.plugins import get_plugins

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "configs" / "paper"


def by_id(cells):
    return {c.id: c for c in cells}


# -- grid files -----------------------------------------------------------------------------------


def test_axes_cross_with_their_settings_rules_and_seeds(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({
        "task": "nli", "lr": 1e-3, "steps": 100, "seeds": [1, 2],
        "axes": {"selector": {"standard": None, "topdown": {"k": 7, "lr": 5e-4}},
                 "task.train_limit": [100, 200]},
        "rules": [{"when": {"selector": "topdown", "task.train_limit": 200}, "set": {"k": 9}}]}))
    cells = by_id(grids.cells(grids.load_grid(path), tmp_path / "out"))
    assert len(cells) == 2 * 2 * 2
    cell = cells["selector=topdown/train_limit=200/seed2"]
    assert cell.settings["k"] == 9 and cell.settings["lr"] == 5e-4 and cell.settings["seeds"] == [2]
    assert cell.settings["options"]["task"]["train_limit"] == 200
    assert cells["selector=topdown/train_limit=100/seed1"].settings["k"] == 7
    assert cells["selector=standard/train_limit=100/seed1"].settings["lr"] == 1e-3
    assert cell.run_dir == tmp_path / "out" / "g" / "selector=topdown" / "train_limit=200" / "seed2"


@pytest.mark.parametrize("bad, message", [
    ({"axes": {"colour": [1]}}, "unknown setting 'colour'"),
    ({"axes": {"selector": []}}, "non-empty list"),
    ({"axes": {"selector": ["topdown"]}, "resources": {"gpus": -1}}, "gpus"),
    ({"axes": {"selector": {"topdown": {"lrr": 1}}}}, "unknown setting 'lrr'"),
])
def test_bad_grid_files_are_one_line_errors(tmp_path, bad, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"task": "nli", **bad}))
    with pytest.raises(UnfreezeError, match=message):
        grids.cells(grids.load_grid(path), tmp_path)


def test_unfreeze_run_reads_one_point_of_a_grid():
    preset = PAPER / "table1" / "xcopa-xlmr.yaml"
    config, _ = build_config(str(preset), {"selector": "topdown"}, [])
    assert (config.k, config.epochs, config.lr, config.batch_size, config.lr_schedule) == (1000, 5000, 1e-5, 64,
                                                                                           "constant")
    assert config.seeds == [1, 2, 3, 4] and config.model == "xlm-roberta-base"
    config, _ = build_config(str(preset), {"selector": "standard", "seeds": [3]}, [])
    assert (config.epochs, config.lr, config.seeds) == (500, 1e-4, [3])
    with pytest.raises(UnfreezeError, match=r"choose --selector \(one of standard, topdown, fisher, random\)"):
        build_config(str(preset), {}, [])
    with pytest.raises(UnfreezeError, match="'lpft' is not in this grid"):
        build_config(str(preset), {"selector": "lpft"}, [])


# -- the paper's presets ------------------------------------------------------------------------------

TABLE3 = {  # (task, model): standard (epochs, lr), scheduled (epochs, lr), batch, schedule, k-GU, k-FUN
    ("xnli", "mbert"): ((15, 5e-4), (15, 5e-4), 128, "linear", 800, 50),
    ("xnli", "xlmr"): ((15, 5e-4), (15, 5e-4), 128, "linear", 800, 800),
    ("xcopa", "mbert"): ((500, 1e-4), (5000, 1e-5), 64, "constant", 50, 50),
    ("xcopa", "xlmr"): ((500, 1e-4), (5000, 1e-5), 64, "constant", 1000, 1000),
    ("xquad", "mbert"): ((5, 5e-4), (5, 5e-4), 32, "linear", 800, 800),
    ("xquad", "xlmr"): ((15, 2e-4), (15, 5e-4), 32, "linear", 800, 100),
    ("mlqa", "mbert"): ((5, 5e-4), (5, 5e-4), 32, "linear", 800, 800),
    ("mlqa", "xlmr"): ((15, 2e-4), (15, 5e-4), 32, "linear", 800, 100),
}
MODELS = {"mbert": "bert-base-multilingual-cased", "xlmr": "xlm-roberta-base"}


@pytest.mark.parametrize("task, model", sorted(TABLE3))
def test_table1_presets_hold_table3(task, model, tmp_path):
    (std_e, std_lr), (sch_e, sch_lr), batch, schedule, k_gu, k_fun = TABLE3[task, model]
    cells = grids.cells(grids.load_grid(PAPER / "table1" / f"{task}-{model}.yaml"), tmp_path)
    assert len(cells) == 4 * 4  # standard, GU, FUN, Rand x 4 seeds
    for cell in cells:
        s = cell.settings
        assert (s["task"], s["model"], s["adapter"]) == (task, MODELS[model], "madx")
        assert (s["batch_size"], s["lr_schedule"], s["max_grad_norm"]) == (batch, schedule, 1.0)
        assert s["options"]["adapter"]["reduction_factor"] == 16
        scheduled = s["selector"] != "standard"
        assert (s["epochs"], s["lr"]) == ((sch_e, sch_lr) if scheduled else (std_e, std_lr))
        assert s["k"] == {"topdown": k_gu, "fisher": k_fun, "random": k_gu}.get(s["selector"], s["k"])
    assert {c.point["seed"] for c in cells} == {1, 2, 3, 4}


def test_every_preset_resolves_and_counts_its_cells(tmp_path):
    counts = {}
    from unfreeze_core.presets import paper_folder

    files = {f"paper/{p.relative_to(paper_folder()).as_posix()}": p for p in paper_folder().rglob("*.yaml")}
    files.update({f"world/{p.name}": p for p in (ROOT / "configs" / "world").glob("*.yaml")})
    for name, path in sorted(files.items()):
        counts[name] = len(grids.cells(grids.load_grid(path), tmp_path))
    assert counts["paper/lora/xnli-mbert.yaml"] == 3 * 4 and counts["paper/mdeberta/xcopa.yaml"] == 2 * 4
    assert counts["paper/lowdata/xquad-xlmr.yaml"] == 3 * 3 * 4
    assert counts["world/nli.yaml"] == 4 * 4
    assert len([c for c in counts if c.startswith("paper/table1/")]) == 8
    lora = {c.point["selector"]: c.settings for c in grids.cells(grids.load_grid(PAPER / "lora" / "xcopa-xlmr.yaml"),
                                                                   tmp_path) if c.point["seed"] == 1}
    assert (lora["topdown"]["k"], lora["fisher"]["k"], lora["fisher"]["lr"]) == (100, 200, 1e-4)  # Table 15


def test_a_paper_task_without_a_budget_is_refused_with_its_preset():
    result = CliRunner().invoke(cli, ["run", "--task", "xnli", "--model", "xlm-roberta-base", "--selector",
                                      "topdown"])
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and "configs/paper/table1/xnli-xlmr.yaml" in line
    assert "--epochs or --steps" in line and "--lr" in line and "--k" in line


def test_the_dry_run_lists_every_cell_with_its_settings(tmp_path):
    result = CliRunner().invoke(cli, ["sweep", str(PAPER / "table1" / "xnli-mbert.yaml"), "--dry-run", "--json",
                                      "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cells = json.loads(result.output)
    fisher = [c for c in cells if c["selector"] == "fisher"]
    assert len(cells) == 16 and len(fisher) == 4
    assert fisher[0]["settings"]["k"] == 50 and fisher[0]["start"] == "fresh"
    assert not list(tmp_path.iterdir()), "a dry run writes nothing"


# -- running a sweep locally ---------------------------------------------------------------------------


def states(folder: Path) -> dict:
    return {c["cell"]: (c["state"], c["error"]) for c in json.loads((folder / "sweep.json").read_text())["cells"]}


def test_a_local_sweep_skips_finished_cells_resumes_checkpoints_and_records_failures(tmp_path):
    path = world_grid(tmp_path, selectors=("standard", "topdown", "surgical"), seeds=(1,))
    data = yaml.safe_load(path.read_text())
    data["axes"]["selector"]["surgical"] = {"options": {"selector": {"units": [99]}}}  # fails: no unit 99
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "runs"
    run = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(out)])
    assert run.exit_code == 1 and "1 of 3 cells did not finish" in run.output
    folder = out / "g"
    found = states(folder)
    assert found["selector=standard/seed1"] == ("done", None) and found["selector=topdown/seed1"] == ("done", None)
    assert found["selector=surgical/seed1"][0] == "failed" and "99" in found["selector=surgical/seed1"][1]
    for name in ("table.md", "table.csv", "table.tex"):
        assert "topdown" in (folder / name).read_text()
    cell = folder / "selector=topdown" / "seed1"
    assert {p.name for p in cell.iterdir()} >= {"checkpoint.safetensors", "config.yaml", "log.jsonl", "plugins.json",
                                                 "results.json", "schedule.json", "task_adapter"}

    standard = folder / "selector=standard" / "seed1" / "results.json"
    before = standard.stat().st_mtime_ns
    (cell / "results.json").unlink()
    again = sweeps.plan(path, out)
    assert again.start == {"selector=standard/seed1": "skip", "selector=topdown/seed1": "resume",
                           "selector=surgical/seed1": "fresh"}
    rerun = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(out)])
    assert rerun.exit_code == 1  # the surgical cell fails again
    assert standard.stat().st_mtime_ns == before, "a finished cell is not run again"
    assert (cell / "results.json").is_file()

    changed = sweeps.plan(path, out, {"lr": 5e-4})
    assert set(changed.start.values()) == {"conflict"}
    assert "lr: 0.001 there, 0.0005 in the grid" in changed.conflicts["selector=standard/seed1"]


def test_parallel_local_cells_run_in_processes_pinned_to_their_own_cores(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    path = world_grid(tmp_path, selectors=("standard",), seeds=(1, 2), steps=4)
    result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs"), "--parallel", "2"])
    assert result.exit_code == 0, result.output
    logs = sorted((tmp_path / "runs" / "g" / "logs").rglob("*.log"))
    cores = [json.loads(line.split("cores ")[1].split(", threads")[0]) for log in logs
             for line in log.read_text().splitlines() if line.startswith("cell ")]
    assert len(cores) == 2 and not set(cores[0]) & set(cores[1])
    pids = {line.split("pid ")[1].split(",")[0] for log in logs for line in log.read_text().splitlines()
            if line.startswith("cell ")}
    assert str(os.getpid()) not in pids


# -- the register_launchers hook ----------------------------------------------------------------------


class Recorder(Launcher):
    """A third party's launcher: runs nothing itself, reports every job as failed with its run directory."""

    def launch(self, jobs, report):
        for job in jobs:
            report(job.id, "failed", f"recorded {job.run_dir.name}")


class RecorderPlugin:
    @hookimpl
    def register_launchers(self, register):
        register("recorder", Recorder)


def test_a_plugin_launcher_registered_by_register_launchers_gets_the_cells(tmp_path):
    plugins = get_plugins()
    plugins.register(RecorderPlugin(), name="recorder-plugin")
    try:
        assert plugins.registries()["launchers"].owners["recorder"] == "recorder-plugin"
        path = world_grid(tmp_path, seeds=(1,))
        result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path), "--launcher",
                                          "recorder"])
    finally:
        plugins.unregister("recorder-plugin")
    assert result.exit_code == 1
    assert states(tmp_path / "g")["selector=topdown/seed1"] == ("failed", "recorded seed1")
    unknown = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path), "--launcher", "nowhere"])
    assert unknown.exit_code == 2 and "unknown launcher 'nowhere'" in unknown.output


def test_a_cell_with_two_processes_runs_through_torchrun_with_the_batch_split(tmp_path):
    path = world_grid(tmp_path, selectors=("standard",), seeds=(1,), steps=4,
                      resources={"cpus": 2, "gpus": 0, "processes": 2})
    result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "g" / "selector=standard" / "seed1"
    written = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert written["batch_split"] == {"processes": 2, "grad_accum": 1, "per_process": 4}
    assert (run_dir / "results.json").is_file()
    log = (tmp_path / "runs" / "g" / "logs" / "selector=standard" / "seed1.log").read_text()
    assert log.count("cell ") == 2, "one line per torchrun process"


# -- a sweep stays inside --output-dir, alone -------------------------------------------------------------------

def snapshot_tree(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", ["../../escape", "ABSOLUTE", "a/../../b", ".."])
@pytest.mark.parametrize("dry", [True, False])
def test_a_grid_name_that_leaves_the_output_folder_is_refused(tmp_path, name, dry):
    work = tmp_path / "work"
    work.mkdir()
    name = str(tmp_path / "abs") if name == "ABSOLUTE" else name
    path = world_grid(work, name="g", seeds=(1,))
    path.write_text(path.read_text().replace("name: g", f"name: {json.dumps(name)}"))
    before = snapshot_tree(tmp_path)
    result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(work / "out" / "deep"),
                                      *(["--dry-run"] if dry else [])])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "inside --output-dir" in lines[0], result.output
    assert snapshot_tree(tmp_path) == before


def test_a_dry_run_checks_the_launchers_name_and_options(tmp_path):
    path = world_grid(tmp_path, seeds=(1,))
    unknown = CliRunner().invoke(cli, ["sweep", str(path), "--dry-run", "--launcher", "nowhere"])
    assert unknown.exit_code == 2 and "unknown launcher 'nowhere'" in unknown.output
    bad = CliRunner().invoke(cli, ["sweep", str(path), "--dry-run", "--parallel", "0"])
    assert bad.exit_code == 1 and "parallel must be a number of processes in 1..4096, got 0" in bad.output
    assert not (tmp_path / "runs").exists()


def test_a_second_sweep_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    import subprocess

    path = world_grid(tmp_path, seeds=(1,))
    folder = tmp_path / "runs" / "g"
    folder.mkdir(parents=True)
    code = ("import time\nfrom unfreeze_core.rundir import RunDir\n"
            f"lock = RunDir({str(folder)!r}).lock().acquire()\nprint('held', flush=True)\ntime.sleep(60)\n")
    first = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "held"
        before = snapshot_tree(tmp_path)
        result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and f"{folder} is being written by another process (pid {first.pid} on" in lines[0]
        assert snapshot_tree(tmp_path) == before  # no cell folder, no sweep.json
    finally:
        first.kill()
        first.wait()


def test_a_restarted_driver_waits_for_a_cell_an_earlier_driver_left_running(tmp_path):
    """sweep.json names the cell's job (a live cell process holding its run folder): the new driver waits for
    it instead of running it a second time, and runs the other cells."""
    import socket
    import subprocess

    from unfreeze_core.cell import command, write_config

    path = world_grid(tmp_path, selectors=("standard", "topdown"), seeds=(1,), steps=30)
    out = tmp_path / "runs"
    plan = sweeps.plan(path, out)
    earlier = by_id(plan.cells)["selector=topdown/seed1"]
    write_config(earlier.run_dir, earlier.settings)
    orphan = subprocess.Popen(command(earlier.run_dir, threads=1), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    job = f"{socket.gethostname()}:{orphan.pid}"
    (plan.folder / "sweep.json").write_text(json.dumps({"state": "running", "cells": [
        {"cell": earlier.id, "state": "running", "job": job, "run_dir": str(earlier.run_dir)}]}))
    try:
        result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(out)])
    finally:
        orphan.kill() if orphan.poll() is None else None
    assert result.exit_code == 0, result.output
    assert orphan.wait() == 0  # it ran to its end, alone
    record = json.loads((plan.folder / "sweep.json").read_text())
    cells = {c["cell"]: c for c in record["cells"]}
    assert record["state"] == "finished" and record["end"] >= record["start"]
    assert cells[earlier.id]["state"] == "done" and cells[earlier.id]["job"] == job
    assert not list((plan.folder / "logs").rglob("selector=topdown/*.log"))  # never launched by this driver
    steps = [json.loads(line)["step"] for line in (earlier.run_dir / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)), "one writer: every step logged once"
    assert all(c["start"] and c["end"] >= c["start"] for c in cells.values())


def test_a_killed_parallel_driver_leaves_no_cell_running_and_an_interrupted_one_says_so(tmp_path):
    """kill -9 of a --parallel driver: its cells get SIGTERM (PR_SET_PDEATHSIG), checkpoint and stop; a rerun
    stopped by SIGINT records 'interrupted' in sweep.json and exits 130 with one line; a third run finishes."""
    import signal
    import subprocess
    import time

    from unfreeze_core.rundir import LOCK

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    path = world_grid(tmp_path, selectors=("standard",), seeds=(1, 2), steps=400)
    out = tmp_path / "runs"
    folder = out / "g"
    runs = [folder / "selector=standard" / f"seed{s}" for s in (1, 2)]
    args = [sys.executable, "-m", "unfreeze_cli", "sweep", str(path), "--output-dir", str(out), "--parallel", "2"]

    def cell_pids():
        pids = []
        for run in runs:
            try:
                pids.append(json.loads((run / LOCK).read_text())["pid"])
            except (OSError, ValueError):
                pass
        return pids

    def wait_for(condition, timeout=240):
        deadline = time.time() + timeout
        while not condition():
            assert time.time() < deadline
            time.sleep(0.2)

    driver = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: all((r / "checkpoint.safetensors").is_file() for r in runs))
    pids = cell_pids()
    assert len(pids) == 2
    driver.kill()
    driver.wait()

    def gone(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(lambda: all(gone(p) for p in pids), 120)  # no orphan keeps writing
    assert not cell_pids()  # each released its lock on the way out

    rerun = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(cell_pids()) == 2 and not set(cell_pids()) & set(pids))
    time.sleep(1)
    rerun.send_signal(signal.SIGINT)
    _, stderr = rerun.communicate(timeout=240)
    assert rerun.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: interrupted by SIGINT: 2 running cell(s) stopped"), stderr
    record = json.loads((folder / "sweep.json").read_text())
    assert record["state"] == "interrupted" and record["end"]
    assert [c["state"] for c in record["cells"]] == ["interrupted", "interrupted"]
    assert all(c["end"] >= c["start"] and c["job"] for c in record["cells"])
    assert not cell_pids() and all((r / "checkpoint.safetensors").is_file() for r in runs)


# -- a sweep never waits without bound ------------------------------------------------------------------------

def held_cell(tmp_path, record=None):
    """A one-cell grid whose cell folder is locked: by a live unfreeze process (``record`` None) or by the
    lock record given (written as another process would have left it)."""
    import subprocess

    from unfreeze_core.rundir import LOCK

    path = world_grid(tmp_path, selectors=("standard",), seeds=(1,), steps=2)
    run_dir = tmp_path / "runs" / "g" / "selector=standard" / "seed1"
    run_dir.mkdir(parents=True)
    if record is not None:
        (run_dir / LOCK).write_text(json.dumps(record))
        return path, run_dir, None
    code = ("import time\nfrom unfreeze_core.rundir import RunDir\n"
            f"lock = RunDir({str(run_dir)!r}).lock().acquire()\nprint('held', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return path, run_dir, proc


def test_wait_says_what_it_waits_for_and_gives_up_after_its_bound(tmp_path, monkeypatch):
    """A cell held by a live process that never ends: the driver says what it waits for (every minute; here
    every 0.2 s) and gives up after its bound (a day; here 1 s) with the cell failed and one line."""
    monkeypatch.setenv("UNFREEZE_WAIT_S", "1")
    monkeypatch.setenv("UNFREEZE_WAIT_REPORT_S", "0.2")
    path, run_dir, holder = held_cell(tmp_path)
    try:
        result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1, result.output
    assert "waiting for 1 cell(s) of an earlier driver" in result.output and f"pid {holder.pid}" in result.output
    last = result.stderr.strip().splitlines()
    assert len(last) == 1 and "still held by a process (pid" in last[0] and "(the bound is 1 s, UNFREEZE_WAIT_S)" \
        in last[0], result.stderr
    cell = json.loads((tmp_path / "runs" / "g" / "sweep.json").read_text())["cells"][0]
    assert cell["state"] == "failed" and "still held" in cell["error"]


def test_a_cell_locked_on_another_host_that_stopped_renewing_is_not_waited_for(tmp_path, monkeypatch):
    """A cell killed hard on a compute node leaves its lock, which is no longer renewed: after STALE_AFTER
    heartbeats the driver stops waiting (it used to wait forever) and a rerun resumes it."""
    import time

    from unfreeze_core import rundir

    path, run_dir, _ = held_cell(tmp_path, {"pid": 77, "host": "node-elsewhere", "since": time.time(),
                                            "heartbeat_s": 0.05})
    start = time.monotonic()
    result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    assert time.monotonic() - start < 30
    assert result.exit_code == 1 and "ended without results; rerun the sweep to resume it" in result.stderr, \
        result.output
    assert rundir.holder(run_dir) is None  # stale: the rerun takes it over


def test_a_live_pid_that_is_not_unfreeze_does_not_hold_a_cell(tmp_path):
    """A cell whose lock names a live process of this host that is not unfreeze (`sleep`): not waited for,
    taken over and run."""
    import socket
    import subprocess

    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        path, run_dir, _ = held_cell(tmp_path, {"pid": sleeper.pid, "host": socket.gethostname(), "since": 0})
        result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.exit_code == 0, result.output
    assert (run_dir / "results.json").is_file()


def test_a_lock_that_is_a_fifo_fails_its_cell_in_one_line(tmp_path):
    """Reading a FIFO lock used to block the driver forever."""
    from unfreeze_core.rundir import LOCK

    path, run_dir, _ = held_cell(tmp_path, {})
    (run_dir / LOCK).unlink()
    os.mkfifo(run_dir / LOCK)
    result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1 and f"{run_dir / LOCK} is a FIFO" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_dry_run_shows_the_launcher_that_would_run(tmp_path):
    path = world_grid(tmp_path, seeds=(1,))
    result = CliRunner().invoke(cli, ["sweep", str(path), "--dry-run", "--parallel", "2"])
    assert result.exit_code == 0 and "launcher local {'parallel': 2}" in result.output, result.output


def test_sigint_while_waiting_counts_no_checkpoint_that_does_not_exist(tmp_path):
    """Stopped while it waits for a cell another process holds: the line says the cell was left to that process
    (it used to say "1 running cell(s) stopped with their checkpoints", a checkpoint that never existed)."""
    import signal
    import threading

    path, run_dir, holder = held_cell(tmp_path)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        result = CliRunner().invoke(cli, ["sweep", str(path), "--output-dir", str(tmp_path / "runs")])
    finally:
        timer.cancel()
        holder.kill()
        holder.wait()
    assert result.exit_code == 130, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "0 running cell(s) stopped, 0 with a checkpoint to resume from, 1 of an earlier " \
        "driver no longer waited for" in lines[0], result.stderr
