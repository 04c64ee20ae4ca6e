"""Several multi-process checks in one launch: ``torchrun --nproc_per_node 2 ddp_suite.py OUT NLI_DIR XNLI_DIR
SCENARIO...`` (or plain ``python`` for one process) runs each scenario in turn in the same process group and
writes ``OUT/<scenario>/rank<r>.json``. An interpreter with torch, transformers and a gloo group takes seconds
to start; the tests that read these records share one start (``conftest.ddp_suite``).

Scenarios (each was a worker script of its own):
- ``random`` / ``random-no-rewrap``: training with several unfreeze events, each rank's weights; the second
  skips the DDP re-wrap after an unfreeze (the control that shows why it is needed);
- ``fun``: the same with FUN (``fisher_batches=2``): its decisions and the examples each estimate read, and
  (``estimates``, rank 0) every registered estimator's tr(F) of the built, untrained model, estimated as the
  controller does under this many processes (step batches of 8 cut into per-process micro-batches);
- ``batch``: one epoch of --batch-size 16: the step budget, schedule, batch split and examples each rank saw;
- ``eval``: zero-shot evaluation sharded over the ranks, and (rank 0) the same in one process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from accelerate import Accelerator

from unfreeze_core import evaluation
from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.plugins import get_plugins
from unfreeze_core.runner import close
from unfreeze_core.training import Trainer, prepare_model


def train(out: Path, nli_dir: str, *, fun: bool, rewrap: bool = True) -> dict:
    config = RunConfig(task="nli", model="tiny", adapter="madx", selector="fisher" if fun else "random", k=3,
                       steps=24, batch_size=8, lr=1e-2, output_dir=str(out), log_every=4, fisher_batches=2)
    config.options["task"] = {"data_dir": nli_dir, "languages": ["en"], "eval_limit": 8}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    plugins = get_plugins()
    parts = build(config, plugins)
    accelerator = Accelerator(cpu=True)
    trainer = Trainer(config, parts, accelerator, seed=3, run_dir=out / "run", hook=plugins.hook)
    if not rewrap:
        trainer.rewrap = lambda: None
    estimates = {}
    if fun:
        build_only = trainer.build

        def build_and_estimate():
            build_only()
            if accelerator.is_main_process:
                for name, cls in plugins.registries()["fisher_estimators"].entries.items():
                    estimates[name] = trainer.unfreezer.fisher(trainer.inner_model, 0, 2, estimator=cls())

        trainer.build = build_and_estimate
    trainer.run()
    model = accelerator.unwrap_model(trainer.model)
    units = parts.backend.units(model)
    weights = {f"{u}/{name}": p.detach().double().sum().item() for u, params in units.items() for name, p in params}
    return {"rank": accelerator.process_index, "events": trainer.schedule.events, "weights": weights,
            "estimates": estimates}


def example(ids, mask) -> list[int]:
    return [int(i) for i, m in zip(ids, mask) if m]


def batch(out: Path, nli_dir: str) -> dict:
    config = RunConfig(task="nli", model="tiny", adapter="madx", selector="topdown", k=1, epochs=1, batch_size=16,
                       lr=1e-2, output_dir=str(out), log_every=1, checkpoint_every=0)
    config.options["task"] = {"data_dir": nli_dir, "languages": ["en"], "eval_limit": 8, "train_limit": 64}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    plugins = get_plugins()
    parts = build(config, plugins)
    accelerator = Accelerator(cpu=True)
    trainer = Trainer(config, parts, accelerator, seed=5, run_dir=out / "run", hook=plugins.hook)
    seen, endless = [], trainer._endless

    def recording(loader, skip=0):
        for b in endless(loader, skip):
            seen.extend(example(i, m) for i, m in zip(b["input_ids"].tolist(), b["attention_mask"].tolist()))
            yield b

    trainer._endless = recording
    trainer.run()
    return {"rank": accelerator.process_index, "steps": trainer.steps, "events": trainer.schedule.events,
            "split": trainer.split, "seen": seen,
            "train": [example(f["input_ids"], f["attention_mask"]) for f in trainer.prepared.train_data]}


def zero_shot(out: Path, xnli_dir: str) -> dict:
    config = RunConfig(task="xnli", model="tiny", adapter="madx")
    config.options["task"] = {"data_dir": xnli_dir, "eval_limit": 21}  # 21: shards of unequal size
    config.options["adapter"] = {"lang_adapters": "fresh"}
    parts = build(config, get_plugins())
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    prepared = prepare_model(config, parts)  # same seed: the same random weights on every rank
    calls = []
    shard = parts.task.evaluate_shard
    parts.task.evaluate_shard = lambda *a, **k: calls.append(k["shard"]) or shard(*a, **k)
    args = (prepared.model, parts.backend, parts.task, prepared.tokenizer, prepared.languages)
    sharded = evaluation.zero_shot(*args, batch_size=4, device="cpu", accelerator=accelerator)
    record = {"rank": accelerator.process_index, "shards": calls, "sharded": sharded}
    if accelerator.is_main_process:
        record["single"] = evaluation.zero_shot(*args, batch_size=4, device="cpu")
    return record


SCENARIOS = {
    "random": lambda out, nli, xnli: train(out, nli, fun=False),
    "random-no-rewrap": lambda out, nli, xnli: train(out, nli, fun=False, rewrap=False),
    "fun": lambda out, nli, xnli: train(out, nli, fun=True),
    "batch": lambda out, nli, xnli: batch(out, nli),
    "eval": lambda out, nli, xnli: zero_shot(out, xnli),
}


def main():
    out, nli_dir, xnli_dir, *names = sys.argv[1:]
    accelerator = None
    for name in names:
        folder = Path(out) / name
        folder.mkdir(parents=True, exist_ok=True)
        record = SCENARIOS[name](folder, nli_dir, xnli_dir)
        (folder / f"rank{record['rank']}.json").write_text(json.dumps(record))
        accelerator = Accelerator(cpu=True)
        accelerator.wait_for_everyone()
    if accelerator is not None:
        close(accelerator)  # the ranks end the process group together (a clean exit)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
