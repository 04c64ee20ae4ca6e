"""The training loop: units train exactly from their unfreeze step, frozen units cost no backward,
run directories hold what they promise, same seed gives the same numbers, DDP ranks stay identical."""

import json

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
    """Two runs of one seed: the same scores, schedule and every log line (all but the wall-clock time)."""
    config = tiny_config(nli_dir, tmp_path, selector="random", k=2, steps=10, seeds=[7], fisher_every=3)
    (first,), (second,) = run_all(config), run_all(config)  # two runs: two folders (a seed twice in one is refused)
    assert first["scores"] == second["scores"]
    logs = sorted((tmp_path / "runs").rglob("log.jsonl"))
    assert len(logs) == 2

    def lines(path):
        return [{k: v for k, v in json.loads(line).items() if k != "elapsed_s"} for line in path.read_text().splitlines()]

    a, b = lines(logs[0]), lines(logs[1])
    assert len(a) == 9 and sum("loss" in line for line in a) == 5 and sum("fisher" in line for line in a) == 4
    for line_a, line_b in zip(a, b, strict=True):
        assert line_a == line_b
    schedules = [p.with_name("schedule.json").read_text() for p in logs]
    assert schedules[0] == schedules[1]


@pytest.mark.parametrize("adapter", ["madx", "lora"])
def test_lpft_trains_the_head_before_step_k_and_the_units_from_k(adapter, nli_dir, tmp_path):
    """LPFT: the head is updated by every update before step k while every unit stays as it was; all units
    move from the update after step k's SELECT."""
    from accelerate import Accelerator

    config = tiny_config(nli_dir, tmp_path, adapter=adapter, selector="lpft", k=3, steps=14)
    plugins = get_plugins()
    parts = build(config, plugins)
    snaps = {}

    def take(done, *rest):
        unit_ids = {id(p) for params in trainer.prepared.units.values() for _, p in params}
        snaps[done] = {"head": torch.cat([p.detach().flatten().clone() for p in trainer.prepared.head_params]),
                       "units": {u: torch.cat([p.detach().flatten().clone() for _, p in params])
                                 for u, params in trainer.prepared.units.items()}}
        assert not {id(p) for p in trainer.prepared.head_params} & unit_ids

    trainer = Trainer(config, parts, Accelerator(cpu=True), seed=0, run_dir=tmp_path / "run", hook=plugins.hook,
                      progress=take)
    trainer.run()
    assert trainer.schedule.events == [{"step": 3, "units": [0, 1, 2, 3]}]
    for done in (2, 3):  # the updates at steps 1 and 2: before step k = 3
        assert not torch.equal(snaps[done]["head"], snaps[done - 1]["head"]), done
        assert all(torch.equal(snaps[done]["units"][u], snaps[1]["units"][u]) for u in snaps[1]["units"]), done
    assert all(not torch.equal(snaps[4]["units"][u], snaps[3]["units"][u]) for u in snaps[3]["units"])
    assert not torch.equal(snaps[4]["head"], snaps[3]["head"])


def test_two_processes_hold_identical_weights_after_several_unfreezes(ddp_suite):
    rank0, rank1 = ddp_suite.records("random")  # tests/ddp_suite.py, on 2 processes
    assert len(rank0["events"]) == 4 and rank0["events"] == rank1["events"]  # one decision, broadcast
    assert rank0["weights"] == rank1["weights"]
    # the control: without re-wrapping DDP after an unfreeze, the ranks drift apart
    rank0, rank1 = ddp_suite.records("random-no-rewrap")
    assert max(abs(rank0["weights"][k] - rank1["weights"][k]) for k in rank0["weights"]) > 1e-4


def test_a_plugin_replaces_the_progress_display(nli_dir, tmp_path):
    """progress_view: an outside plugin's view gets the seed's step events; the built-in rich bar is not shown."""
    import io

    from rich.console import Console

    class Dots:
        def __init__(self, console, seed):
            self.console, self.seed, self.steps, self.unfrozen, self.closed = console, seed, [], [], False

        @hookimpl
        def on_step(self, record):
            self.steps.append((record.step, record.steps))

        @hookimpl
        def on_unfreeze(self, record):
            self.unfrozen.append(record.step)

        def close(self):
            self.closed = True

    class Outside:
        def __init__(self):
            self.views = []

        @hookimpl
        def progress_view(self, console, seed):
            self.views.append(Dots(console, seed))
            return self.views[-1]

    def shown(tag):
        out = io.StringIO()
        run_all(tiny_config(nli_dir, tmp_path / tag, selector="topdown", k=1, steps=4),
                console=Console(file=out, width=200))
        return out.getvalue()

    builtin = shown("builtin")
    assert "seed 1" in builtin and "trainable" in builtin  # the rich bar's columns
    plugins, outside = get_plugins(), Outside()
    plugins.register(outside, name="outside-progress")
    try:
        replaced = shown("replaced")
    finally:
        plugins.unregister(name="outside-progress")
    [view] = outside.views
    assert view.seed == 1 and view.closed
    assert view.steps == [(1, 4), (2, 4), (3, 4), (4, 4)] and view.unfrozen == [0, 1, 2, 3]
    assert "trainable" not in replaced
