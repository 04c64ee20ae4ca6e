"""What every built-in task shares: where its data comes from and which languages it tests."""

from __future__ import annotations

from pathlib import Path

from ..api import Task
from ..errors import UnfreezeError
from . import data as sources


def sequence_length(wanted: int, tokenizer) -> int:
    """``wanted`` (a task's max length) capped by the tokenizer's ``model_max_length``, which
    ``models.load_model`` caps at the model's positions (the world encoder takes 256 tokens)."""
    return min(wanted, tokenizer.model_max_length)


def batched_eval(model, features, collate, batch_size, device):
    """Yield (batch labels, logits) over ``features`` in eval mode without gradients."""
    import torch

    model.eval()
    with torch.no_grad():
        for start in range(0, len(features), batch_size):
            batch = collate(features[start:start + batch_size])
            labels = batch.pop("labels").to(device)
            yield labels, model(**{k: v.to(device) for k, v in batch.items()}).logits


class SourcedTask(Task):
    """Train on ``train_language``, test zero-shot; data from ``--data-dir``, a default folder or the hub.

    A local folder holds ``<lang>/<split>.jsonl`` in the hub schema (``en/train.jsonl``,
    ``<lang>/test.jsonl``); without one, ``hub_split`` says where (lang, split) lives on the hub.
    """

    columns: tuple[str, ...] = ()
    """Columns every split must have (in the hub schema)."""
    train_split = "train"
    test_split = "test"
    hub_languages: tuple[str, ...] = ()
    """Languages of the hub source (NOTES.md), train language first."""

    def default_folder(self) -> Path | None:
        """A local folder used when no --data-dir is given (the embedded world), or None for the hub."""
        return None

    def hub_split(self, lang: str, split: str) -> sources.HubSplit:
        raise UnfreezeError("task has no hub source; give --data-dir")

    def folder(self) -> Path | None:
        return Path(self.options.data_dir) if self.options.data_dir else self.default_folder()

    def load(self, lang: str, split: str):
        """The whole split, checked: columns present, rows present, every value ``value_checks`` names."""
        folder = self.folder()
        columns, checks = list(self.columns), self.value_checks()
        if folder:
            return sources.load_local(folder, lang, split, columns, checks)
        return sources.load_hub(self.hub_split(lang, split), columns, f"{lang}/{split}", checks)

    def load_train(self):
        return sources.sample(self.load(self.train_language, self.train_split), self.options.train_limit)

    def load_test(self, lang: str, split: str = "test"):
        """An evaluation split (``test``, or ``validation`` for curves during training), cut to eval_limit."""
        split = self.test_split if split == "test" else split
        return sources.limit(self.load(lang, split), self.options.eval_limit)

    def value_checks(self) -> dict[str, sources.Check]:
        """What every value this task reads must be, by column: text columns hold text, the label column
        (``label_field``, default ``label``, with ``num_labels`` or ``num_choices`` classes) integers in
        range, ``answers`` SQuAD answers. Every row of a split is checked, before train_limit/eval_limit."""
        label = getattr(self, "label_field", "label")
        num = getattr(self, "num_labels", None) or getattr(self, "num_choices", None)
        checks = {}
        for name in self.columns:
            if name == "answers":
                checks[name] = sources.answers
            elif num and name == label:
                checks[name] = sources.label(num)
            else:
                checks[name] = sources.text
        return checks

    def check_data(self, languages: list[str], validation: bool = False) -> int:
        """Load and validate every split a run will use (train, validation when asked, test per language)
        before any model is built; returns the number of training features when known (one per example)."""
        for name in ("train_limit", "eval_limit"):
            value = getattr(self.options, name, None)
            if value is not None and value < 1:
                raise UnfreezeError(f"task option {name} must be a positive number of examples, got {value}")
        if getattr(self.options, "max_length", 1) <= 0:
            raise UnfreezeError(f"task option max_length must be positive, got {self.options.max_length}")
        from ..limits import MAX_COUNT, at_most

        for name in ("train_limit", "eval_limit", "max_length", "doc_stride", "n_best", "max_answer_length"):
            value = getattr(self.options, name, None)
            if isinstance(value, int):
                at_most(f"task option {name}", value, MAX_COUNT)
        rows = len(self.load_train())
        if validation:
            self.load_test(self.train_language, "validation")
        for lang in languages:
            self.load_test(lang)
        return rows if isinstance(self, CategoricalTask) else None

    def data_identity(self) -> dict:
        """The files this task reads hashed (``data.sha256``: the train split of the train language and the test
        split of every evaluation language; the embedded world's data is such a folder), or the hub revisions
        they come from (``data.revisions``)."""
        from ..identity import files_sha256

        folder = self.folder()
        wanted = [(self.train_language, self.train_split), *((lang, self.test_split) for lang in self.languages())]
        if folder:
            files = {f"{lang}/{split}": sources.local_file(folder, lang, split) for lang, split in wanted}
            return {"data.sha256": files_sha256({k: v for k, v in files.items() if v is not None})}
        revisions = set()
        for lang, split in wanted:
            spec = self.hub_split(lang, split)
            revisions.add(f"{spec.repo}{'/' + spec.config if spec.config else ''}@{spec.revision or 'unpinned'}")
        return {"data.revisions": sorted(revisions)}

    def languages(self) -> list[str]:
        folder = self.folder()
        available = sources.local_languages(folder, self.test_split) if folder else list(self.hub_languages)
        if not available:
            raise UnfreezeError(f"no language to evaluate in {folder or 'the hub source'}: expected "
                                f"<lang>/{self.test_split}.jsonl (or .json, .parquet) for each language")
        wanted = self.options.languages or available
        unknown = [lang for lang in wanted if lang not in available]
        if unknown:
            where = f"in {folder}" if folder else "in the hub source"
            raise UnfreezeError(f"unknown language {unknown[0]!r} for this task {where}; "
                                f"available: {', '.join(available) or 'none'}")
        first = [self.train_language] if self.train_language in wanted else []
        return first + [lang for lang in wanted if lang != self.train_language]


class CategoricalTask(SourcedTask):
    """A task whose head gives one categorical distribution per example (classes or choices), scored by accuracy."""

    metric = "accuracy"

    def output_distributions(self, outputs):
        return [outputs.logits]

    def evaluate(self, model, tokenizer, lang, *, batch_size, device, split="test"):
        return self.merge_shards([self.evaluate_shard(model, tokenizer, lang, shard=(0, 1), batch_size=batch_size,
                                                      device=device, split=split)], lang)

    def evaluate_shard(self, model, tokenizer, lang, *, shard, batch_size, device, split="test"):
        """(correct, total) on a contiguous shard of the tokenised split."""
        features = self.encode(self.load_test(lang, split), tokenizer)
        index, count = shard
        part = features.shard(count, index) if count > 1 else features
        correct = sum((logits.argmax(-1) == labels).sum().item()
                      for labels, logits in batched_eval(model, part, self.collate(tokenizer), batch_size, device))
        return correct, len(part)

    def merge_shards(self, partials, lang):
        return {"accuracy": sum(c for c, _ in partials) / sum(n for _, n in partials)}
