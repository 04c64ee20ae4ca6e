"""Extractive QA in the SQuAD schema: {id, title, context, question, answers {text[], answer_start[]}}.

Training features and evaluation windows come from ``qa_processing`` (max length 384, doc stride 128,
offset mappings; the length is capped at the model's positions, see ``windows``; a batch is cut to its
longest window, so short contexts cost no padding); answers are mapped back to text by its n-best span
post-processing and scored with ``qa_metrics.score`` (MLQA rules: F1 and exact match, 0..100). The main
metric is F1.

ŷ for tr(F): ``output_distributions`` returns [start_logits, end_logits], each [batch, tokens] over
*every* position of the batch (question, special and padding tokens included), the same distributions the QA head's
cross-entropy loss trains; non-context positions simply carry little probability mass once trained.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api import TaskOptions
from . import data as sources
from . import hub
from .base import SourcedTask, sequence_length
from .cache import tokenise
from .qa_metrics import score
from .qa_processing import postprocess_predictions, prepare_eval_features, prepare_train_features

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CHUNK = 1000


@dataclass
class QAOptions(TaskOptions):
    max_length: int = 384
    doc_stride: int = 128
    n_best: int = 20
    max_answer_length: int = 30

    def __post_init__(self):
        if not 0 <= self.doc_stride < self.max_length:
            raise ValueError(f"doc_stride ({self.doc_stride}) must be >= 0 and < max_length ({self.max_length})")


def _chunks(data):
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


def _rows(features: dict, keys) -> list[dict]:
    keys = [k for k in keys if k in features]
    return [dict(zip(keys, values)) for values in zip(*(features[k] for k in keys))]


class ExtractiveQA(SourcedTask):
    Options = QAOptions
    kind = "extractive_qa"
    metric = "f1"
    columns = ("id", "context", "question", "answers")

    def add_head(self, model):
        model.add_qa_head(self.head_name)

    def value_checks(self):
        """Question ids are unique in a split (answers are matched to predictions by id)."""
        return {**super().value_checks(), "id": sources.unique(sources.text)}

    def windows(self, tokenizer) -> tuple[int, int]:
        """(max length, doc stride): the max length capped at the model's positions (the world's encoder
        takes 256 tokens, not SQuAD's 384), the stride at half of it when the cap leaves it too long."""
        length = sequence_length(self.options.max_length, tokenizer)
        return length, min(self.options.doc_stride, length // 2)

    def train_dataset(self, tokenizer):
        keys = (*MODEL_INPUTS, "start_positions", "end_positions")
        length, stride = self.windows(tokenizer)

        def features(batch):  # one example may give several windows (rows)
            out = prepare_train_features(batch, tokenizer, length, stride)
            return {k: out[k] for k in keys if k in out}

        return tokenise(self.load_train(), features, tokenizer=tokenizer, task=self, purpose="train")

    def collate(self, tokenizer):
        trim = tokenizer.padding_side == "right"  # left padding would shift the token positions

        def collate(features):
            """Tensors of the features (padded to the max length), cut to the batch's longest window."""
            import torch

            batch = {k: torch.tensor([f[k] for f in features], dtype=torch.long) for k in features[0]}
            if not trim:
                return batch
            width = int(batch["attention_mask"].sum(1).max())
            return {k: v if v.dim() == 1 else v[:, :width] for k, v in batch.items()}

        return collate

    def output_distributions(self, outputs):
        return [outputs.start_logits, outputs.end_logits]

    def references(self, data, lang) -> dict[str, list[str]]:
        """Answer texts per question id (``value_checks``: ids unique, at least one answer each)."""
        return {qid: list(answers["text"]) for qid, answers in zip(data["id"], data["answers"])}

    def predict(self, model, tokenizer, data, *, batch_size, device) -> dict[str, str]:
        """Best answer text per question id (n-best spans over every window of its context)."""
        import torch

        o = self.options
        collate = self.collate(tokenizer)
        model.eval()
        predictions = {}
        for chunk in _chunks(data):
            features = prepare_eval_features(chunk, tokenizer, *self.windows(tokenizer))
            rows = _rows(features, MODEL_INPUTS)
            starts, ends = [], []
            with torch.no_grad():
                for i in range(0, len(rows), batch_size):
                    batch = {k: v.to(device) for k, v in collate(rows[i:i + batch_size]).items()}
                    out = model(**batch)
                    starts += out.start_logits.float().cpu().numpy().tolist()
                    ends += out.end_logits.float().cpu().numpy().tolist()
            predictions.update(postprocess_predictions(chunk, features, starts, ends, n_best=o.n_best,
                                                       max_answer_length=o.max_answer_length))
        return predictions

    def evaluate(self, model, tokenizer, lang, *, batch_size, device, split="test"):
        return self.merge_shards([self.evaluate_shard(model, tokenizer, lang, shard=(0, 1), batch_size=batch_size,
                                                      device=device, split=split)], lang)

    def evaluate_shard(self, model, tokenizer, lang, *, shard, batch_size, device, split="test"):
        """(references, predictions) of a contiguous shard of the questions (a question's windows stay together)."""
        data = self.load_test(lang, split)
        index, count = shard
        part = data.shard(count, index, contiguous=True) if count > 1 else data
        return self.references(part, lang), self.predict(model, tokenizer, part, batch_size=batch_size, device=device)

    def merge_shards(self, partials, lang):
        references, predictions = {}, {}
        for refs, preds in partials:
            references.update(refs)
            predictions.update(preds)
        return score(predictions, references, lang)


class QA(ExtractiveQA):
    """Extractive QA of the embedded world (SQuAD schema), or any local folder (--data-dir)."""

    def default_folder(self):
        from .. import world

        return world.data_dir("qa")


class XQuAD(ExtractiveQA):
    """SQuAD v1.1 -> XQuAD from the hub (rajpurkar/squad, google/xquad), or a local folder."""

    hub_languages = hub.LANGUAGES["xquad"]

    def hub_split(self, lang, split):
        return hub.xquad(lang, split)


class MLQA(ExtractiveQA):
    """SQuAD v1.1 -> MLQA from the hub (rajpurkar/squad, facebook/mlqa), or a local folder."""

    hub_languages = hub.LANGUAGES["mlqa"]

    def hub_split(self, lang, split):
        return hub.mlqa(lang, split)
