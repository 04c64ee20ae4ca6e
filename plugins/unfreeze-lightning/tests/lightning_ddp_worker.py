"""docs/examples/lightning_finetuning.py on two CPU processes (strategy="ddp", gloo, launched by Lightning itself),
with one more callback that copies every unit's weights around each update; each rank writes its events, its
units' weights and the units that moved while frozen. argv: out_dir."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "docs" / "examples"))
from lightning_finetuning import main as example  # noqa: E402

from lightning_fixtures import Snapshots  # noqa: E402


def main():
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    snapshots = Snapshots(None)  # finds the example's UnfreezeFinetuning when training starts
    fit, unfreezing = example([str(out), "--steps", "16", "--k", "2", "--devices", "2"], callbacks=[snapshots])
    events = unfreezing.schedule.events
    weights = {str(u): sum(p.detach().double().sum().item() for _, p in params) for u, params in unfreezing.units.items()}
    record = {"rank": fit.global_rank, "world": fit.world_size, "events": events, "weights": weights,
              "moved_while_frozen": snapshots.snaps.moved_while_frozen(events),
              "moved_after": snapshots.snaps.moved_after(events),
              "find_unused": fit.strategy._ddp_kwargs.get("find_unused_parameters"), "tracked": len(unfreezing.tracked)}
    (out / f"rank{fit.global_rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
