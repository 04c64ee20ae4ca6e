"""What the benchmarks share: model shapes, a random-weight model folder, generated data in the hub schema.

Shapes: ``world`` is the shipped embedded encoder (8 layers, hidden 64); ``base`` is XLM-R base
(12 layers, hidden 768, 250,002-token vocabulary) with random weights, saved once to a folder with the
world's tokenizer, so it loads through the same ``load_model`` path as any checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("UNFREEZE_BENCH_CACHE", "/tmp/unfreeze-bench"))

BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1)


def model_name(size: str) -> str:
    """``world`` or the folder of a random-weight model of ``size`` (``base``), written once."""
    if size == "world":
        return "world"
    if size != "base":
        raise SystemExit(f"unknown size {size!r} (world, base)")
    folder = CACHE / "xlmr-base-random"
    if not (folder / "model.safetensors").is_file():
        import torch
        from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

        from unfreeze_core import world

        torch.manual_seed(0)
        model = XLMRobertaModel(XLMRobertaConfig(**BASE), add_pooling_layer=False)
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder)
        AutoTokenizer.from_pretrained(world.model_path()).save_pretrained(folder)
    return str(folder)


def _world_records(lang: str, split: str) -> list[dict]:
    from unfreeze_core import world

    path = world.data_dir("nli") / lang / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_jsonl(path: Path, records) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def nli_folder(name: str, *, train: int, test: int = 0, languages: int = 1, sentences: int = 1) -> Path:
    """``<lang>/{train,test}.jsonl`` in the XNLI schema, written once under the bench cache.

    Pairs are world NLI pairs; ``sentences`` > 1 makes each premise that many world sentences long
    (MNLI-like lengths: ~3 sentences give ~50 tokens a pair). Test languages are ``en`` then ``l01``...
    (world English text: the cost of evaluation does not depend on which language it is)."""
    folder = CACHE / "data" / name
    done = folder / ".complete"
    if done.exists():
        return folder
    rng = random.Random(0)
    pool = _world_records("en", "train")

    def pairs(n):
        for _ in range(n):
            r = rng.choice(pool)
            extra = [rng.choice(pool)["premise"] for _ in range(sentences - 1)]
            yield {"premise": " ".join([r["premise"], *extra]), "hypothesis": r["hypothesis"], "label": r["label"]}

    write_jsonl(folder / "en" / "train.jsonl", pairs(train))
    for i in range(languages):
        lang = "en" if i == 0 else f"l{i:02d}"
        write_jsonl(folder / lang / "test.jsonl", pairs(test or 100))
    done.write_text("ok\n")
    return folder


def median(values):
    import statistics

    return statistics.median(values)


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({os.cpu_count()} cores visible, {torch.get_num_threads()} torch thread(s))"


def save_json(path: str | None, result) -> None:
    """Write a benchmark's result to ``path`` (the scripts' ``--json``), when one is given."""
    if path:
        with open(path, "w") as f:
            json.dump(result, f, indent=1)


def bench_model(size: str, adapter: str, batch_size: int, max_length: int):
    """(parts, prepared): the run's own model building (``prepare_model``) at ``size``; at base shapes on
    generated long NLI data, MAD-X with fresh language adapters."""
    from unfreeze_core.components import build
    from unfreeze_core.config import RunConfig
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.training import prepare_model

    config = RunConfig(model=model_name(size), adapter=adapter, batch_size=batch_size)
    config.options["task"] = {"languages": ["en"], "max_length": max_length}
    if size != "world":
        config.options["task"]["data_dir"] = str(nli_folder("long", train=20 * 32 * 4, sentences=12))
        if adapter == "madx":
            config.options["adapter"] = {"lang_adapters": "fresh"}
    parts = build(config, get_plugins())
    return parts, prepare_model(config, parts)
