"""Step time with only the top unit trainable vs every unit trainable (frozen units cost no backward).

Same model, same batches, measured side by side in one process:
    .venv/bin/python bench/frozen_backward.py [--model world] [--adapter madx] [--steps 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.plugins import get_plugins
from unfreeze_core.training import prepare_model


def step_times(prepared, batches, trainable_units, repeats):
    for unit, params in prepared.units.items():
        for _, p in params:
            p.requires_grad_(unit in trainable_units)
    params = prepared.head_params + [p for u in trainable_units for _, p in prepared.units[u]]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    prepared.model.train()
    times = []
    for i in range(repeats):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        loss = prepared.model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times[5:]  # warm-up


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="world")
    parser.add_argument("--adapter", default="madx")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = RunConfig(model=args.model, adapter=args.adapter, batch_size=args.batch_size)
    parts = build(config, get_plugins())
    prepared = prepare_model(config, parts)
    collate = parts.task.collate(prepared.tokenizer)
    data = prepared.train_data
    batches = [collate(data[i:i + args.batch_size]) for i in range(0, 10 * args.batch_size, args.batch_size)]
    top = max(prepared.units)
    rows = []
    for label, units in [("top unit only", [top]), ("all units", sorted(prepared.units))]:
        times = step_times(prepared, batches, units, args.steps)
        rows.append((label, statistics.median(times) * 1000))
    print(f"model {args.model}, adapter {args.adapter}, {len(prepared.units)} units, batch {args.batch_size}, "
          f"{args.threads} thread(s), median of {args.steps - 5} steps")
    for label, ms in rows:
        print(f"  {label:15s} {ms:7.1f} ms/step  ({ms / rows[-1][1]:.2f}x all units)")


if __name__ == "__main__":
    main()
