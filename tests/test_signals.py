"""Signals always end a run the same way: any number of SIGINT/SIGTERM at any moment give exit 130/143 (the
first signal decides), one line with the true state of the run folder, no traceback; and what was kept
resumes to the weights of an unbroken run."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from unfreeze_core import checkpoint, signals, runner

RUN = ["--model", "tiny", "-o", "lang_adapters=fresh", "-o", "eval_limit=16", "-o", "train_limit=48", "--steps", "24",
       "--k", "1", "--selector", "topdown", "--batch-size", "8", "--checkpoint-every", "3"]
KEPT = re.compile(r"^Error: interrupted by (SIGINT|SIGTERM); the checkpoint of step (\d+) is kept: "
                  r"resume with `unfreeze run --resume (.+)`$")
NONE_YET = re.compile(r"^Error: interrupted by (SIGINT|SIGTERM) before the first checkpoint; nothing to resume in (.+)$")
UNSTARTED = re.compile(r"^Error: interrupted by (SIGINT|SIGTERM)( before the run started; nothing was written)?$")
FINISHED = re.compile(r"^Error: interrupted by (SIGINT|SIGTERM) after the (run finished; its results are in (.+)|"
                      r"command finished)$")


def cli(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "unfreeze_cli", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}, **kw)


def handlers_installed(pid: int) -> bool:
    """Whether the process catches SIGTERM (Python does not by default: our handler is installed)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone already
    caught = int(re.search(r"SigCgt:\s*([0-9a-f]+)", status).group(1), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def weights(run_dir: Path) -> dict:
    return checkpoint.load(run_dir)["weights"]


def test_any_number_of_signals_at_any_moment_end_with_the_true_state_and_resume_identically(nli_dir, tmp_path):
    seed = int(os.environ.get("UNFREEZE_SIGNAL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    trials = 5
    reference = cli("run", *RUN, "--data-dir", nli_dir, "--output-dir", tmp_path / "reference")
    procs, plans = [], []
    for i in range(trials):
        procs.append(cli("run", *RUN, "--data-dir", nli_dir, "--output-dir", tmp_path / f"t{i}"))
        # One kind a burst: of two kinds pending at once, Python handles the lower number (SIGINT) first.
        signals_sent = [rng.choice([signal.SIGINT, signal.SIGTERM])] * rng.choice([1, 1, 2, 3, 10])
        plans.append((rng.uniform(0.0, 14.0), signals_sent, [rng.uniform(0, 0.05) for _ in signals_sent]))
    start = time.time()
    pending = list(range(trials))
    while pending:
        for i in list(pending):
            delay, sent, gaps = plans[i]
            if procs[i].poll() is not None:
                pending.remove(i)
            elif time.time() - start >= delay and handlers_installed(procs[i].pid):
                for sig, gap in zip(sent, gaps):
                    if procs[i].poll() is None:
                        procs[i].send_signal(sig)
                    time.sleep(gap)
                pending.remove(i)
        time.sleep(0.01)
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    ref = weights(next((tmp_path / "reference").glob("*/seed1")))
    resumes = []
    for i, proc in enumerate(procs):
        _, stderr = proc.communicate(timeout=300)
        delay, sent, _ = plans[i]
        why = f"trial {i} (UNFREEZE_SIGNAL_SEED={seed}, {delay:.2f} s, {[signal.Signals(s).name for s in sent]})"
        assert "Traceback" not in stderr, f"{why}: {stderr}"
        run_dir = tmp_path / f"t{i}" / "nli-madx-topdown" / "seed1"
        if proc.returncode == 0:  # it finished before the signals came
            assert stderr.strip() == "", f"{why}: {stderr}"
            continue
        assert proc.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sent[0]], f"{why}: rc {proc.returncode} {stderr}"
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, f"{why}: {stderr}"
        line = lines[0]
        assert signal.Signals(sent[0]).name in line, f"{why}: {line}"
        if match := KEPT.match(line):
            assert Path(match.group(3)) == run_dir, f"{why}: {line}"
            assert checkpoint.load(run_dir)["step"] == int(match.group(2)), f"{why}: {line}"
            assert not (run_dir / "results.json").exists()
            resumes.append((i, run_dir, cli("run", "--resume", run_dir)))
        elif NONE_YET.match(line):
            assert run_dir.is_dir() and not checkpoint.exists(run_dir), f"{why}: {line}"
        elif FINISHED.match(line):
            assert (run_dir / "results.json").is_file() and torch.equal(*[
                torch.cat([w.flatten() for _, w in sorted(d.items())]) for d in (weights(run_dir), ref)]), why
        else:
            assert UNSTARTED.match(line), f"{why}: {line}"
            assert not run_dir.exists(), f"{why}: {line}"
    for i, run_dir, proc in resumes:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"trial {i} resume (UNFREEZE_SIGNAL_SEED={seed}): {stderr}"
        resumed = weights(run_dir)
        assert resumed.keys() == ref.keys()
        for name, value in ref.items():
            assert torch.equal(value, resumed[name]), f"trial {i} (UNFREEZE_SIGNAL_SEED={seed}): {name} differs"


def test_a_signal_during_a_checkpoint_write_waits_for_the_file(tmp_path):
    """Inside ``critical`` a signal is held until the write is done, then stops the run; later ones are ignored."""
    with signals.handled():
        with pytest.raises(signals.Stop) as info:
            with signals.critical():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                os.kill(os.getpid(), signal.SIGINT)
                checkpoint.save(tmp_path, step=3, weights={"w": torch.ones(2)}, optimizer={}, scheduler={},
                                schedule={}, window=[])
        assert info.value.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGINT)  # stopping already: ignored
        time.sleep(0.05)
    assert checkpoint.load(tmp_path)["step"] == 3
    error = runner.interrupted(signal.SIGTERM, tmp_path)
    assert error.exit_code == 143
    assert str(error) == f"interrupted by SIGTERM; the checkpoint of step 3 is kept: resume with " \
                         f"`unfreeze run --resume {tmp_path}`"


def test_a_stop_raised_inside_a_finalizer_is_not_printed(capsys):
    """A signal that lands while Python runs a weakref callback raises Stop there, where Python can only
    print it ("Exception ignored in ...", with a traceback); the signal is already recorded, so it is dropped
    quietly. Other exceptions in finalizers are still reported."""
    import gc
    import sys
    import weakref

    from unfreeze_core import signals

    saved = sys.unraisablehook
    seen = []
    sys.unraisablehook = lambda info: seen.append(type(info.exc_value).__name__)
    try:
        assert signals.install()
        try:
            class Thing:
                pass

            for error in (signals.Stop(2), ValueError("other")):
                thing = Thing()
                ref = weakref.ref(thing, lambda _, e=error: (_ for _ in ()).throw(e))  # noqa: F841
                del thing
                gc.collect()
        finally:
            signals.uninstall()
    finally:
        sys.unraisablehook = saved
    assert seen == ["ValueError"]


SLOW_TEARDOWN = """
import os, time


class _Slow:
    def __del__(self):  # runs while Python tears its modules down, after it restored the default signal handlers
        open(os.environ["UNFREEZE_TEST_MARKER"], "w").close()
        time.sleep(5)


_slow = _Slow()
"""


def test_a_signal_in_the_last_second_of_the_process_is_still_143_and_one_line(nli_dir, tmp_path):
    """A SIGTERM while the process ends (after results.json, the tables, the lock): exit 143 and one line, or 0
    when it had already ended. Python's own shutdown restores the default handlers before it tears the modules
    down (torch's take 0.1-0.7 s), so a SIGTERM then killed the process (exit -15, no line: 7 of 8 tries in the
    catalogue). Here a module whose teardown is slow marks that phase, and the signal is sent inside it; the CLI
    now ends its process itself with its handlers in place (``signals.exit_process``), so the phase never comes.
    Seen failing (-15) with ``Group.__call__`` removed."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_TEARDOWN)
    marker = tmp_path / "tearing-down"
    env = {**os.environ, "COLUMNS": "200", "UNFREEZE_TEST_MARKER": str(marker),
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "unfreeze_cli", "run", *map(str, RUN[:-2]), "--checkpoint-every",
                             "0", "--steps", "4", "--data-dir", str(nli_dir), "--output-dir", str(tmp_path / "runs")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 240
    while proc.poll() is None and not marker.exists() and time.time() < deadline:
        time.sleep(0.01)
    if marker.exists():
        proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (0, 143), f"exit {proc.returncode}, stderr {stderr!r}"
    lines = stderr.strip().splitlines()
    if proc.returncode == 143:
        assert len(lines) == 1 and FINISHED.match(lines[0]), stderr
    else:
        assert not lines, stderr
    assert list((tmp_path / "runs").glob("*/seed1/results.json"))
