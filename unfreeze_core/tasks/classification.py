"""Sequence-pair classification (NLI: premise, hypothesis -> entailment/neutral/contradiction)."""

from __future__ import annotations

from . import hub
from .base import CategoricalTask, sequence_length
from .cache import tokenise


class PairClassification(CategoricalTask):
    """Train on ``train_language``, test zero-shot; data from ``--data-dir`` or the task's default source."""

    kind = "classification"
    text_fields = ("premise", "hypothesis")
    label_field = "label"
    num_labels = 3

    @property
    def columns(self):
        return (*self.text_fields, self.label_field)

    # -- model side ----------------------------------------------------------------------------
    def add_head(self, model):
        model.add_classification_head(self.head_name, num_labels=self.num_labels)

    def encode(self, dataset, tokenizer, purpose="eval"):
        a, b, label = *self.text_fields, self.label_field
        max_length = sequence_length(self.options.max_length, tokenizer)

        def features(batch):
            enc = tokenizer(list(batch[a]), list(batch[b]), truncation=True, max_length=max_length)
            return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                    "labels": [int(y) for y in batch[label]]}

        return tokenise(dataset, features, tokenizer=tokenizer, task=self, purpose=purpose)

    def train_dataset(self, tokenizer):
        return self.encode(self.load_train(), tokenizer, purpose="train")

    def collate(self, tokenizer):
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer, return_tensors="pt")


class NLI(PairClassification):
    """NLI in the XNLI schema; by default the embedded world's NLI, or any local folder (--data-dir)."""

    def default_folder(self):
        from .. import world

        return world.data_dir("nli")


class XNLI(PairClassification):
    """MNLI -> XNLI from the hub (nyu-mll/multi_nli, facebook/xnli), or a local folder in that schema."""

    hub_languages = hub.LANGUAGES["xnli"]

    def hub_split(self, lang, split):
        return hub.xnli(lang, split)
