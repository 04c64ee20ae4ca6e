"""A tiny adapters classifier in a LightningModule, the embedded world's English NLI data, and a Lightning
callback that copies every unit's weights around each update (``unfreeze_core.testing.unit_snapshots``)."""

from __future__ import annotations

import json

import lightning as L
import torch


def tiny_module(seed: int = 0, lr: float = 1e-2, weight_decay: float = 0.1):
    """A random 4-layer XLM-R with a bottleneck adapter "task" in every layer (no dropout), in a LightningModule
    whose optimizer is AdamW over the parameters that require grad."""
    import adapters
    from transformers import XLMRobertaForSequenceClassification

    from unfreeze_core.models import byte_tokenizer, tiny_config

    torch.manual_seed(seed)
    tokenizer = byte_tokenizer()
    config = tiny_config("tiny", tokenizer)
    config.num_labels, config.hidden_dropout_prob, config.attention_probs_dropout_prob = 3, 0.0, 0.0
    model = XLMRobertaForSequenceClassification(config)
    adapters.init(model)
    model.add_adapter("task", config="seq_bn")
    model.train_adapter("task")
    return Module(model, lr, weight_decay), tokenizer


class Module(L.LightningModule):
    def __init__(self, model, lr, weight_decay):
        super().__init__()
        self.model, self.lr, self.weight_decay = model, lr, weight_decay

    def training_step(self, batch, batch_idx):
        return self.model(**batch).loss

    def configure_optimizers(self):
        return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=self.lr,
                                 weight_decay=self.weight_decay)


def world_loader(tokenizer, n: int = 32, batch_size: int = 8):
    """The first ``n`` English NLI training examples of the world, in order (a fixed order: resume is exact)."""
    from datasets import Dataset
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    from unfreeze_core import world

    lines = (world.data_dir("nli") / "en" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    data = Dataset.from_list([json.loads(line) for line in lines]).map(
        lambda b: tokenizer(b["premise"], b["hypothesis"], truncation=True, max_length=32),
        batched=True, remove_columns=["premise", "hypothesis"])
    return DataLoader(data, batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer))


class Snapshots(L.Callback):
    """Every unit's weights before the first update and after each (``snaps.taken[updates done]``), for the
    units of an ``UnfreezeFinetuning`` callback (None: the one among the Trainer's callbacks)."""

    def __init__(self, unfreezing):
        self.unfreezing, self.snaps = unfreezing, None

    def on_train_start(self, trainer, pl_module):
        from unfreeze_core.testing import unit_snapshots
        from unfreeze_lightning import UnfreezeFinetuning

        unfreezing = self.unfreezing or next(c for c in trainer.callbacks if isinstance(c, UnfreezeFinetuning))
        self.snaps = unit_snapshots(unfreezing.units)
        self.snaps.record(trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.snaps.record(trainer.global_step)


def trainer(root, steps: int, callbacks, **settings):
    options = dict(max_steps=steps, accelerator="cpu", devices=1, default_root_dir=str(root), logger=False,
                   enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    return L.Trainer(callbacks=callbacks, **{**options, **settings})
