"""Run under ``torchrun --nproc_per_node 2``: zero-shot evaluation sharded over the ranks, and (rank 0) the
same evaluation in one process, written to ``out_dir/scores.json``. argv: task data_dir out_dir."""

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
from unfreeze_core.training import prepare_model


def main():
    task, data_dir, out_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    config = RunConfig(task=task, model="tiny", adapter="madx")
    config.options["task"] = {"data_dir": data_dir, "eval_limit": 21}  # 21: shards of unequal size
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
    (out_dir / f"rank{accelerator.process_index}.json").write_text(json.dumps(calls))
    if accelerator.is_main_process:
        single = evaluation.zero_shot(*args, batch_size=4, device="cpu")
        (out_dir / "scores.json").write_text(json.dumps({"sharded": sharded, "single": single}))
    else:
        assert sharded is None
    close(accelerator)  # the ranks end the process group together (a clean exit)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
