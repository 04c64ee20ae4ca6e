"""Peak memory of a training step (every unit trainable, only the top unit) and of a tr(F) estimate
(in place vs on a deep copy), each scenario in a fresh subprocess.

    python bench/memory.py                                  # world model, batch 32, CPU
    python bench/memory.py --size base --batch-size 8        # XLM-R base shapes, random weights, CPU
    python bench/memory.py --size base --batch-size 32 --device cuda --dtype bf16

CPU: the peak resident set size (VmHWM, reset through /proc/self/clear_refs after the model, optimizer
and batches exist) minus the resident size at that point: what the step or estimate adds. GPU:
torch.cuda.max_memory_allocated() minus memory_allocated() at the same point. "model" is the resident
size (or allocated GPU memory) with everything built, before the first step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import bench_model, device_name, save_json

SCENARIOS = ("all units", "top unit only", "tr(F) in place", "tr(F) on a copy")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def one(args) -> dict:
    """Runs one scenario in this process; returns bytes."""
    import torch

    from unfreeze_core.fisher import fisher_scores
    from unfreeze_core.runner import quiet_libraries

    quiet_libraries()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    parts, prepared = bench_model(args.size, args.adapter, args.batch_size, args.max_length)
    model = prepared.model.to(device)
    collate = parts.task.collate(prepared.tokenizer)
    data = prepared.train_data
    batches = [{k: v.to(device) for k, v in collate(data[i * args.batch_size:(i + 1) * args.batch_size]).items()}
               for i in range(args.batches)]
    top = max(prepared.units)
    trainable = [top] if args.scenario == "top unit only" else sorted(prepared.units)
    for unit, params in prepared.units.items():
        for _, p in params:
            p.requires_grad_(unit in trainable)
    params = prepared.head_params + [p for u in trainable for _, p in prepared.units[u]]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    with torch.no_grad():  # weights loaded from safetensors may be memory-mapped: make them resident first
        for p in model.parameters():
            p.sum()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        if not _reset_peak():
            raise SystemExit("cannot reset the peak RSS (/proc/self/clear_refs): Linux only")
        before = _status("VmRSS")
    if args.scenario.startswith("tr(F)"):
        from unfreeze_fisher import Exact

        generator = torch.Generator(device).manual_seed(2)
        with autocast:
            fisher_scores(model, parts.backend, parts.task, Exact(), batches, generator,
                          in_place=args.scenario == "tr(F) in place")
    else:
        model.train()
        for batch in batches:
            with autocast:
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = _status("VmHWM")
    return {"scenario": args.scenario, "model_bytes": before, "peak_bytes": peak, "added_bytes": peak - before}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--adapter", choices=["madx", "lora"], default="madx")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batches", type=int, default=3, help="steps (or tr(F) batches) per scenario")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.scenario:  # the child
        print(json.dumps(one(args)))
        return None
    rows = []
    for scenario in SCENARIOS:
        child = [sys.executable, __file__, *[a for a in (argv or sys.argv[1:]) if a != "--json"], "--scenario", scenario]
        if args.json and args.json in child:
            child.remove(args.json)
        out = subprocess.run(child, check=True, capture_output=True, text=True, env={**os.environ}).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    mib = 2 ** 20
    print(f"{args.size}, {args.adapter}, batch {args.batch_size} x <= {args.max_length}, {args.dtype}, "
          f"{args.device} ({device_name() if args.device != 'cpu' else 'peak RSS'}), {args.batches} batches\n")
    print("| scenario | model etc. MiB | peak MiB | added by the step / estimate MiB |\n| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['scenario']} | {r['model_bytes'] / mib:.0f} | {r['peak_bytes'] / mib:.0f} | "
              f"{r['added_bytes'] / mib:.1f} |")
    save_json(args.json, {"setting": vars(args), "rows": rows})
    return rows


if __name__ == "__main__":
    main()
