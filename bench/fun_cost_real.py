"""FUN's extra cost against GU (topdown) on the real checkpoint (``--model minilm``), both in one process.

    /work/cpu .venv/bin/python bench/fun_cost_real.py                        # the real-weights grid's cells
    .venv/bin/python bench/fun_cost_real.py --repeats 3 --fisher-batches 40   # FUN reading the paper's 40 batches

The same run, alternating topdown and fisher (topdown, fisher, topdown, fisher ...) ``--repeats`` times in
one Python process (model loading, training, evaluation, writing the run folder: ``runner.run_all``), so
both see the same load; the table gives every run's seconds, the ratio of medians, and FUN's order. The
defaults are the cells of ``studies/grids/real/nli.yaml`` (LoRA, English NLI, 90 steps, k 10, batch 32,
one thread, a 500-item test set; FUN with ``stop_z 0`` and 10 batches per decision).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=90)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--fisher-batches", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-limit", type=int, default=500)
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        print("error: --repeats must be at least 1", file=sys.stderr)
        return 2
    from rich.console import Console

    from unfreeze_core.config import RunConfig
    from unfreeze_core.runner import run_all

    quiet = Console(file=open("/dev/null", "w"))
    out = Path(tempfile.mkdtemp(prefix="fun-cost-real-"))
    times = {"topdown": [], "fisher": []}
    orders = []
    try:
        for repeat in range(args.repeats):
            for selector in times:
                options = {"task": {"languages": ["en"], "eval_limit": args.eval_limit}, "adapter": {},
                           "selector": {"stop_z": 0} if selector == "fisher" else {}, "fisher": {}}
                config = RunConfig(model="minilm", adapter="lora", task="nli", selector=selector, steps=args.steps,
                                   k=args.k, fisher_batches=args.fisher_batches, threads=args.threads,
                                   checkpoint_every=0, output_dir=str(out / f"{selector}{repeat}"), seeds=[1],
                                   options=options)
                start = time.perf_counter()
                run_all(config, [], console=quiet)
                times[selector].append(time.perf_counter() - start)
                if selector == "fisher":
                    (schedule,) = (out / f"fisher{repeat}").rglob("schedule.json")
                    orders.append([u for e in json.loads(schedule.read_text()) for u in e["units"]])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    ratio = statistics.median(times["fisher"]) / statistics.median(times["topdown"])
    print(f"\nminilm, LoRA, English NLI, {args.steps} steps, k {args.k}, threads {args.threads}; FUN: exact, "
          f"stop_z 0, {args.fisher_batches} batches per decision\n\n| selector | seconds per run | median |\n"
          "| --- | --- | ---: |")
    for selector, ts in times.items():
        print(f"| {selector} | {', '.join(f'{t:.1f}' for t in ts)} | {statistics.median(ts):.1f} |")
    print(f"\nFUN / topdown: {ratio:.2f}x; FUN's orders: {orders}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "seconds": times, "ratio": ratio,
                                               "fun_orders": orders}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
