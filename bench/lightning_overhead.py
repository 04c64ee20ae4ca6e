"""The Lightning callback's overhead: ``lightning.Trainer`` with ``UnfreezeFinetuning`` (selector ``standard``:
every unit trainable, as the plain run) against the same Lightning loop without it.

Same model (same seed), adapter, data, optimizer (AdamW) and Trainer settings (gradient clipping at 1.0, no
logger, no checkpointing). A Trainer owns its loop, so the two cannot alternate step by step: they alternate
in chunks instead (``--chunk`` steps of one, then of the other, the order swapped every round), each chunk a
fresh Trainer on its own model, all in one process. A step is the time between two ``on_train_batch_end``
events (data, every callback, forward, backward, clip, optimizer); the first step of a chunk is dropped.

    python bench/lightning_overhead.py                    # world model, batch 32, CPU, 1 thread
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings

from callback_overhead import build_model
from common import device_name, model_name, save_json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    import lightning as L
    import torch
    from datasets import load_dataset
    from torch.utils.data import DataLoader
    from transformers import AutoTokenizer, DataCollatorWithPadding

    from unfreeze_core import world
    from unfreeze_core.models import resolve
    from unfreeze_core.runner import quiet_libraries
    from unfreeze_lightning import UnfreezeFinetuning

    quiet_libraries()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # no banner per chunk
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    name = model_name(args.size)
    tokenizer = AutoTokenizer.from_pretrained(resolve(name))
    train = load_dataset("json", data_files=str(world.data_dir("nli") / "en" / "train.jsonl"), split="train")
    train = train.select(range(args.chunk * args.batch_size * 2)).map(
        lambda b: tokenizer(b["premise"], b["hypothesis"], truncation=True, max_length=128),
        batched=True, remove_columns=["premise", "hypothesis"])
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, collate_fn=DataCollatorWithPadding(tokenizer))

    class Module(L.LightningModule):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def training_step(self, batch, batch_idx):
            return self.model(**batch).loss

        def configure_optimizers(self):
            return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=1e-4)

    class Timer(L.Callback):
        def __init__(self):
            self.last, self.times = None, []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            now = time.perf_counter()
            if self.last is not None:
                self.times.append(now - self.last)
            self.last = now

    times = {"callback": [], "plain": []}
    with tempfile.TemporaryDirectory() as out:
        for r in range(args.rounds):
            order = ["callback", "plain"] if r % 2 == 0 else ["plain", "callback"]
            for kind in order:
                L.seed_everything(1, verbose=False)
                module = Module(build_model(name, seed=1))
                timer = Timer()
                callbacks = [timer] + ([UnfreezeFinetuning(selector="standard", k=50)] if kind == "callback" else [])
                trainer = L.Trainer(max_steps=args.chunk, accelerator="auto", devices=1, default_root_dir=out,
                                    gradient_clip_val=1.0, logger=False, enable_checkpointing=False,
                                    enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
                trainer.fit(module, loader)
                times[kind] += timer.times
    cb, plain = statistics.median(times["callback"]), statistics.median(times["plain"])
    result = {"size": args.size, "device": device_name(), "batch": args.batch_size, "steps_each": len(times["plain"]),
              "callback_ms": cb * 1000, "plain_ms": plain * 1000, "ratio": cb / plain}
    print(f"{args.size}, lightning.Trainer, seq_bn, batch {args.batch_size}, {result['device']}, "
          f"median of {result['steps_each']} steps each ({args.rounds} alternating chunks of {args.chunk})")
    print(f"  with UnfreezeFinetuning (standard) {result['callback_ms']:8.1f} ms/step")
    print(f"  plain lightning.Trainer            {result['plain_ms']:8.1f} ms/step")
    print(f"  ratio {result['ratio']:.3f}  (target <= 1.03)")
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
