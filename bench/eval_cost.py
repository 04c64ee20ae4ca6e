"""Evaluation time against training time: the default job, and an XNLI-sized zero-shot evaluation
(15 languages x 5,010 pairs) against the training it follows.

    python bench/eval_cost.py                         # world shapes, CPU, 1 thread
    python bench/eval_cost.py --size base --device cuda --mixed-precision bf16 --batch-size 32

Evaluation is ``evaluation.zero_shot`` (batched, no gradients, each language's adapter swapped in);
its first pass includes tokenising the test splits (cached on disk afterwards), the second reads the
cache. Training time is the median step time of the same model (every unit trainable) times the steps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from common import device_name, model_name, nli_folder, save_json


def build(args, data_dir, languages_fresh: bool):
    import torch

    from unfreeze_core.components import build as build_parts
    from unfreeze_core.config import RunConfig
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.training import prepare_model

    config = RunConfig(model=model_name(args.size), batch_size=args.batch_size, mixed_precision=args.mixed_precision)
    config.options["task"] = {"data_dir": data_dir} if data_dir else {}
    if languages_fresh or args.size != "world":
        config.options["adapter"] = {"lang_adapters": "fresh"}
    parts = build_parts(config, get_plugins())
    torch.manual_seed(0)
    return config, parts, prepare_model(config, parts)


def step_ms(args, parts, prepared, device, steps=12, warmup=2):
    import torch

    model = prepared.model.to(device).train()
    params = prepared.head_params + [p for ps in prepared.units.values() for _, p in ps]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    collate = parts.task.collate(prepared.tokenizer)
    data = prepared.train_data
    times = []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for i in range(steps):
        batch = {k: v.to(device) for k, v in collate(data[i * args.batch_size:(i + 1) * args.batch_size]).items()}
        sync()
        start = time.perf_counter()
        with autocast(args, device):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times[warmup:]) * 1000


def autocast(args, device):
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.mixed_precision)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def evaluate(args, parts, prepared, device) -> tuple[float, dict]:
    import torch

    from unfreeze_core import evaluation

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    with autocast(args, device):
        scores = evaluation.zero_shot(prepared.model.to(device), parts.backend, parts.task, prepared.tokenizer,
                                      prepared.languages, batch_size=args.eval_batch_size, device=device)
    sync()
    return time.perf_counter() - start, scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mixed-precision", choices=["no", "bf16"], default="no")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--languages", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=5010)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--passes", type=int, choices=[1, 2], default=2,
                        help="2: a second evaluation that reads the tokenised test splits from the cache")
    parser.add_argument("--skip-default", action="store_true", help="only the XNLI-sized evaluation")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    import datasets
    import torch

    from unfreeze_core.runner import quiet_libraries

    quiet_libraries()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    result = {"size": args.size, "device": device_name(), "precision": args.mixed_precision}
    with tempfile.TemporaryDirectory() as cache:
        datasets.config.HF_DATASETS_CACHE = cache  # cold tokenisation on the first pass
        if not args.skip_default and args.size == "world":
            _, parts, prepared = build(args, None, False)
            ms = step_ms(args, parts, prepared, device)
            first, _ = evaluate(args, parts, prepared, device)
            second = evaluate(args, parts, prepared, device)[0] if args.passes == 2 else first
            train = ms * 600 / 1000
            result["default_job"] = {"step_ms": ms, "train_600_steps_s": train, "eval_first_s": first,
                                     "eval_cached_s": second, "languages": len(prepared.languages),
                                     "eval_share_first": first / (first + train)}
        folder = nli_folder(f"xnli-{args.languages}x{args.pairs}", train=50 * args.batch_size, test=args.pairs,
                            languages=args.languages, sentences=3)
        _, parts, prepared = build(args, str(folder), True)
        ms = step_ms(args, parts, prepared, device)
        first, scores = evaluate(args, parts, prepared, device)
        second = evaluate(args, parts, prepared, device)[0] if args.passes == 2 else first
        pairs = args.languages * args.pairs
        mnli_steps = 15 * 392_702 / 128  # the paper's MNLI budget: 15 epochs at batch 128
        train = ms * (128 / args.batch_size) * mnli_steps / 1000
        result["xnli_sized"] = {"languages": len(scores), "pairs": pairs, "eval_first_s": first, "eval_cached_s": second,
                                "eval_pairs_per_s": pairs / second, f"step_ms_batch{args.batch_size}": ms,
                                "train_15_epochs_mnli_s_estimate": train, "eval_share": second / (second + train)}
    print(json.dumps(result, indent=1))
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
