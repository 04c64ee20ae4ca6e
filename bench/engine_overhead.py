"""Engine overhead: unfreeze's training step against a plain loop written with ``adapters`` alone.

Both train the same model (same construction and seed, so the same weights), adapters and head, on the
same batches (same shuffling generator and collator), with AdamW, linear decay and gradient clipping at
1.0, every unit trainable (``standard``). The engine is the real ``Trainer.run`` of a run (accelerate,
the schedule, logging); the plain loop is forward, backward, clip, step. Their steps are interleaved in
one process: the engine calls its progress callback after each of its steps, and the callback runs one
plain step, so both see the same machine load. Median step times after warm-up.

    python bench/engine_overhead.py                               # world model, batch 32, CPU, 1 thread
    python bench/engine_overhead.py --size base --batch-size 8 --steps 14 --warmup 2   # XLM-R base shapes
    python bench/engine_overhead.py --size base --batch-size 32 --mixed-precision bf16 --steps 60  # GPU
"""

from __future__ import annotations

import argparse
import tempfile
import time

from common import device_name, median, model_name, nli_folder, save_json


def run_config(args, folder):
    from unfreeze_core.config import RunConfig

    config = RunConfig(model=model_name(args.size), adapter=args.adapter, selector="standard",
                       steps=args.steps + 1, batch_size=args.batch_size, mixed_precision=args.mixed_precision,
                       checkpoint_every=0, output_dir=folder, lr=1e-4)
    task = {"languages": ["en"], "eval_limit": args.batch_size, "max_length": args.max_length}
    if args.size != "world":
        task["data_dir"] = str(nli_folder("long", train=20 * args.batch_size * 4, sentences=12))
    config.options["task"] = task
    if args.size != "world" and args.adapter == "madx":
        config.options["adapter"] = {"lang_adapters": "fresh"}
    return config


def plain_loop(config, parts, seed, device):
    """The baseline: model built the same way (same seed), then a loop with only torch and adapters."""
    import torch
    from accelerate.utils import set_seed

    from unfreeze_core.training import prepare_model

    set_seed(seed)
    prepared = prepare_model(config, parts)
    model = prepared.model.to(device)
    units = [p for params in prepared.units.values() for _, p in params]
    for p in units:
        p.requires_grad_(True)  # standard: every unit trainable from the start
    params = prepared.head_params + units
    optimizer = torch.optim.AdamW([{"params": prepared.head_params}, {"params": units}], lr=config.lr,
                                  weight_decay=config.weight_decay)
    steps = config.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / steps))
    loader = torch.utils.data.DataLoader(prepared.train_data, batch_size=config.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed),
                                         collate_fn=parts.task.collate(prepared.tokenizer))
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.mixed_precision)
    model.train()

    def endless():  # epochs as the engine's loop draws them
        while True:
            yield from loader

    batches = endless()

    def step() -> float:
        batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    return step


class Interleaved:
    """The engine's progress callback: closes the engine step's clock, runs one plain step, restarts it."""

    def __init__(self, plain_step):
        self.plain_step, self.mark = plain_step, None
        self.engine, self.plain, self.engine_loss, self.plain_loss = [], [], [], []

    def __call__(self, step, steps, loss, trainable, last):
        now = time.perf_counter()
        if self.mark is not None:
            self.engine.append(now - self.mark)
            self.engine_loss.append(loss)
        start = time.perf_counter()
        self.plain_loss.append(self.plain_step())
        self.plain.append(time.perf_counter() - start)
        self.mark = time.perf_counter()


def measure(args) -> dict:
    import torch
    from accelerate import Accelerator

    from unfreeze_core.components import build
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.runner import quiet_libraries
    from unfreeze_core.training import Trainer

    quiet_libraries()
    torch.set_num_threads(args.threads)
    plugins = get_plugins()
    with tempfile.TemporaryDirectory() as folder:
        config = run_config(args, folder)
        parts = build(config, plugins)
        accelerator = Accelerator(cpu=args.device == "cpu", mixed_precision=config.mixed_precision)
        plain = plain_loop(config, parts, args.seed, accelerator.device)
        timer = Interleaved(plain)
        trainer = Trainer(config, parts, accelerator, args.seed, f"{folder}/run", plugins.hook, timer)
        trainer.run()
        unwrap = []
        for _ in range(20):  # what the loop paid per step before Trainer.inner_model cached it
            start = time.perf_counter()
            accelerator.unwrap_model(trainer.model)
            unwrap.append(time.perf_counter() - start)
    w = args.warmup
    engine, baseline = median(timer.engine[w:]), median(timer.plain[w + 1:])
    return {"size": args.size, "adapter": args.adapter, "batch": args.batch_size, "max_length": args.max_length,
            "precision": args.mixed_precision, "device": device_name(), "steps_timed": len(timer.engine[w:]),
            "engine_ms": engine * 1000, "plain_ms": baseline * 1000, "ratio": engine / baseline,
            "unwrap_model_ms": median(unwrap) * 1000, "engine_loss_mean": sum(timer.engine_loss) / len(timer.engine_loss),
            "plain_loss_mean": sum(timer.plain_loss[1:]) / len(timer.plain_loss[1:])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--adapter", choices=["madx", "lora"], default="madx")
    parser.add_argument("--steps", type=int, default=120, help="steps of each loop (the engine runs one more)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"], default="no")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    result = measure(args)
    print(f"{result['size']}, {result['adapter']}, batch {result['batch']} x <= {result['max_length']}, "
          f"{result['precision']}, {result['device']}, median of {result['steps_timed']} interleaved steps")
    print(f"  unfreeze engine {result['engine_ms']:8.1f} ms/step   (mean loss {result['engine_loss_mean']:.4f})")
    print(f"  plain adapters  {result['plain_ms']:8.1f} ms/step   (mean loss {result['plain_loss_mean']:.4f})")
    print(f"  ratio {result['ratio']:.3f}  (target <= 1.03)")
    print(f"  accelerator.unwrap_model: {result['unwrap_model_ms']:.2f} ms a call (once per step before the fix)")
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
