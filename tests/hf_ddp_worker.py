"""Run under ``torchrun --nproc_per_node 2``: the Trainer callback with FUN on a tiny adapters model
(gloo, CPU); each rank dumps its schedule and its units' weights. argv: out_dir."""

import json
import sys
from pathlib import Path

import torch
from transformers import DataCollatorWithPadding, Trainer

from hf_fixtures import tiny_classifier, tiny_dataset, training_args, unit_weights
from unfreeze_core.integrations.transformers import UnfreezeCallback
from unfreeze_core.testing import unit_snapshots


def main():
    out = Path(sys.argv[1])
    model, tokenizer = tiny_classifier(seed=0)
    callback = UnfreezeCallback(model, selector="fisher", k=2,
                                fisher_every=4, fisher_batches=2)
    args = training_args(out / "trainer", max_steps=10, ddp_backend="gloo", weight_decay=0.1)
    snaps = unit_snapshots(callback.units)
    trainer = Trainer(model=model, args=args, train_dataset=tiny_dataset(tokenizer, 96),
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[snaps])
    callback.add_to(trainer)
    trainer.train()
    rank = trainer.args.process_index
    weights = {str(u): w.double().sum().item() for u, w in unit_weights(callback.units).items()}
    logged = [sorted(k for k in entry if k.startswith(("fisher/", "unfreeze/"))) for entry in trainer.state.log_history]
    record = {"moved_while_frozen": snaps.moved_while_frozen(callback.schedule.events), "rank": rank, "world": trainer.args.world_size, "events": callback.schedule.events, "weights": weights,
              "logged": [keys for keys in logged if keys]}
    (out / f"rank{rank}.json").write_text(json.dumps(record))
    if torch.distributed.is_initialized():  # a clean exit: gloo's threads left running abort the process
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
