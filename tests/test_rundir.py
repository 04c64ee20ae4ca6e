"""The run folder's one owner: its layout, the writer's lock (a second writer refused with one line naming
the holder, a dead holder's lock taken over) and started / finished / resumable."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unfreeze_core import rundir
from unfreeze_core.rundir import LOCK, LockedError, RunDir

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = ("config.yaml", "results.json", "schedule.json", "log.jsonl", "plugins.json", "fisher.jsonl",
             "checkpoint.safetensors", "checkpoint.pt", "task_adapter", "sweep.json", "unfreeze.json")


def test_no_run_file_name_is_spelled_outside_rundir():
    """Every run-file name lives in rundir.py; the engine and the CLI use its constants."""
    pattern = re.compile("|".join(re.escape(f'"{name}"') + "|" + re.escape(f"'{name}'") for name in RUN_FILES))
    offenders = []
    for folder in ("unfreeze_core", "cli", "unfreeze_report"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "rundir.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_started_finished_resumable(tmp_path):
    folder = RunDir(tmp_path / "seed1")
    assert not folder.configured() and not folder.started() and not folder.resumable()
    folder.create()
    folder.write_config({"k": 1})
    assert folder.configured() and not folder.started()
    folder.log.write_text("")
    folder.checkpoint.write_bytes(b"x")
    assert folder.started() and folder.resumable() and not folder.finished()
    folder.write_json(rundir.RESULTS, {"scores": {}})
    assert folder.finished() and not folder.resumable()
    with pytest.raises(rundir.UnfreezeError, match="exists already"):
        folder.create()


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    folder = RunDir(tmp_path)
    code = ("import sys, time\n"
            "from unfreeze_core.rundir import RunDir\n"
            f"lock = RunDir({str(tmp_path)!r}).lock().acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError) as info:
            folder.lock().acquire()
        message = str(info.value)
        assert f"pid {holder.pid} on {socket.gethostname()}" in message and "\n" not in message
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == holder.pid  # untouched
    finally:
        holder.kill()
        holder.wait()
    with folder.lock():  # its holder is gone (killed, the lock left behind): taken over
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK).exists()


def test_a_lock_of_another_host_is_refused_with_how_to_clear_it(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": 0}))
    with pytest.raises(LockedError, match=f"pid 1 on elsewhere.*delete {re.escape(str(tmp_path / LOCK))}"):
        RunDir(tmp_path).lock().acquire()


def test_a_reused_pid_does_not_keep_a_stale_lock(tmp_path):
    """The lock records its holder's start time: the same pid in a later process is not the holder."""
    started = rundir._boot_ticks(os.getpid())
    (tmp_path / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": 0,
                                             "started": started - 1}))
    assert rundir.holder(tmp_path) is None
    with RunDir(tmp_path).lock():
        pass


def test_resume_of_a_run_another_process_writes_is_refused(nli_dir, tmp_path):
    """`unfreeze run --resume` while another process holds the folder: one line, nothing changed."""
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    args = ["run", "--model", "tiny", "-o", "lang_adapters=fresh", "-o", "eval_limit=8", "--data-dir", str(nli_dir),
            "--selector", "topdown", "--k", "1", "--steps", "4", "--checkpoint-every", "2", "--output-dir", str(tmp_path)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    run_dir = tmp_path / "nli-madx-topdown" / "seed1"
    (run_dir / "results.json").unlink()
    holder = hold(run_dir)
    try:
        before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
        result = CliRunner().invoke(cli, ["run", "--resume", str(run_dir)])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and f"{run_dir} is being written by another process (pid {holder.pid} on " in lines[0]
        assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    finally:
        holder.kill()
        holder.wait()


def hold(folder):
    """A live process that holds ``folder``'s lock (until killed)."""
    code = ("import time\n"
            "from unfreeze_core.rundir import RunDir\n"
            f"lock = RunDir({str(folder)!r}).lock().acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("content", ["garbage{", "[1, 2]", '{"host": "x"}', '{"pid": -5, "host": "h"}',
                                     '{"pid": 1099511627776, "host": "h"}', '{"pid": 7, "host": "h", "since": 1e300}',
                                     '{"pid": 7, "host": "h", "since": NaN}', '{"pid": 7, "host": "h", "started": -1}',
                                     '{"pid": 7, "host": "h", "heartbeat_s": Infinity}', "{}" + " " * 5000])
def test_an_unreadable_lock_is_held_and_says_how_to_clear_it(tmp_path, content):
    (tmp_path / LOCK).write_text(content)
    with pytest.raises(LockedError, match=f"unreadable.*delete that file") as info:
        RunDir(tmp_path).lock().acquire()
    assert "None" not in str(info.value) and (tmp_path / LOCK).read_text() == content


@pytest.mark.parametrize("make, kind", [(os.mkfifo, "a FIFO"), (lambda p: os.symlink(p.parent / "gone", p), "a symbolic link"),
                                        (os.mkdir, "a folder")])
def test_a_lock_that_is_not_a_file_is_one_line_and_never_blocks(tmp_path, make, kind):
    """A FIFO used to hang the reader forever; a dangling link said "try again", which never helps."""
    make(tmp_path / LOCK)
    for attempt in (lambda: RunDir(tmp_path).lock().acquire(), lambda: rundir.holder(tmp_path)):
        with pytest.raises(LockedError) as info:
            attempt()
        message = str(info.value)
        assert f"{tmp_path / LOCK} is {kind}" in message and "delete it" in message and "\n" not in message


def test_a_live_process_that_is_not_unfreeze_is_not_a_writer(tmp_path):
    """A lock naming a live pid of this host that is not unfreeze (here: `sleep`, with no start time recorded,
    or one with another start time) is stale: taken over, not waited for."""
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for extra in ({}, {"started": rundir._boot_ticks(sleeper.pid) + 1}):
            (tmp_path / LOCK).write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "since": 0,
                                                     **extra}))
            assert rundir.holder(tmp_path) is None
            with RunDir(tmp_path).lock():
                assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_of_another_host_goes_stale_when_no_longer_renewed(tmp_path, monkeypatch):
    """A holder on another host renews its lock every heartbeat; one killed there (OOM, a lost node) stops, and
    after STALE_AFTER heartbeats its lock is taken over. A held lock here is renewed meanwhile."""
    record = {"pid": 12, "host": "elsewhere", "since": 0, "heartbeat_s": 0.05}
    (tmp_path / LOCK).write_text(json.dumps(record))
    assert rundir.holder(tmp_path) is not None  # fresh: held
    old = time.time() - rundir.STALE_AFTER * 0.05 - 1
    os.utime(tmp_path / LOCK, (old, old))
    assert rundir.holder(tmp_path) is None  # not renewed: stale
    monkeypatch.setenv(rundir.HEARTBEAT_ENV, "0.05")
    with RunDir(tmp_path).lock():
        os.utime(tmp_path / LOCK, (old, old))
        time.sleep(0.3)
        assert os.stat(tmp_path / LOCK).st_mtime > old + 1  # our heartbeat renewed it
        assert json.loads((tmp_path / LOCK).read_text())["heartbeat_s"] == 0.05
