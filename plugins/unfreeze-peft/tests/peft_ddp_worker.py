"""Run under ``torchrun --nproc_per_node 2``: a PeftModel in a plain Trainer with UnfreezeCallback (FUN, backend
peft-lora) on gloo; each rank dumps its schedule, its units' weights and whether any base weight moved.
argv: out_dir."""

import json
import sys
from pathlib import Path

import torch
from transformers import DataCollatorWithPadding, Trainer

from peft_fixtures import tiny_dataset, tiny_peft_classifier, training_args, weights
from unfreeze_core.integrations.transformers import UnfreezeCallback
from unfreeze_core.testing import unit_snapshots


def main():
    out = Path(sys.argv[1])
    model, tokenizer = tiny_peft_classifier(seed=0)
    base = weights((n, p) for n, p in model.named_parameters() if "base_layer" in n)
    callback = UnfreezeCallback(model, backend="peft-lora", selector="fisher", k=2,
                                fisher_every=4, fisher_batches=2)
    args = training_args(out / "trainer", max_steps=10, ddp_backend="gloo")
    snaps = unit_snapshots(callback.units)
    trainer = Trainer(model=model, args=args, train_dataset=tiny_dataset(tokenizer, 96),
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[snaps])
    callback.add_to(trainer)
    trainer.train()
    rank = trainer.args.process_index
    unit_sums = {str(u): sum(p.detach().double().sum().item() for _, p in params)
                 for u, params in callback.units.items()}
    now = dict(model.named_parameters())
    record = {"rank": rank, "world": trainer.args.world_size, "events": callback.schedule.events,
              "weights": unit_sums, "moved_while_frozen": snaps.moved_while_frozen(callback.schedule.events),
              "base_moved": [n for n, w in base.items() if not torch.equal(now[n], w)]}
    (out / f"rank{rank}.json").write_text(json.dumps(record))
    if torch.distributed.is_initialized():  # a clean exit: gloo's threads left running abort the process
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
