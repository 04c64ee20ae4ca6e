"""FUN (Fisher unfreezing) in a PyTorch Lightning script, offline, in seconds on a CPU.

    python docs/examples/lightning_finetuning.py OUTPUT_DIR [--steps 60] [--k 5] [--devices 2] [--resume CKPT]

A LightningModule around the embedded world's 8-layer encoder with a bottleneck adapter in every layer
(`adapters`), trained on its English NLI data; UnfreezeFinetuning unfreezes one adapter layer (unit) every
k = 5 steps, the frozen one with the largest tr(F) first. Lightning saves a checkpoint every 20 steps (the
last step of each epoch) in OUTPUT_DIR/checkpoints; --resume CKPT continues from one (trainer.fit(ckpt_path=CKPT)).
--devices 2 trains on two CPU processes (DDP, gloo). Put your own model and data in their place.
"""

import argparse

import adapters
import lightning as L
import torch
from datasets import load_dataset
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from unfreeze_core import world
from unfreeze_lightning import UnfreezeFinetuning


class Classifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        # Lightning's checkpoints keep no random state: without dropout (and with a data order fixed per
        # epoch, below) a run resumed from a checkpoint equals the unbroken run to the bit.
        self.model = AutoModelForSequenceClassification.from_pretrained(
            world.model_path(), num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        adapters.init(self.model)
        self.model.add_adapter("nli", config="seq_bn")
        self.model.train_adapter("nli")  # the adapter and the head train; the encoder stays frozen

    def training_step(self, batch, batch_idx):
        loss = self.model(**batch).loss
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        # The parameters that require grad: UnfreezeFinetuning has made every unit require grad by now, so the
        # optimizer holds them all; it freezes the units not unfrozen yet when training starts.
        return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.01)


def main(argv=None, callbacks=()):
    """Train (``argv`` as on the command line); ``callbacks``: more Lightning callbacks. Returns the Trainer and
    the UnfreezeFinetuning callback."""
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--k", type=int, default=5, help="steps between two unfreezings (k·8 <= steps)")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--resume", default=None, help="a checkpoint to continue from")
    args = parser.parse_args(argv)

    L.seed_everything(1)  # also the callback's seed (the selector, FUN's batches and ŷ)
    tokenizer = AutoTokenizer.from_pretrained(world.model_path())
    train = load_dataset("json", data_files=str(world.data_dir("nli") / "en" / "train.jsonl"), split="train")
    train = train.shuffle(seed=1).select(range(640)).map(
        lambda batch: tokenizer(batch["premise"], batch["hypothesis"], truncation=True, max_length=64),
        batched=True, remove_columns=["premise", "hypothesis"])
    loader = DataLoader(train, batch_size=32 // args.devices, collate_fn=DataCollatorWithPadding(tokenizer))

    # FUN: every k steps the frozen unit with the largest tr(F) on 4 training batches; tr(F) of every unit
    # logged every 20 steps. Units: the layers of the active adapter ("nli"), 0 = bottom.
    unfreezing = UnfreezeFinetuning(selector="fisher", k=args.k, fisher_batches=4, fisher_every=20)
    trainer = L.Trainer(max_steps=args.steps, accelerator="cpu", devices=args.devices,
                        strategy="ddp" if args.devices > 1 else "auto", default_root_dir=args.output_dir,
                        callbacks=[unfreezing, ModelCheckpoint(dirpath=f"{args.output_dir}/checkpoints",
                                                               every_n_train_steps=20, save_top_k=-1), *callbacks],
                        log_every_n_steps=10, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Classifier(), loader, ckpt_path=args.resume)

    log_dir = trainer.log_dir  # on every process (it is broadcast): schedule.json, unfreeze.json, fisher.jsonl
    if trainer.is_global_zero:
        for event in unfreezing.schedule.events:
            print(f"step {event['step']:3d}: unfroze unit {event['units']}")
        print(f"logs and schedule.json: {log_dir}")
    return trainer, unfreezing


if __name__ == "__main__":
    main()
