"""A run that dies keeps its checkpoint; resuming it ends with exactly the weights of an unbroken run."""

import json

import pytest
import torch
from accelerate import Accelerator

from unfreeze_core import checkpoint
from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.plugins import get_plugins
from unfreeze_core.training import Trainer


class Died(Exception):
    pass


def make_config(nli_dir, tmp_path):
    config = RunConfig(model="tiny", selector="random", k=3, steps=16, batch_size=8, lr=1e-2, log_every=2,
                       checkpoint_every=4, output_dir=str(tmp_path))
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "languages": ["en"]}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    return config


def trainer(config, run_dir, progress=None):
    plugins = get_plugins()
    return Trainer(config, build(config, plugins), Accelerator(cpu=True), seed=5, run_dir=run_dir, hook=plugins.hook,
                   progress=progress)


def test_resume_after_a_crash_reaches_the_same_weights(nli_dir, tmp_path):
    config = make_config(nli_dir, tmp_path)
    trainer(config, tmp_path / "whole").run()

    def die_at_10(step, *rest):
        if step == 10:
            raise Died

    with pytest.raises(Died):
        trainer(config, tmp_path / "broken", die_at_10).run()
    assert checkpoint.load(tmp_path / "broken")["step"] == 8
    trainer(config, tmp_path / "broken").run(resume=True)

    whole, resumed = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "broken")
    assert resumed["step"] == whole["step"] == 16
    assert whole["weights"].keys() == resumed["weights"].keys()
    for name, value in whole["weights"].items():
        assert torch.equal(value, resumed["weights"][name]), name
    assert json.loads((tmp_path / "whole" / "schedule.json").read_text()) == \
        json.loads((tmp_path / "broken" / "schedule.json").read_text())
    steps = [json.loads(line)["step"] for line in (tmp_path / "broken" / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(2, 17, 2))  # lines logged after the checkpoint are not duplicated


def test_resume_without_checkpoint_is_a_clear_error(nli_dir, tmp_path):
    from unfreeze_core.errors import UnfreezeError

    with pytest.raises(UnfreezeError, match="no checkpoint"):
        trainer(make_config(nli_dir, tmp_path), tmp_path / "empty").run(resume=True)


def test_cli_resume_of_an_unfinished_run_ends_bit_identical(nli_dir, tmp_path, monkeypatch):
    """A FUN run that dies right after its step-4 checkpoint (no results, no schedule yet), resumed with
    `unfreeze run --resume DIR` (which reads the folder's own config.yaml), ends with exactly the files of
    an unbroken run: weights, schedule with FUN's scores, every log line, results."""
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    settings = tmp_path / "settings.yaml"
    settings.write_text("log_every: 2\n")

    def run(out):
        args = ["run", "--config", str(settings), "--model", "tiny", "-o", "lang_adapters=fresh", "--data-dir",
                str(nli_dir), "--selector", "fisher", "--fisher-batches", "2", "--k", "2", "--steps", "10",
                "--checkpoint-every", "4", "--fisher-every", "3", "--output-dir", str(out)]
        return CliRunner().invoke(cli, args), out / "nli-madx-fisher-exact" / "seed1"

    done, whole = run(tmp_path / "whole")
    assert done.exit_code == 0, done.output
    real_save = checkpoint.save

    def save_then_die(run_dir, **state):
        real_save(run_dir, **state)
        if state["step"] == 4:
            raise Died

    monkeypatch.setattr(checkpoint, "save", save_then_die)
    died, broken = run(tmp_path / "broken")
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert died.exit_code == 1 and "Died" in died.output, died.output  # reported as an unexpected error
    assert checkpoint.load(broken)["step"] == 4 and not (broken / "results.json").exists()
    assert not (broken / "schedule.json").exists()
    resumed = CliRunner().invoke(cli, ["run", "--resume", str(broken)])
    assert resumed.exit_code == 0, resumed.output

    a, b = checkpoint.load(whole), checkpoint.load(broken)
    assert a["step"] == b["step"] == 10 and a["weights"].keys() == b["weights"].keys()
    for name, value in a["weights"].items():
        assert torch.equal(value, b["weights"][name]), name
    events = json.loads((broken / "schedule.json").read_text())
    assert [e["step"] for e in events if "scores" in e] == [0, 2, 4]  # the step-4 decision made after resuming
    assert (whole / "schedule.json").read_text() == (broken / "schedule.json").read_text()
    lines = lambda d: [{k: v for k, v in json.loads(line).items() if k != "elapsed_s"}
                       for line in (d / "log.jsonl").read_text().splitlines()]
    assert [(line["step"], "fisher" in line) for line in lines(broken)] == \
        [(0, True), (2, False), (3, True), (4, False), (6, False), (6, True), (8, False), (9, True), (10, False)]
    assert lines(whole) == lines(broken)
    assert json.loads((whole / "results.json").read_text()) == json.loads((broken / "results.json").read_text())
    missing = CliRunner().invoke(cli, ["run", "--resume", str(tmp_path)])
    assert missing.exit_code == 1 and "no config.yaml" in missing.output


class Hostile:
    """Unpickling this writes a marker file: what a crafted checkpoint.pt would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_hostile_legacy_checkpoint_runs_nothing(tmp_path):
    from unfreeze_core.errors import UnfreezeError

    marker = tmp_path / "pwned"
    torch.save({"step": 4, "weights": {}, "extra": Hostile(marker)}, tmp_path / "checkpoint.pt")
    with pytest.raises(UnfreezeError, match="refusing checkpoint") as info:
        checkpoint.load(tmp_path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_a_plain_legacy_checkpoint_still_loads(tmp_path):
    torch.save({"step": 3, "weights": {"w": torch.ones(2)}, "window": [0.5], "rng": checkpoint.rng_state()},
               tmp_path / "checkpoint.pt")
    state = checkpoint.load(tmp_path)
    assert state["step"] == 3 and torch.equal(state["weights"]["w"], torch.ones(2))
    checkpoint.restore_rng(state["rng"])


def test_the_checkpoint_holds_no_pickle_and_round_trips(tmp_path):
    import random

    import numpy as np

    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    checkpoint.save(tmp_path, config={"k": 3}, step=1, weights=dict(model.state_dict()),
                    optimizer=optimizer.state_dict(), scheduler={"last_epoch": 1}, schedule={"events": []},
                    window=[0.25])
    expected = (random.random(), np.random.rand(), torch.rand(1))
    state = checkpoint.load(tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]  # no temporary file left
    assert b"\x80\x04" not in (tmp_path / "checkpoint.safetensors").read_bytes()[:8]
    assert state["config"] == {"k": 3} and state["fingerprint"] == checkpoint.fingerprint({"k": 3})
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    fresh.load_state_dict(state["optimizer"])
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    checkpoint.restore_rng(state["rng"])
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":"])
def test_an_empty_or_corrupt_checkpoint_is_one_line(tmp_path, content):
    from unfreeze_core.errors import UnfreezeError

    (tmp_path / "checkpoint.safetensors").write_bytes(content)
    with pytest.raises(UnfreezeError, match="checkpoint") as info:
        checkpoint.load(tmp_path)
    assert "\n" not in str(info.value)


def test_a_stop_signal_checkpoints_at_the_step_boundary_and_resumes_identically(nli_dir, tmp_path):
    import os
    import signal

    from unfreeze_core import signals

    config = make_config(nli_dir, tmp_path)
    trainer(config, tmp_path / "whole").run()

    def signal_at_10(step, *rest):
        if step == 10:
            os.kill(os.getpid(), signal.SIGTERM)

    stopped = trainer(config, tmp_path / "stopped", signal_at_10)
    with signals.handled(), pytest.raises(signals.Stop) as info:
        stopped.run()
    assert info.value.signum == signal.SIGTERM
    assert checkpoint.load(tmp_path / "stopped")["step"] == 10  # not 8: saved where the signal stopped it
    trainer(config, tmp_path / "stopped").run(resume=True)
    whole, resumed = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "stopped")
    for name, value in whole["weights"].items():
        assert torch.equal(value, resumed["weights"][name]), name


def test_a_diverging_run_stops_with_one_line_and_keeps_its_last_good_checkpoint(nli_dir, tmp_path):
    from unfreeze_core.training import Diverged

    config = make_config(nli_dir, tmp_path)
    t = trainer(config, tmp_path / "run")
    step_ = t._step

    def poisoned(batches):
        loss = step_(batches)
        return float("nan") if t.scheduler.last_epoch == 9 else loss  # the 10th update's loss

    t._step = poisoned
    with pytest.raises(Diverged, match="at step 10") as info:
        t.run()
    assert "step 8" in str(info.value) and "\n" not in str(info.value)
    assert checkpoint.load(tmp_path / "run")["step"] == 8
    assert not (tmp_path / "run" / "results.json").exists()


def test_resume_refuses_an_edited_config_naming_the_field(nli_dir, tmp_path):
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    args = ["run", "--model", "tiny", "-o", "lang_adapters=fresh", "--data-dir", str(nli_dir), "--selector", "topdown",
            "--k", "2", "--steps", "8", "--checkpoint-every", "4", "--output-dir", str(tmp_path)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    run_dir = tmp_path / "nli-madx-topdown" / "seed1"
    flags = CliRunner().invoke(cli, ["run", "--resume", str(run_dir), "--steps", "80", "--selector", "bogus"])
    assert flags.exit_code == 1 and "--steps cannot be given with --resume" in flags.output
    path = run_dir / "config.yaml"
    path.write_text(path.read_text().replace("k: 2", "k: 3"))
    edited = CliRunner().invoke(cli, ["run", "--resume", str(run_dir), "--threads", "1"])
    assert edited.exit_code == 1 and "k was 2, now 3" in edited.output, edited.output


def test_a_checkpoint_that_does_not_fit_the_model_is_one_line(nli_dir, tmp_path):
    from unfreeze_core.errors import UnfreezeError

    config = make_config(nli_dir, tmp_path)
    trainer(config, tmp_path / "run").run()
    state = checkpoint.load(tmp_path / "run")
    name = next(iter(state["weights"]))
    state["weights"][name] = torch.zeros(3)  # a tensor of another shape under a real name
    checkpoint.save(tmp_path / "run", config=state["config"],
                    **{k: v for k, v in state.items() if k not in ("rng", "config", "fingerprint")})
    with pytest.raises(UnfreezeError, match="does not fit this run") as info:
        trainer(config, tmp_path / "run").run(resume=True)
    assert "\n" not in str(info.value)


def test_a_resume_across_epochs_with_accumulation_reaches_the_same_weights(nli_dir, tmp_path):
    """skip_first_batches passes over whole epochs and part of one; accumulate spans the epoch ends."""
    from unfreeze_core.process import make_accelerator

    config = make_config(nli_dir, tmp_path)
    config = config.replace(steps=20, grad_accum=2, checkpoint_every=8)
    config.options["task"]["train_limit"] = 44  # 11 micro-batches of 4 an epoch: the resume skips 2 epochs and 10

    def run(name, progress=None, resume=False):
        plugins = get_plugins()
        return Trainer(config, build(config, plugins), make_accelerator(config, tmp_path), seed=5,
                       run_dir=tmp_path / name, hook=plugins.hook, progress=progress).run(resume=resume)

    def die_at_18(step, *rest):
        if step == 18:
            raise Died

    run("whole")
    with pytest.raises(Died):
        run("broken", die_at_18)
    assert checkpoint.load(tmp_path / "broken")["step"] == 16
    run("broken", resume=True)
    whole, resumed = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "broken")
    for name, value in whole["weights"].items():
        assert torch.equal(value, resumed["weights"][name]), name
    assert (tmp_path / "whole" / "log.jsonl").read_text().count("loss") == 10
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "elapsed_s"} for l in p.read_text().splitlines()]
    assert strip(tmp_path / "whole" / "log.jsonl") == strip(tmp_path / "broken" / "log.jsonl")


def test_an_accelerator_that_accumulates_otherwise_is_refused(nli_dir, tmp_path):
    from unfreeze_core.errors import UnfreezeError

    config = make_config(nli_dir, tmp_path)
    config = config.replace(grad_accum=2)
    with pytest.raises(UnfreezeError, match="--grad-accum 2 needs"):
        trainer(config, tmp_path / "run").run()


# -- saved state is untrusted input -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stopped(nli_dir, tmp_path_factory):
    """A run folder as a run stopped after its checkpoint of step 8 leaves it (no results.json)."""
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    out = tmp_path_factory.mktemp("stopped")
    args = ["run", "--model", "tiny", "-o", "lang_adapters=fresh", "-o", "eval_limit=8", "--data-dir", str(nli_dir),
            "--selector", "topdown", "--k", "1", "--steps", "8", "--checkpoint-every", "4", "--output-dir", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    run_dir = out / "nli-madx-topdown" / "seed1"
    (run_dir / "results.json").unlink()
    return run_dir


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def tamper(run_dir, edit):
    """Rewrite the checkpoint's JSON metadata with ``edit(body)`` (which may return the JSON text itself)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = run_dir / "checkpoint.safetensors"
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    body = json.loads(meta["unfreeze"])
    text = edit(body)
    save_file(tensors, str(path), metadata={"unfreeze": text or json.dumps(body)})


def field(body, *keys):
    """The [key, value] pair of a nested ``$dict`` entry of the checkpoint's state."""
    node = body["state"]
    for key in keys:
        pair = next(p for p in node["$dict"] if p[0] == key)
        node = pair[1]
    return pair


def set_field(value, *keys):
    def edit(body):
        field(body, *keys)[1] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (set_field(-3, "step"), "step is -3, outside 1..8"),
    (set_field(10 ** 30, "step"), f"step is {10 ** 30}, outside 1..8"),
    (lambda body: json.dumps(body).replace('["step", 8]', '["step", 1e400]'), "step is inf, not an integer"),
    (set_field("abc", "window"), "the loss window is str, not a list of numbers"),
    (set_field(["0.001", 0.001], "scheduler", "base_lrs"), "the LR schedule's base_lrs holds '0.001'"),
    (set_field(7, "scheduler", "last_epoch"), "last_epoch is 7, not the step 8"),
    (set_field([99], "schedule", "trainable"), "a trainable unit is 99, outside 0..3"),
    (set_field("fast", "optimizer", "param_groups"), "the optimizer's param_groups is not a non-empty list"),
    (lambda body: body.pop("config") and None, "records no configuration"),
    (lambda body: body["config"].update(lr=0.5), "its configuration does not match its fingerprint"),
])
def test_a_tampered_checkpoint_is_refused_and_nothing_changes(stopped, tmp_path, edit, message):
    import shutil

    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    run_dir = tmp_path / "seed1"
    shutil.copytree(stopped, run_dir)
    tamper(run_dir, edit)
    before = snapshot(run_dir)
    result = CliRunner().invoke(cli, ["run", "--resume", str(run_dir)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "unexpected" not in lines[0], result.output
    assert snapshot(run_dir) == before  # the log is not truncated, nothing written


@pytest.mark.parametrize("odd", ['{"step": null, "loss": 1}', '{"step": "5", "loss": 1}', '[1, 2]', '{"step": true}'])
def test_odd_log_lines_are_dropped_on_resume(stopped, tmp_path, odd):
    import shutil

    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    run_dir = tmp_path / "seed1"
    shutil.copytree(stopped, run_dir)
    log = run_dir / "log.jsonl"
    kept = log.read_text()
    log.write_text(kept + odd + "\n")
    result = CliRunner().invoke(cli, ["run", "--resume", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert log.read_text() == kept and (run_dir / "results.json").is_file()


def test_a_full_disk_during_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    """RLIMIT_FSIZE in a child process: the write fails with one line, the previous checkpoint is intact."""
    import subprocess
    import sys

    checkpoint.save(tmp_path, config={"k": 1}, step=4, weights={"w": torch.zeros(4)}, optimizer={}, scheduler={},
                    schedule={}, window=[])
    before = (tmp_path / "checkpoint.safetensors").read_bytes()
    code = ("import resource, sys, torch\n"
            "from unfreeze_core import checkpoint\n"
            "from unfreeze_core.errors import UnfreezeError\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 1000}, {len(before) + 1000}))\n"
            "try:\n"
            f"    checkpoint.save({str(tmp_path)!r}, config={{'k': 1}}, step=8, weights={{'w': torch.zeros(100000)}},"
            " optimizer={}, scheduler={}, schedule={}, window=[])\n"
            "except UnfreezeError as exc:\n"
            "    print(exc); sys.exit(exc.exit_code)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip() == (f"could not write the checkpoint of step 8 in {tmp_path} (File too large); "
                                   f"the previous checkpoint (step 4) is intact")
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]  # no temporary file left


def test_a_loss_window_of_huge_finite_values_resumes_to_a_finite_log(nli_dir, tmp_path):
    """A checkpoint's loss window of 1e308s is finite and accepted; their mean must not overflow to Infinity
    (which ``unfreeze plot`` then refuses). Seen failing with the mean as sum(window) / len(window)."""
    import math

    config = make_config(nli_dir, tmp_path).replace(log_every=8, checkpoint_every=6, steps=12)

    def die_at_7(step, *rest):
        if step == 7:
            raise Died

    with pytest.raises(Died):
        trainer(config, tmp_path / "run", die_at_7).run()
    tamper(tmp_path / "run", set_field([1e308] * 6, "window"))
    trainer(config, tmp_path / "run").run(resume=True)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert losses and all(math.isfinite(loss) for loss in losses), losses
    assert max(losses) > 1e307  # the window was used, not dropped


def test_a_two_process_resume_through_the_cli_is_bit_identical(nli_dir, tmp_path):
    """`torchrun --nproc_per_node 2 ... run --resume DIR`: rank 0 holds the folder's lock, rank 1 follows (it used
    to take the lock too and be refused: the job died). One torchrun launch (gloo): an unbroken run, one that
    dies at step 6, its resume; the resumed weights equal the unbroken run's exactly."""
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(Path(__file__).with_name("ddp_resume_worker.py")), str(nli_dir), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result == {"code": 0, "same": True, "results": True, "lock_left": False}, result
