"""Sequence-pair classification (NLI: premise, hypothesis -> entailment/neutral/contradiction)."""

from __future__ import annotations

from pathlib import Path

from ..api import Task
from ..errors import UnfreezeError
from . import data as sources


class PairClassification(Task):
    """Train on ``train_language``, test zero-shot; data from ``--data-dir`` or the task's default source."""

    kind = "classification"
    metric = "accuracy"
    text_fields = ("premise", "hypothesis")
    label_field = "label"
    num_labels = 3
    train_split = "train"
    test_split = "test"
    hub_languages: tuple[str, ...] = ()

    # -- where the data comes from ------------------------------------------------------------
    def default_folder(self) -> Path | None:
        """A local folder used when no --data-dir is given (the embedded world), or None for the hub."""
        return None

    def hub_split(self, lang: str, split: str) -> sources.HubSplit:
        raise UnfreezeError(f"task has no hub source; give --data-dir")

    def folder(self) -> Path | None:
        return Path(self.options.data_dir) if self.options.data_dir else self.default_folder()

    def load(self, lang: str, split: str):
        folder = self.folder()
        data = sources.load_local(folder, lang, split) if folder else sources.load_hub(self.hub_split(lang, split))
        return sources.check(data, [*self.text_fields, self.label_field], f"{lang}/{split}")

    def languages(self) -> list[str]:
        folder = self.folder()
        available = sources.local_languages(folder, self.test_split) if folder else list(self.hub_languages)
        wanted = self.options.languages or available
        unknown = [lang for lang in wanted if lang not in available]
        if unknown:
            raise UnfreezeError(f"unknown language {unknown[0]!r} for this task; available: {', '.join(available)}")
        first = [self.train_language] if self.train_language in wanted else []
        return first + [lang for lang in wanted if lang != self.train_language]

    # -- model side ----------------------------------------------------------------------------
    def add_head(self, model):
        model.add_classification_head(self.head_name, num_labels=self.num_labels)

    def encode(self, dataset, tokenizer):
        a, b = self.text_fields
        labels = [int(y) for y in dataset[self.label_field]]
        bad = [y for y in labels if not 0 <= y < self.num_labels]
        if bad:
            raise UnfreezeError(f"label {bad[0]} outside 0..{self.num_labels - 1}")
        enc = tokenizer(list(dataset[a]), list(dataset[b]), truncation=True, max_length=self.options.max_length)
        return [{"input_ids": ids, "attention_mask": mask, "labels": y}
                for ids, mask, y in zip(enc["input_ids"], enc["attention_mask"], labels)]

    def train_dataset(self, tokenizer):
        data = sources.limit(self.load(self.train_language, self.train_split), self.options.train_limit)
        return self.encode(data, tokenizer)

    def collate(self, tokenizer):
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer, return_tensors="pt")

    def output_distributions(self, outputs):
        return [outputs.logits]

    def evaluate(self, model, tokenizer, lang, *, batch_size, device):
        import torch

        data = sources.limit(self.load(lang, self.test_split), self.options.eval_limit)
        features = self.encode(data, tokenizer)
        collate = self.collate(tokenizer)
        correct = 0
        model.eval()
        with torch.no_grad():
            for start in range(0, len(features), batch_size):
                batch = collate(features[start:start + batch_size])
                labels = batch.pop("labels").to(device)
                logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
                correct += (logits.argmax(-1) == labels).sum().item()
        return {"accuracy": correct / len(features)}


class NLI(PairClassification):
    """NLI in the XNLI schema; by default the embedded world's NLI, or any local folder (--data-dir)."""

    def default_folder(self):
        from .. import world

        return world.data_dir("nli")
