"""Tokenised features through ``datasets.map``, cached on disk by fingerprint.

A split is tokenised once per (source data, tokenizer, task options, encoding code): a second run with
the same key — another seed, selector or k on MNLI — reads the Arrow cache file that ``datasets`` wrote
next to the source's own cache, instead of tokenising 393k pairs again. The key is explicit rather than
``datasets``' hash of the function, because a fast tokenizer's state changes once it has truncated
(its hash would differ between the first and second call in one process).

Data without cache files (an in-memory ``Dataset``) is tokenised every time, as ``datasets`` does.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass

SOURCE_OPTIONS = ("data_dir", "languages", "train_limit", "eval_limit")
"""Task options that choose *which* data is read; they are in the source's fingerprint already."""

PARALLEL_FROM = 50_000
"""Rows from which ``num_proc`` > 1 is used (process start-up costs more than it saves below that)."""


class Rows(Sequence):
    """A tokenised ``datasets.Dataset`` seen as a sequence of feature dicts (what collators take).

    ``rows[i]`` is a dict, ``rows[a:b]`` a list of dicts; ``__getitems__`` lets a DataLoader fetch a
    whole batch in one Arrow read.
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.__getitems__(range(*index.indices(len(self))))
        return self.dataset[int(index)]

    def __getitems__(self, indices):
        columns = self.dataset[list(indices)]
        return [dict(zip(columns, values)) for values in zip(*columns.values())]

    def shard(self, num_shards: int, index: int) -> "Rows":
        """Contiguous shard ``index`` of ``num_shards`` (evaluation over several processes)."""
        return Rows(self.dataset.shard(num_shards, index, contiguous=True))

    @property
    def cache_files(self):
        return self.dataset.cache_files


def tokenizer_fingerprint(tokenizer) -> str:
    """What decides a tokenizer's output: its vocabulary/pipeline, specials and padding side.

    The fast tokenizer's truncation/padding state (set by the last call) is left out."""
    parts = {"class": type(tokenizer).__name__, "padding_side": getattr(tokenizer, "padding_side", None),
             "truncation_side": getattr(tokenizer, "truncation_side", None),
             "specials": {k: str(v) for k, v in sorted(getattr(tokenizer, "special_tokens_map", {}).items())},
             "model_max_length": getattr(tokenizer, "model_max_length", None)}
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        parts["backend"] = state
    else:  # a slow tokenizer: its vocabulary is what can be read generically
        parts["vocab"] = sorted(tokenizer.get_vocab().items())
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def encoding_options(options) -> dict:
    """The task options that change the features (max length, doc stride, ...)."""
    values = asdict(options) if is_dataclass(options) else dict(vars(options))
    return {k: v for k, v in sorted(values.items()) if k not in SOURCE_OPTIONS}


def _source_of(*objects) -> str:
    """The source of the modules defining ``objects``: editing the encoding code invalidates the cache."""
    text = []
    for obj in objects:
        module = sys.modules.get(getattr(obj, "__module__", ""), None)
        try:
            text.append(inspect.getsource(module) if module else "")
        except (OSError, TypeError):
            text.append(getattr(obj, "__qualname__", repr(obj)))
    return hashlib.sha256("\n".join(text).encode()).hexdigest()


def cache_key(dataset, tokenizer, task, function, purpose: str) -> str:
    """The fingerprint of the tokenised split (``datasets`` names its cache file after it)."""
    parts = [getattr(dataset, "_fingerprint", None), tokenizer_fingerprint(tokenizer),
             f"{type(task).__module__}.{type(task).__qualname__}", encoding_options(task.options),
             _source_of(type(task), function), getattr(function, "__qualname__", ""), purpose]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def num_proc(rows: int) -> int | None:
    """Worker processes for ``map``: up to 8 on large splits (UNFREEZE_NUM_PROC overrides), else None."""
    if os.environ.get("UNFREEZE_NUM_PROC"):
        procs = int(os.environ["UNFREEZE_NUM_PROC"])
        return procs if procs > 1 else None
    if rows < PARALLEL_FROM:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(8, cores) if cores > 2 else None


def tokenise(dataset, function, *, tokenizer, task, purpose: str, batch_size: int = 1000) -> Rows:
    """``dataset.map(function, batched=True)`` with the source columns dropped, cached by ``cache_key``.

    ``function`` takes a batch (dict of lists) and returns the feature columns (any number of rows)."""
    key = cache_key(dataset, tokenizer, task, function, purpose)
    mapped = dataset.map(function, batched=True, batch_size=batch_size, remove_columns=dataset.column_names,
                         new_fingerprint=key, num_proc=num_proc(len(dataset)), desc=f"tokenising {purpose}")
    return Rows(mapped)
