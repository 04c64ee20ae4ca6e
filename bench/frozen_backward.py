"""Step time with only the top unit (or the top six) trainable vs every unit trainable: frozen units cost no backward.

Same model, same batches, measured side by side in one process (the settings interleaved step by step):
    .venv/bin/python bench/frozen_backward.py [--size world] [--adapter madx] [--steps 60] [--threads 1]
    python bench/frozen_backward.py --size base --device cuda --dtype bf16     # XLM-R base shapes, 32 x 128
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from common import bench_model, device_name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--adapter", default="madx")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    parts, prepared = bench_model(args.size, args.adapter, args.batch_size, args.max_length)
    model = prepared.model.to(device).train()
    collate = parts.task.collate(prepared.tokenizer)
    data = prepared.train_data
    batches = [{k: v.to(device) for k, v in collate(data[i:i + args.batch_size]).items()}
               for i in range(0, 10 * args.batch_size, args.batch_size)]
    units = sorted(prepared.units)
    settings = [("top unit only", units[-1:]), ("top six units", units[-6:]), ("all units", units)]
    optimizers = {label: torch.optim.AdamW(prepared.head_params + [p for u in chosen for _, p in prepared.units[u]],
                                           lr=1e-5) for label, chosen in settings}
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    times = {label: [] for label, _ in settings}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for i in range(args.steps):
        for label, chosen in settings:
            for unit, params in prepared.units.items():
                for _, p in params:
                    p.requires_grad_(unit in chosen)
            batch = batches[i % len(batches)]
            sync()
            start = time.perf_counter()
            with autocast:
                loss = model(**batch).loss
            loss.backward()
            optimizers[label].step()
            optimizers[label].zero_grad(set_to_none=True)
            sync()
            times[label].append(time.perf_counter() - start)
    rows = [(label, statistics.median(times[label][args.warmup:]) * 1000) for label, _ in settings]
    print(f"{args.size}, adapter {args.adapter}, {len(units)} units, batch {args.batch_size} x <= {args.max_length}, "
          f"{args.dtype}, {device_name() if device.type == 'cuda' else f'CPU, {args.threads} thread(s)'}, "
          f"median of {args.steps - args.warmup} interleaved steps")
    for label, ms in rows:
        print(f"  {label:15s} {ms:8.1f} ms/step  ({ms / rows[-1][1]:.2f}x all units)")


if __name__ == "__main__":
    main()
