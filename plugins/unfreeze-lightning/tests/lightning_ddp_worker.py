"""Two CPU processes under Lightning's strategy="ddp" (gloo), launched by Lightning itself: FUN with weight decay
on the tiny classifier; each rank writes its events, its units' weights and the units that moved while frozen.
argv: out_dir."""

import json
import sys
from pathlib import Path

import torch

from lightning_fixtures import Snapshots, tiny_module, trainer, world_loader
from unfreeze_lightning import UnfreezeFinetuning


def main():
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    module, tokenizer = tiny_module()
    unfreezing = UnfreezeFinetuning(selector="fisher", k=2, fisher_batches=2, fisher_every=4, seed=3)
    snapshots = Snapshots(unfreezing)
    fit = trainer(out, 10, [unfreezing, snapshots], devices=2, strategy="ddp")
    fit.fit(module, world_loader(tokenizer, n=64, batch_size=4))
    rank = fit.global_rank
    weights = {str(u): sum(p.detach().double().sum().item() for _, p in params) for u, params in unfreezing.units.items()}
    record = {"rank": rank, "world": fit.world_size, "events": unfreezing.schedule.events, "weights": weights,
              "moved_while_frozen": snapshots.snaps.moved_while_frozen(unfreezing.schedule.events),
              "moved_after": snapshots.snaps.moved_after(unfreezing.schedule.events),
              "find_unused": fit.strategy._ddp_kwargs.get("find_unused_parameters"), "tracked": len(unfreezing.tracked)}
    (out / f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
