"""What a real run costs: wall time (= GPU-hours on one GPU) of each Table 1 cell, FUN over GU, the grid.

    python bench/run_cost.py                                  # the issue's H200 reference step times
    python bench/run_cost.py --all-ms 57 --top-ms 27 --exact-s 2.8 --eval-pairs-per-s 2500

A model, not a measurement: per-step times at XLM-R base shapes, batch 32 x 128 tokens, bf16 (all
units trainable; only the top unit), scaled linearly with tokens per batch; a step with the top j units
trainable costs top + (j - 1) * (all - top) / 11 (frozen units below the lowest trainable one cost no
backward; the H200's top-six time, 40 ms, is what this line gives: 40.6). mBERT has the same 12 x 768
encoder, so the same step time. Budgets and k are the paper's (Tables 3, 4, 15; shared/paper/NOTES.md).
"""

from __future__ import annotations

import argparse
import math

UNITS = 12
REF_TOKENS = 32 * 128

# task: (train examples or features, tokens per training example, batch, epochs standard / scheduled,
#        evaluation examples over all test languages, tokens per evaluation example)
TASKS = {
    # MNLI 392,702 pairs; padded to the longest pair of a batch of 128 (assume 128 tokens: an upper bound)
    "XNLI": dict(train=392_702, tokens=128, batch=128, epochs={"mBERT": (15, 15), "XLM-R": (15, 15)},
                 k={"mBERT": {"GU": 800, "FUN": 50}, "XLM-R": {"GU": 800, "FUN": 800}},
                 eval=15 * 5010, eval_tokens=128),
    # COPA 400 examples x 2 choices of ~32 tokens; 500 epochs standard, 5000 scheduled
    "XCOPA": dict(train=400, tokens=2 * 32, batch=64, epochs={"mBERT": (500, 5000), "XLM-R": (500, 5000)},
                  k={"mBERT": {"GU": 50, "FUN": 50}, "XLM-R": {"GU": 1000, "FUN": 1000}},
                  eval=11 * 500 + 100, eval_tokens=2 * 32),
    # SQuAD v1.1: 87,599 questions -> ~88,600 windows of 384 tokens; mBERT 5 epochs, XLM-R 15
    "XQuAD": dict(train=88_600, tokens=384, batch=32, epochs={"mBERT": (5, 5), "XLM-R": (15, 15)},
                  k={"mBERT": {"GU": 800, "FUN": 800}, "XLM-R": {"GU": 800, "FUN": 100}},
                  eval=11 * 1190 * 1.1, eval_tokens=384),
    "MLQA": dict(train=88_600, tokens=384, batch=32, epochs={"mBERT": (5, 5), "XLM-R": (15, 15)},
                 k={"mBERT": {"GU": 800, "FUN": 800}, "XLM-R": {"GU": 800, "FUN": 100}},
                 eval=(11_590 + 5_253 + 5_335 + 4_918 + 5_495 + 5_137 + 4_094) * 1.1, eval_tokens=384),
}


def step_ms(j: int, all_ms: float, top_ms: float) -> float:
    return top_ms + (j - 1) * (all_ms - top_ms) / (UNITS - 1)


def cell(task: dict, model: str, selector: str, args) -> dict:
    scale = task["batch"] * task["tokens"] / REF_TOKENS
    per_epoch = math.ceil(task["train"] / task["batch"])
    epochs = task["epochs"][model][0 if selector == "standard" else 1]
    steps = per_epoch * epochs
    all_ms, top_ms = args.all_ms * scale, args.top_ms * scale
    if selector == "standard":
        train_s = steps * all_ms / 1000
    else:
        k = task["k"][model][selector]
        ramp = min(steps, k * UNITS)
        train_s = sum(step_ms(min(UNITS, 1 + i // k), all_ms, top_ms) for i in range(0, ramp, max(1, k // 50))) \
            * max(1, k // 50) / 1000 + (steps - ramp) * all_ms / 1000
    fisher_s = (UNITS - 1) * args.exact_s * scale if selector == "FUN" else 0.0
    eval_s = task["eval"] * task["eval_tokens"] / 128 / args.eval_pairs_per_s
    return {"steps": steps, "train_h": train_s / 3600, "fisher_s": fisher_s, "eval_s": eval_s,
            "total_h": (train_s + fisher_s + eval_s) / 3600}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all-ms", type=float, default=57.0, help="step, all units, 32 x 128 (H200 reference: 57)")
    parser.add_argument("--top-ms", type=float, default=27.0, help="step, top unit only (H200 reference: 27)")
    parser.add_argument("--exact-s", type=float, default=2.8, help="exact tr(F), 40 batches of 32 x 128 (H200: 2.8)")
    parser.add_argument("--eval-pairs-per-s", type=float, default=2000.0,
                        help="evaluation throughput at 128 tokens (assumed; bench/eval_cost.py measures it)")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    print(f"step {args.all_ms} ms (all units) / {args.top_ms} ms (top unit) at 32 x 128; exact tr(F) "
          f"{args.exact_s} s per 40 batches; evaluation {args.eval_pairs_per_s:.0f} pairs/s at 128 tokens\n")
    print("| task | model | selector | steps | train h | FUN estimates s | eval s | one run h | x GU |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    grid = 0.0
    for name, task in TASKS.items():
        for model in ("mBERT", "XLM-R"):
            gu = cell(task, model, "GU", args)["total_h"]
            for selector in ("standard", "GU", "FUN"):
                c = cell(task, model, selector, args)
                grid += c["total_h"] * args.seeds
                print(f"| {name} | {model} | {selector} | {c['steps']:,} | {c['train_h']:.2f} | {c['fisher_s']:.0f} | "
                      f"{c['eval_s']:.0f} | {c['total_h']:.2f} | {c['total_h'] / gu:.3f} |")
    print(f"\nTable 1 grid: 4 tasks x 2 models x 3 selectors x {args.seeds} seeds = {24 * args.seeds} runs, "
          f"{grid:.0f} GPU-hours on one GPU each ({grid / 24:.1f} days on one GPU, {grid / 8:.1f} h on 8)")


if __name__ == "__main__":
    main()
