"""The data pipeline on MNLI-sized data: time to the first optimizer step with a cold and a warm datasets
cache, tokenisation and loader throughput (examples/s) against what a training step consumes.

    python bench/data_pipeline.py                      # 392,702 generated pairs in the MNLI (hub) schema
    python bench/data_pipeline.py --train 20000         # quicker

Data: world NLI pairs, each premise three world sentences long (about MNLI's length), written once to
the bench cache. Model: the world (its BPE tokenizer). Cold: a fresh HF_DATASETS_CACHE (JSON -> Arrow,
then tokenisation); warm: the same cache again (both read from disk). Each run is a fresh process, timed
from its start to the end of its first optimizer step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import model_name, nli_folder, save_json


class FirstStep(Exception):
    pass


def first_step(args) -> None:
    """The child: a real run up to its first optimizer step; prints seconds since the process started."""
    start = float(os.environ["BENCH_T0"])
    from accelerate import Accelerator

    from unfreeze_core.components import build
    from unfreeze_core.config import RunConfig
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.runner import quiet_libraries
    from unfreeze_core.training import Trainer

    quiet_libraries()
    import torch

    torch.set_num_threads(args.threads)
    config = RunConfig(model=model_name(args.size), batch_size=args.batch_size, checkpoint_every=0,
                       output_dir=args.run_dir)
    config.options["task"] = {"data_dir": args.data, "languages": ["en"]}
    plugins = get_plugins()
    parts = build(config, plugins)
    marks = {}

    def progress(step, *rest):
        marks["first_step"] = time.time() - start
        raise FirstStep

    trainer = Trainer(config, parts, Accelerator(cpu=not torch.cuda.is_available()), 1, f"{args.run_dir}/run",
                      plugins.hook, progress)
    try:
        trainer.run()
    except FirstStep:
        pass
    print(json.dumps({"first_step_s": marks["first_step"], "rows": len(trainer.prepared.train_data)}))


def child(args, cache: str, extra_env=None) -> dict:
    env = {**os.environ, "HF_DATASETS_CACHE": cache, "BENCH_T0": repr(time.time()), **(extra_env or {})}
    cmd = [sys.executable, __file__, "--child", "--data", args.data, "--run-dir", args.run_dir,
           "--threads", str(args.threads), "--batch-size", str(args.batch_size), "--size", args.size]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def throughput(args, cache: str) -> dict:
    """In this process, on the warm cache: tokenised rows per second read by the training DataLoader."""
    os.environ["HF_DATASETS_CACHE"] = cache
    import datasets
    import torch

    datasets.config.HF_DATASETS_CACHE = cache
    from unfreeze_core.models import load_model
    from unfreeze_core.runner import quiet_libraries
    from unfreeze_core.tasks.classification import NLI

    quiet_libraries()
    torch.set_num_threads(args.threads)
    tokenizer = load_model(model_name(args.size))[1]
    task = NLI(NLI.Options(data_dir=args.data, languages=["en"]))
    rows = task.train_dataset(tokenizer)
    result = {}
    for workers in sorted({0, args.workers}):
        loader = torch.utils.data.DataLoader(rows, batch_size=args.batch_size, shuffle=True, num_workers=workers,
                                             collate_fn=task.collate(tokenizer),
                                             generator=torch.Generator().manual_seed(0))
        batches = iter(loader)
        next(batches)  # worker start-up is paid once per run, not per step
        start, n = time.perf_counter(), 0
        for _ in range(args.loader_batches):
            n += len(next(batches)["labels"])
        result[f"loader_workers{workers}_ex_per_s"] = n / (time.perf_counter() - start)
    lengths = [len(r["input_ids"]) for r in rows[0:2000]]
    result["mean_tokens_per_pair"] = sum(lengths) / len(lengths)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=392_702, help="training pairs (MNLI: 392,702)")
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers to compare with 0")
    parser.add_argument("--loader-batches", type=int, default=300)
    parser.add_argument("--num-proc", type=int, nargs="*", default=[], help="also time cold runs with these num_proc")
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return first_step(args)
    args.data = str(nli_folder(f"mnli-{args.train}", train=args.train, test=100, sentences=3))
    result = {"train_pairs": args.train, "cores": len(os.sched_getaffinity(0))}
    with tempfile.TemporaryDirectory() as tmp:
        args.run_dir = tmp
        cache = f"{tmp}/hf-datasets"
        cold = child(args, cache)
        warm = child(args, cache)
        result.update(cold_first_step_s=cold["first_step_s"], warm_first_step_s=warm["first_step_s"], rows=cold["rows"])
        for procs in args.num_proc:
            result[f"cold_num_proc{procs}_first_step_s"] = child(args, f"{tmp}/hf-{procs}",
                                                               {"UNFREEZE_NUM_PROC": str(procs)})["first_step_s"]
        result.update(throughput(args, cache))
    print(f"{args.train} pairs ({result['mean_tokens_per_pair']:.0f} tokens a pair), world tokenizer, "
          f"{result['cores']} cores, batch {args.batch_size}")
    for key, value in result.items():
        print(f"  {key:32s} {value:,.1f}" if isinstance(value, float) else f"  {key:32s} {value}")
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
