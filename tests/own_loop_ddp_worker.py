"""Run under ``torchrun --nproc_per_node 2``: a plain PyTorch loop with ``Unfreezing`` (FUN, weight decay) and the
model in DDP (find_unused_parameters=True) on gloo, as docs/integrations.md ("Your own loop") says; each rank
writes its events, its units' weights and the units that moved while frozen. argv: out_dir."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from transformers import DataCollatorWithPadding

from hf_fixtures import tiny_classifier, tiny_dataset
from unfreeze_core.integrations.loop import Unfreezing
from unfreeze_core.testing import unit_snapshots


def main():
    out = Path(sys.argv[1])
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    model, tokenizer = tiny_classifier()
    data, collate = tiny_dataset(tokenizer, n=128), DataCollatorWithPadding(tokenizer)
    unfreezing = Unfreezing(model, selector="fisher", k=2, fisher_batches=2, seed=1, train_dataset=data,
                            collate_fn=collate, batch_size=8)  # 8 = the step's batch: 4 on each of 2 ranks
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    wrapped = DistributedDataParallel(model, find_unused_parameters=True)  # after Unfreezing: every unit registered
    unfreezing.freeze(steps=9)
    snaps = unit_snapshots(unfreezing.units)
    snaps.record(0)
    for step in range(9):
        unfreezing.advance(step)
        start = step * 8 + rank * 4
        wrapped(**collate([data[i] for i in range(start, start + 4)])).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        snaps.record(step + 1)
    weights = {str(u): sum(p.detach().double().sum().item() for _, p in params) for u, params in unfreezing.units.items()}
    record = {"world": dist.get_world_size(), "events": unfreezing.events, "weights": weights,
              "moved_while_frozen": snaps.moved_while_frozen(unfreezing.events),
              "moved_after": snaps.moved_after(unfreezing.events)}
    (out / f"rank{rank}.json").write_text(json.dumps(record))
    dist.barrier()  # a clean exit: gloo's threads left running abort the process
    dist.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
