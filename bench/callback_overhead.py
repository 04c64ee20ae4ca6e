"""The Hugging Face Trainer callback's overhead: ``adapters.AdapterTrainer`` with ``UnfreezeCallback``
(selector ``standard``: every unit trainable, as the plain run) against the same ``AdapterTrainer`` without it.

Same model (same seed), adapter, data, TrainingArguments (AdamW, linear decay, clipping at 1.0). A
Trainer owns its loop, so the two cannot alternate step by step: they alternate in chunks instead
(``--chunk`` steps of one, then of the other, the order swapped every round), each chunk a fresh Trainer
on its own model, all in one process. A step is the time between two ``on_step_end`` events (data,
every callback, forward, backward, clip, optimizer and scheduler); the first step of a chunk is dropped.

    python bench/callback_overhead.py                     # world model, batch 32, CPU, 1 thread
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from common import device_name, model_name, save_json


def build_model(name: str, seed: int):
    import adapters
    import torch
    from transformers import AutoModelForSequenceClassification

    from unfreeze_core.models import resolve

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(resolve(name), num_labels=3)
    adapters.init(model)
    model.add_adapter("nli", config="seq_bn")
    model.train_adapter("nli")
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    import torch
    from adapters import AdapterTrainer
    from datasets import load_dataset
    from transformers import AutoTokenizer, DataCollatorWithPadding, TrainerCallback, TrainingArguments

    from unfreeze_core import world
    from unfreeze_core.integrations.transformers import UnfreezeCallback
    from unfreeze_core.models import resolve
    from unfreeze_core.runner import quiet_libraries

    quiet_libraries()
    torch.set_num_threads(args.threads)
    name = model_name(args.size)
    tokenizer = AutoTokenizer.from_pretrained(resolve(name))
    train = load_dataset("json", data_files=str(world.data_dir("nli") / "en" / "train.jsonl"), split="train")
    train = train.select(range(args.chunk * args.batch_size * 2)).map(
        lambda b: tokenizer(b["premise"], b["hypothesis"], truncation=True, max_length=128),
        batched=True, remove_columns=["premise", "hypothesis"])

    class Timer(TrainerCallback):
        def __init__(self):
            self.last, self.times = None, []

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            if self.last is not None:
                self.times.append(now - self.last)
            self.last = now

    times = {"callback": [], "plain": []}
    with tempfile.TemporaryDirectory() as out:
        for r in range(args.rounds):
            order = ["callback", "plain"] if r % 2 == 0 else ["plain", "callback"]
            for kind in order:
                model = build_model(name, seed=1)
                callback = UnfreezeCallback(model, selector="standard", k=50) if kind == "callback" else None
                targs = TrainingArguments(output_dir=f"{out}/{kind}", max_steps=args.chunk,
                                          per_device_train_batch_size=args.batch_size, learning_rate=1e-4,
                                          lr_scheduler_type="linear", max_grad_norm=1.0, logging_steps=10_000,
                                          save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available(),
                                          seed=1, disable_tqdm=True)
                timer = Timer()
                trainer = AdapterTrainer(model=model, args=targs, train_dataset=train,
                                         data_collator=DataCollatorWithPadding(tokenizer), callbacks=[timer])
                if callback:
                    callback.add_to(trainer)
                trainer.train()
                times[kind] += timer.times
    cb, plain = statistics.median(times["callback"]), statistics.median(times["plain"])
    result = {"size": args.size, "device": device_name(), "batch": args.batch_size, "steps_each": len(times["plain"]),
              "callback_ms": cb * 1000, "plain_ms": plain * 1000, "ratio": cb / plain}
    print(f"{args.size}, AdapterTrainer, seq_bn, batch {args.batch_size}, {result['device']}, "
          f"median of {result['steps_each']} steps each ({args.rounds} alternating chunks of {args.chunk})")
    print(f"  with UnfreezeCallback (standard) {result['callback_ms']:8.1f} ms/step")
    print(f"  plain AdapterTrainer             {result['plain_ms']:8.1f} ms/step")
    print(f"  ratio {result['ratio']:.3f}  (target <= 1.03)")
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
