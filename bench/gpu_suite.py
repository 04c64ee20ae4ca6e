"""The GPU numbers of issue 12 in one prepared run: XLM-R base shapes, random weights, batch 32 x 128, bf16.

    bash bench/gpu.sh                          # on the GPU machine: installs the carried wheels, then this
    python bench/gpu_suite.py --out DIR        # with unfreeze and its plugins importable
    python bench/gpu_suite.py --smoke          # every step on the CPU at world shapes, a few steps (checks the script)

Each step is a subprocess with its own time limit; a step that fails or runs out of time is recorded and
the next one runs. Results are appended to DIR/gpu-results.md as each step ends (and its JSON, if any).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def steps(smoke: bool, out: Path):
    """(name, argv, seconds allowed). The reference numbers (H200, same shapes) are in the issue."""
    py = [sys.executable]
    if smoke:
        gpu = ["--device", "cpu"]
        return [
            ("frozen backward, madx", py + [str(HERE / "frozen_backward.py"), "--steps", "4", "--warmup", "1"], 300),
            ("engine overhead, madx", py + [str(HERE / "engine_overhead.py"), "--steps", "6", "--warmup", "1"], 300),
            ("callback overhead", py + [str(HERE / "callback_overhead.py"), "--rounds", "2", "--chunk", "4"], 300),
            ("tr(F) estimators, madx", py + [str(HERE / "fisher_estimators.py"), "--batches", "2", "--batch-size", "4",
                                              "--json", str(out / "fisher-madx.json")], 300),
            ("peak memory, madx", py + [str(HERE / "memory.py"), "--batches", "1", "--batch-size", "4", *gpu,
                                        "--json", str(out / "memory.json")], 300),
            ("evaluation cost", py + [str(HERE / "eval_cost.py"), "--skip-default", "--languages", "2", "--pairs", "50",
                                      "--json", str(out / "eval.json")], 300),
        ]
    base = ["--size", "base"]
    return [
        ("frozen backward, madx", py + [str(HERE / "frozen_backward.py"), *base, "--device", "cuda", "--dtype", "bf16",
                                        "--steps", "40"], 150),
        ("frozen backward, lora", py + [str(HERE / "frozen_backward.py"), *base, "--device", "cuda", "--dtype", "bf16",
                                        "--steps", "40", "--adapter", "lora"], 120),
        ("engine overhead, madx", py + [str(HERE / "engine_overhead.py"), *base, "--device", "cuda", "--mixed-precision",
                                        "bf16", "--steps", "80", "--warmup", "10", "--json",
                                        str(out / "engine-base.json")], 150),
        ("callback overhead", py + [str(HERE / "callback_overhead.py"), *base, "--rounds", "4", "--chunk", "20",
                                    "--json", str(out / "callback-base.json")], 120),
        ("tr(F) estimators, madx", py + [str(HERE / "fisher_estimators.py"), *base, "--device", "cuda", "--dtype", "bf16",
                                         "--loop-batches", "8", "--json", str(out / "fisher-madx.json")], 150),
        ("tr(F) estimators, lora", py + [str(HERE / "fisher_estimators.py"), *base, "--device", "cuda", "--dtype", "bf16",
                                         "--adapter", "lora", "--loop-batches", "8", "--json",
                                         str(out / "fisher-lora.json")], 150),
        ("peak memory, madx", py + [str(HERE / "memory.py"), *base, "--device", "cuda", "--dtype", "bf16",
                                    "--batch-size", "32", "--json", str(out / "memory.json")], 180),
        ("evaluation cost (XNLI-sized)", py + [str(HERE / "eval_cost.py"), *base, "--device", "cuda",
                                               "--mixed-precision", "bf16", "--skip-default", "--json",
                                               str(out / "eval.json")], 150),
        ("data pipeline (MNLI-sized)", py + [str(HERE / "data_pipeline.py"), "--workers", "4",
                                             "--json", str(out / "pipeline.json")], 200),
    ]


def environment() -> str:
    code = ("import torch, transformers, adapters, datasets, tokenizers; "
            "print('torch', torch.__version__, '| cuda', torch.cuda.is_available(), "
            "torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-', '| transformers', "
            "transformers.__version__, '| adapters', adapters.__version__, '| datasets', datasets.__version__, "
            "'| tokenizers', tokenizers.__version__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return (done.stdout or done.stderr).strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "gpu-results"))
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only the steps whose names start with these")
    parser.add_argument("--budget", type=float, default=530,
                        help="seconds for the whole suite: a step gets at most what is left (skipped under 20 s)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = out / "gpu-results.md"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "true"}
    started = time.time()
    with open(report, "a") as f:
        f.write(f"# unfreeze GPU suite ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n{environment()}\n\n")
    print(environment(), flush=True)
    failed = 0
    for name, cmd, limit in steps(args.smoke, out):
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        left = args.budget - (time.time() - started)
        if left < 20:
            with open(report, "a") as f:
                f.write(f"## {name}: skipped (suite budget of {args.budget:.0f} s spent)\n\n")
            failed += 1
            continue
        limit = int(min(limit, left))
        t0 = time.time()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=env, cwd=HERE.parent)
            status, text = ("ok" if done.returncode == 0 else f"exit {done.returncode}"), done.stdout + (
                done.stderr[-2500:] if done.returncode else "")
        except subprocess.TimeoutExpired as exc:
            status = f"timed out after {limit} s"
            text = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        failed += status != "ok"
        shown = " ".join(Path(c).name if c.startswith("/") else c for c in cmd[1:])
        block = f"## {name}: {status} ({time.time() - t0:.0f} s)\n\n```\n$ python {shown}\n{text.strip()}\n```\n\n"
        with open(report, "a") as f:
            f.write(block)
        print(block, flush=True)
    print(f"suite done in {time.time() - started:.0f} s, {failed} step(s) not ok; report: {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
