"""What a real run costs: wall time (= GPU-hours on one GPU) of every cell of the paper's presets, and the grid.

    python bench/run_cost.py                                  # Table 1: configs/paper/table1/*.yaml, 128 cells
    python bench/run_cost.py configs/paper/lowdata/*.yaml     # any preset grid files
    python bench/run_cost.py --all-ms 57 --top-ms 27 --exact-s 2.8 --eval-pairs-per-s 2000

A model, not a measurement. The cells are the grid files' own (``unfreeze sweep``'s resolution: every
selector of the preset, +Rand included, every seed), with each cell's epochs or steps, batch, k,
``task.train_limit`` and test languages. Per-step times at XLM-R base shapes, batch 32 x 128 tokens, bf16
(all units trainable; only the top unit), scaled linearly with tokens per batch; a step whose lowest
trainable unit is the j-th from the top costs top + (j - 1) * (all - top) / 11 (frozen units below the
lowest trainable one cost no backward; the H200's top-six time, 40 ms, is what this line gives: 40.6).
mBERT (and mDeBERTa v3 base, an assumption) have the same 12 x 768 encoder, so the same step time.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

UNITS = 12
REF_TOKENS = 32 * 128
SHORT = {"bert-base-multilingual-cased": "mBERT", "xlm-roberta-base": "XLM-R", "microsoft/mdeberta-v3-base": "mDeBERTa"}

# task: training examples (or features) and tokens per example; tokens per evaluation example; per test
# language, the test examples (QA: 1.1 windows of 384 tokens a question).
TASKS = {
    # MNLI 392,702 pairs, padded to the longest pair of a batch (assume 128 tokens: an upper bound)
    "xnli": dict(train=392_702, tokens=128, eval_tokens=128, test=dict.fromkeys(
        ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"), 5010)),
    # COPA 400 examples x 2 choices of ~32 tokens; English is tested on COPA's 100 validation examples
    "xcopa": dict(train=400, tokens=2 * 32, eval_tokens=2 * 32,
                  test={"en": 100, **dict.fromkeys(("et", "ht", "it", "id", "qu", "sw", "zh", "ta", "th", "tr", "vi"),
                                                   500)}),
    # SQuAD v1.1: 87,599 questions -> ~88,600 windows of 384 tokens
    "xquad": dict(train=88_600, tokens=384, eval_tokens=384, test=dict.fromkeys(
        ("en", "ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"), 1190 * 1.1)),
    "mlqa": dict(train=88_600, tokens=384, eval_tokens=384,
                 test={lang: n * 1.1 for lang, n in {"en": 11_590, "ar": 5_335, "de": 4_517, "es": 5_253,
                                                     "hi": 4_918, "vi": 5_495, "zh": 5_137}.items()}),
}


def depth(selector: str, trainable: int) -> float:
    """How many units from the top a step's backward reaches with ``trainable`` units unfrozen.

    GU and FUN unfreeze from the top (the paper's FUN order is close to top-down); +Rand picks units at
    random, so the lowest of i random units out of L lies i (L + 1) / (i + 1) units down on average."""
    if selector in ("topdown", "fisher", "lpft"):
        return trainable
    if selector == "random":
        return trainable * (UNITS + 1) / (trainable + 1)
    if selector == "bottomup":
        return UNITS
    raise SystemExit(f"run_cost: no cost model for selector {selector!r}")


def step_ms(j: float, all_ms: float, top_ms: float) -> float:
    return top_ms + (j - 1) * (all_ms - top_ms) / (UNITS - 1)


def cell_cost(settings: dict, args) -> dict:
    """One cell (one seed's run): steps, training, FUN's estimates and evaluation, in seconds and hours."""
    task = TASKS[settings["task"]]
    options = settings.get("options", {}).get("task", {})
    train = min(task["train"], options.get("train_limit") or task["train"])
    batch = settings["batch_size"]
    scale = batch * task["tokens"] / REF_TOKENS
    per_epoch = math.ceil(train / batch)
    steps = settings["steps"] or math.ceil(per_epoch * settings["epochs"])
    all_ms, top_ms = args.all_ms * scale, args.top_ms * scale
    selector, k = settings["selector"], settings["k"]
    if selector == "standard":
        train_s = steps * all_ms / 1000
    else:
        ramp = min(steps, k * UNITS)
        stride = max(1, k // 50)
        train_s = (sum(step_ms(depth(selector, min(UNITS, 1 + i // k)), all_ms, top_ms) for i in range(0, ramp, stride))
                   * stride + (steps - ramp) * all_ms) / 1000
    fisher_s = (UNITS - 1) * args.exact_s * scale * settings.get("fisher_batches", 40) / 40 \
        if selector == "fisher" else 0.0
    languages = options.get("languages") or list(task["test"])
    unknown = [lang for lang in languages if lang not in task["test"]]
    if unknown:
        raise SystemExit(f"run_cost: no test size for {settings['task']} {unknown[0]!r}")
    eval_s = sum(task["test"][lang] for lang in languages) * task["eval_tokens"] / 128 / args.eval_pairs_per_s
    return {"steps": steps, "train_h": train_s / 3600, "fisher_s": fisher_s, "eval_s": eval_s,
            "languages": len(languages), "total_h": (train_s + fisher_s + eval_s) / 3600}


def preset_cells(paths: list[Path]) -> list[dict]:
    """Every cell of the grid files, resolved as ``unfreeze sweep`` resolves them (no folder is made)."""
    from unfreeze_core.grid import cells, load_grid

    return [cell.settings for path in paths for cell in cells(load_grid(path), "/nonexistent/run_cost")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="*", type=Path, help="preset grid files (default: configs/paper/table1/*.yaml)")
    parser.add_argument("--all-ms", type=float, default=57.0, help="step, all units, 32 x 128 (H200 reference: 57)")
    parser.add_argument("--top-ms", type=float, default=27.0, help="step, top unit only (H200 reference: 27)")
    parser.add_argument("--exact-s", type=float, default=2.8, help="exact tr(F), 40 batches of 32 x 128 (H200: 2.8)")
    parser.add_argument("--eval-pairs-per-s", type=float, default=2000.0,
                        help="evaluation throughput at 128 tokens (assumed; bench/eval_cost.py measures it)")
    args = parser.parse_args(argv)
    grids = args.grids or sorted((ROOT / "configs" / "paper" / "table1").glob("*.yaml"))
    settings = preset_cells(grids)
    print(f"step {args.all_ms} ms (all units) / {args.top_ms} ms (top unit) at 32 x 128; exact tr(F) "
          f"{args.exact_s} s per 40 batches; evaluation {args.eval_pairs_per_s:.0f} pairs/s at 128 tokens\n")
    rows: dict[tuple, dict] = {}
    for s in settings:
        key = (s["task"], SHORT.get(s["model"], s["model"]), s["adapter"], s["selector"],
               s.get("options", {}).get("task", {}).get("train_limit"))
        row = rows.setdefault(key, {**cell_cost(s, args), "seeds": 0})
        row["seeds"] += 1
    limits = any(key[4] for key in rows)
    print("| task | model | adapter | selector |" + (" train limit |" if limits else "")
          + " seeds | steps | test langs | train h | FUN estimates s | eval s | one run h | x GU |")
    print("|" + "|".join([" --- "] * 4 + [" ---: "] * (9 + limits)) + "|")
    for (task, model, adapter, selector, limit), c in rows.items():
        gu = rows.get((task, model, adapter, "topdown", limit))
        ratio = f"{c['total_h'] / gu['total_h']:.3f}" if gu else "-"
        print(f"| {task} | {model} | {adapter} | {selector} |" + (f" {limit or '-'} |" if limits else "")
              + f" {c['seeds']} | {c['steps']:,} | {c['languages']} | {c['train_h']:.2f} | {c['fisher_s']:.0f} | "
              f"{c['eval_s']:.0f} | {c['total_h']:.2f} | {ratio} |")
    total = sum(c["total_h"] * c["seeds"] for c in rows.values())
    count = len(settings)
    shape = " x ".join(f"{len({key[i] for key in rows})} {name}" for i, name in
                       ((0, "tasks"), (1, "models"), (3, "selectors")))
    print(f"\n{len(grids)} grid files, {count} cells ({shape}, each seed a cell): {total:.0f} GPU-hours on "
          f"one GPU each ({total / 24:.1f} days on one GPU, {total / 8:.1f} h on 8)")
    return count, total


if __name__ == "__main__":
    main()
