"""The training loop: units train exactly from their unfreeze step, frozen units cost no backward,
run directories hold what they promise, same seed gives the same numbers, DDP ranks stay identical."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.plugins import get_plugins
from unfreeze_core.runner import run_all
from unfreeze_core.training import Trainer, prepare_model


def tiny_config(nli_dir, tmp_path, **overrides):
    settings = dict(task="nli", model="tiny", adapter="madx", batch_size=8, lr=1e-2, log_every=2,
                    output_dir=str(tmp_path / "runs"))
    config = RunConfig(**{**settings, **overrides})
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 16, "train_limit": 64}
    if config.adapter == "madx":
        config.options["adapter"] = {"lang_adapters": "fresh"}
    return config


class Snapshots:
    """A watcher plugin: unit weights before the first update (on_unfreeze at step 0) and after each."""

    def __init__(self):
        self.trainer, self.taken = None, {}

    def take(self, done):
        self.taken[done] = {u: torch.cat([p.detach().flatten().clone() for _, p in params])
                            for u, params in self.trainer.prepared.units.items()}

    @hookimpl
    def on_unfreeze(self, step, units, scores):
        if step == 0:
            self.take(0)


@pytest.mark.parametrize("adapter", ["madx", "lora"])
def test_a_unit_is_updated_from_its_unfreeze_step_on_and_never_before(adapter, nli_dir, tmp_path):
    from accelerate import Accelerator

    config = tiny_config(nli_dir, tmp_path, adapter=adapter, selector="topdown", k=2, steps=10)
    plugins = get_plugins()
    watcher = Snapshots()
    plugins.register(watcher, name="snapshots")
    try:
        parts = build(config, plugins)
        trainer = watcher.trainer = Trainer(config, parts, Accelerator(cpu=True), seed=0, run_dir=tmp_path / "run",
                                            hook=plugins.hook, progress=lambda done, *rest: watcher.take(done))
        trainer.run()
    finally:
        plugins.unregister("snapshots")
    snaps = watcher.taken
    unfrozen_at = {e["units"][0]: e["step"] for e in trainer.schedule.events}
    assert unfrozen_at == {3: 0, 2: 2, 1: 4, 0: 6}
    for unit, step in unfrozen_at.items():
        for done in range(step + 1):  # after `done` updates, a unit that joins at update step+1 is untouched
            assert torch.equal(snaps[done][unit], snaps[0][unit]), (unit, done)
        assert not torch.equal(snaps[step + 1][unit], snaps[step][unit]), unit  # and it moves right then


def test_frozen_units_cost_no_backward_compute(nli_dir, tmp_path):
    config = tiny_config(nli_dir, tmp_path)
    parts = build(config, get_plugins())
    prepared = prepare_model(config, parts)
    top = max(prepared.units)
    for _, p in prepared.units[top]:
        p.requires_grad_(True)
    needs_grad = {}
    layers = prepared.model.roberta.encoder.layer
    for i, layer in enumerate(layers):
        layer.register_forward_hook(lambda m, inp, out, i=i: needs_grad.__setitem__(i, out[0].requires_grad))
    batch = parts.task.collate(prepared.tokenizer)(prepared.train_data[:4])
    prepared.model(**batch).loss.backward()
    assert needs_grad == {i: i == top for i in range(len(layers))}  # autograd stops above the lower layers
    assert all(p.grad is None for u in prepared.units if u != top for _, p in prepared.units[u])


@pytest.mark.parametrize("adapter,selector", [("madx", "topdown"), ("lora", "lpft")])
def test_end_to_end_run_writes_the_run_directory(adapter, selector, nli_dir, tmp_path):
    config = tiny_config(nli_dir, tmp_path, adapter=adapter, selector=selector, k=3, steps=14, seeds=[4])
    [result] = run_all(config)
    run_dir = tmp_path / "runs" / f"nli-{adapter}-{selector}" / "seed4"
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "plugins.json", "log.jsonl", "schedule.json", "results.json", "task_adapter"} <= names
    assert any(p.suffix == ".safetensors" for p in (run_dir / "task_adapter").iterdir())
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6, 8, 10, 12, 14]
    assert all({"step", "loss", "lr", "trainable_units"} <= set(r) for r in log)
    assert log[-1]["lr"] == 0.0  # linear decay to zero, no warm-up
    schedule = json.loads((run_dir / "schedule.json").read_text())
    expected = {"topdown": [{"step": 3 * i, "units": [3 - i]} for i in range(4)],
                "lpft": [{"step": 3, "units": [0, 1, 2, 3]}]}[selector]
    assert schedule == expected
    stored = json.loads((run_dir / "results.json").read_text())
    assert stored == result
    assert set(stored) >= {"task", "adapter", "selector", "seed", "metric", "scores", "avg_xling", "lowest"}
    assert list(stored["scores"]) == ["en", "de", "el"]
    assert stored["avg_xling"] == pytest.approx((stored["scores"]["de"] + stored["scores"]["el"]) / 2)
    assert stored["lowest"]["score"] == min(stored["scores"]["de"], stored["scores"]["el"])
    plugins = json.loads((run_dir / "plugins.json").read_text())
    assert plugins["selector"] == {"name": selector, "plugin": "selectors", "version": "0.1.0", "options": {}}


def test_validation_curve_is_logged_and_leaves_training_untouched(nli_dir, tmp_path):
    def final_log(eval_every, name):
        config = tiny_config(nli_dir, tmp_path / name, selector="topdown", k=2, steps=8, eval_every=eval_every)
        run_all(config)
        lines = [json.loads(l) for l in next((tmp_path / name).rglob("log.jsonl")).read_text().splitlines()]
        return lines, json.loads(next((tmp_path / name).rglob("results.json")).read_text())

    with_curve, results_with = final_log(4, "curve")
    without, results_without = final_log(0, "plain")
    curve = [line for line in with_curve if "validation" in line]
    assert [line["step"] for line in curve] == [4, 8]
    assert all(0.0 <= line["validation"]["accuracy"] <= 1.0 for line in curve)
    strip = lambda lines: [{k: v for k, v in l.items() if k != "elapsed_s"} for l in lines if "loss" in l]
    assert strip(with_curve) == strip(without)
    assert results_with["scores"] == results_without["scores"]


def test_same_seed_same_numbers(nli_dir, tmp_path):
    config = tiny_config(nli_dir, tmp_path, selector="random", k=2, steps=10, seeds=[7])
    (first,), (second,) = run_all(config), run_all(config)  # two runs: two folders (a seed twice in one is refused)
    assert first["scores"] == second["scores"]
    logs = sorted((tmp_path / "runs").rglob("log.jsonl"))
    assert len({p.read_text().split('"elapsed_s"')[0] for p in logs}) == 1 or \
        [json.loads(l)["loss"] for l in logs[0].read_text().splitlines()] == \
        [json.loads(l)["loss"] for l in logs[1].read_text().splitlines()]


def torchrun(worker_args, out):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           str(Path(__file__).with_name("ddp_worker.py")), *worker_args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_two_processes_hold_identical_weights_after_several_unfreezes(nli_dir, tmp_path):
    out = tmp_path / "ddp"
    rank0, rank1 = torchrun([str(nli_dir), str(out)], out)
    assert len(rank0["events"]) == 4 and rank0["events"] == rank1["events"]  # one decision, broadcast
    assert rank0["weights"] == rank1["weights"]
    # the control: without re-wrapping DDP after an unfreeze, the ranks drift apart
    out2 = tmp_path / "ddp-no-rewrap"
    rank0, rank1 = torchrun([str(nli_dir), str(out2), "--no-rewrap"], out2)
    assert max(abs(rank0["weights"][k] - rank1["weights"][k]) for k in rank0["weights"]) > 1e-4
