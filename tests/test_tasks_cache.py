"""Tokenised splits are cached by (source, tokenizer, task options, encoding code): a second run reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import nli_records, write_jsonl

pytest.importorskip("datasets")

from unfreeze_core.models import byte_tokenizer, load_model  # noqa: E402
from unfreeze_core.tasks.cache import Rows, tokenizer_fingerprint  # noqa: E402
from unfreeze_core.tasks.classification import NLI  # noqa: E402

SECOND_RUN = """
import json, sys
from transformers import PreTrainedTokenizerFast
from unfreeze_core.models import load_model
from unfreeze_core.tasks.classification import NLI
calls = []
original = PreTrainedTokenizerFast.__call__
PreTrainedTokenizerFast.__call__ = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
task = NLI(NLI.Options(data_dir=sys.argv[1], languages=["en"]))
rows = task.train_dataset(load_model("world")[1])
print(json.dumps({"calls": len(calls), "files": [f["filename"] for f in rows.cache_files], "first": rows[0]}))
"""


@pytest.fixture
def data(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "nli"
    write_jsonl(folder / "en" / "train.jsonl", nli_records("en", 60, 0))
    write_jsonl(folder / "en" / "test.jsonl", nli_records("en", 20, 1))
    return folder


@pytest.fixture
def counted(monkeypatch):
    """Counts calls of every fast tokenizer (each batch that is tokenised calls it once)."""
    from transformers import PreTrainedTokenizerFast

    calls = []
    original = PreTrainedTokenizerFast.__call__
    monkeypatch.setattr(PreTrainedTokenizerFast, "__call__", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    return calls


def nli(folder, **options):
    return NLI(NLI.Options(data_dir=str(folder), languages=["en"], **options))


def test_a_second_run_reads_the_tokenised_split_from_the_cache(data, counted, tmp_path):
    tokenizer = load_model("world")[1]
    first = nli(data).train_dataset(tokenizer)
    assert isinstance(first, Rows) and len(first) == 60 and counted
    assert set(first[0]) == {"input_ids", "attention_mask", "labels"}
    files = [f["filename"] for f in first.cache_files]
    assert any(Path(f).name.startswith("cache-") for f in files)  # written by map next to the source's cache

    # a second process (fresh tokenizer and task objects): no tokenisation, the same cache file and rows
    env_cache = str(tmp_path / "cache")
    code = f"import datasets; datasets.config.HF_DATASETS_CACHE = {env_cache!r}\n" + SECOND_RUN
    out = subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    second = json.loads(out.strip().splitlines()[-1])
    assert second["calls"] == 0
    assert second["files"] == files
    assert second["first"] == first[0]


def test_max_length_and_tokenizer_are_part_of_the_key(data, counted):
    tokenizer = load_model("world")[1]
    full = nli(data).train_dataset(tokenizer)
    counted.clear()
    short = nli(data, max_length=8).train_dataset(tokenizer)
    assert counted, "a different max_length must tokenise again"
    assert max(len(r["input_ids"]) for r in short) == 8 < max(len(r["input_ids"]) for r in full)
    counted.clear()
    nli(data).train_dataset(tokenizer)  # same key again: read from the cache, even after truncating at 8
    assert not counted
    bytes_rows = nli(data).train_dataset(byte_tokenizer())
    assert counted and bytes_rows[0]["input_ids"] != full[0]["input_ids"]


def test_tokenizer_fingerprint_ignores_the_truncation_state():
    tokenizer = load_model("world")[1]
    before = tokenizer_fingerprint(tokenizer)
    tokenizer(["a b c d e f"], truncation=True, max_length=3)
    assert tokenizer_fingerprint(tokenizer) == before
    assert tokenizer_fingerprint(byte_tokenizer()) != before


def test_rows_give_dicts_and_lists_of_dicts(data):
    rows = nli(data).encode(nli(data).load_test("en"), load_model("world")[1])
    assert len(rows) == 20
    assert isinstance(rows[3], dict) and rows[1:4] == [rows[1], rows[2], rows[3]]
    assert rows.__getitems__([5, 2]) == [rows[5], rows[2]]
    shards = [rows.shard(3, i) for i in range(3)]
    assert [r for s in shards for r in s[0:len(s)]] == rows[0:20]


def test_loader_options_use_workers_and_pinned_memory_on_gpu_only(monkeypatch):
    from unfreeze_core.training import loader_options

    monkeypatch.delenv("UNFREEZE_LOADER_WORKERS", raising=False)
    assert loader_options(torch_device("cpu")) == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
    gpu = loader_options(torch_device("cuda"))
    assert gpu["pin_memory"] and gpu["num_workers"] <= 4 and gpu["persistent_workers"] == (gpu["num_workers"] > 0)
    monkeypatch.setenv("UNFREEZE_LOADER_WORKERS", "2")
    assert loader_options(torch_device("cpu"))["num_workers"] == 2


def torch_device(kind):
    import torch

    return torch.device(kind)


def test_loader_workers_keep_the_batch_order(nli_dir, tmp_path, monkeypatch):
    """Two DataLoader workers (the GPU setting) train to the same weights as none: the order is the sampler's."""
    import torch
    from accelerate import Accelerator

    from unfreeze_core.components import build
    from unfreeze_core.config import RunConfig
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.training import Trainer

    weights = []
    for workers in ("0", "2"):
        monkeypatch.setenv("UNFREEZE_LOADER_WORKERS", workers)
        config = RunConfig(task="nli", model="tiny", adapter="lora", steps=6, batch_size=8, lr=1e-2,
                           checkpoint_every=0, output_dir=str(tmp_path / workers))
        config.options["task"] = {"data_dir": str(nli_dir), "languages": ["en"], "eval_limit": 8}
        plugins = get_plugins()
        trainer = Trainer(config, build(config, plugins), Accelerator(cpu=True), seed=2,
                          run_dir=tmp_path / workers / "run", hook=plugins.hook)
        trainer.run()
        assert trainer.loader.num_workers == int(workers)
        weights.append({k: v.clone() for k, v in trainer.inner_model.state_dict().items()})
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
