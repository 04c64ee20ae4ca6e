"""Run under ``torchrun --nproc_per_node N``: one epoch of --batch-size 16 (the batch of one optimizer step);
dump the step budget, the schedule, the batch split and the training examples this rank saw.

argv: data_dir out_dir
"""

import json
import sys
from pathlib import Path

import torch
from accelerate import Accelerator

from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.plugins import get_plugins
from unfreeze_core.training import Trainer


def example(ids, mask) -> list[int]:
    return [int(i) for i, m in zip(ids, mask) if m]


def main():
    data_dir, out_dir = sys.argv[1], Path(sys.argv[2])
    config = RunConfig(task="nli", model="tiny", adapter="madx", selector="topdown", k=1, epochs=1, batch_size=16,
                       lr=1e-2, output_dir=str(out_dir), log_every=1, checkpoint_every=0)
    config.options["task"] = {"data_dir": data_dir, "languages": ["en"], "eval_limit": 8, "train_limit": 64}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    plugins = get_plugins()
    parts = build(config, plugins)
    accelerator = Accelerator(cpu=True)
    trainer = Trainer(config, parts, accelerator, seed=5, run_dir=out_dir / "run", hook=plugins.hook)
    seen, endless = [], trainer._endless

    def recording(loader, skip=0):
        for batch in endless(loader, skip):
            seen.extend(example(i, m) for i, m in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist()))
            yield batch

    trainer._endless = recording
    trainer.run()
    rank = accelerator.process_index
    record = {"rank": rank, "steps": trainer.steps, "events": trainer.schedule.events, "split": trainer.split,
              "seen": seen, "train": [example(f["input_ids"], f["attention_mask"]) for f in trainer.prepared.train_data]}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
