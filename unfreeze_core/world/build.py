"""Build every artefact of the world from a seed: task data, tokenizer, encoder, language adapters,
and a manifest with sizes, knobs and sha256 checksums."""

from __future__ import annotations

import hashlib
import json
import platform
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .generator import GRAMMAR, LANGUAGES, Language, content_concepts, corpus_document
from .tasks import DEFAULT_SIZES, TASKS, write_task

MANIFEST = "manifest.json"


@dataclass
class BuildConfig:
    seed: int = 0
    alpha: float = 0.5  # the difficulty knob (see pretrain.py and docs/world.md)
    layers: int = 8
    hidden: int = 64
    heads: int = 4
    intermediate: int = 128
    max_positions: int = 256
    vocab_size: int = 2500
    docs_per_language: int = 6000
    sentences_per_doc: int = 4
    mlm_steps: int = 1200
    mlm_lr: float = 1.5e-3
    batch_size: int = 32
    adapter_steps: int = 120
    adapter_lr: float = 1e-3
    threads: int = 1
    task_sizes: dict = field(default_factory=lambda: {t: dict(s) for t, s in DEFAULT_SIZES.items()})

    @classmethod
    def small(cls, seed: int = 0) -> "BuildConfig":
        """A reduced world for tests: same pipeline, tiny sizes (seconds)."""
        return cls(seed=seed, layers=2, hidden=32, heads=2, intermediate=64, vocab_size=1500,
                   docs_per_language=300, mlm_steps=20, adapter_steps=5, batch_size=16,
                   task_sizes={t: {"train": 30, "validation": 10, "test": 12} for t in TASKS})


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def corpus(seed: int, n_docs: int, n_sent: int = 4) -> dict[str, list[str]]:
    """Monolingual pretraining text: independently sampled documents per language (no parallel text)."""
    out = {}
    for code in LANGUAGES:
        lang = Language(code, seed)
        rng = random.Random(f"corpus-{seed}-{code}")
        out[code] = [corpus_document(rng, lang, n_sent) for _ in range(n_docs)]
    return out


def tied_token_map(tokenizer, seed: int) -> tuple[dict[int, int], int]:
    """token id -> concept index for every single-token surface form of a concept, in every language."""
    concepts = content_concepts()
    tied: dict[int, int] = {}
    for code in LANGUAGES:
        lex = Language(code, seed).lex
        for ci, c in enumerate(concepts):
            w = lex[c]
            if not w:
                continue
            ids = tokenizer(w, add_special_tokens=False)["input_ids"]
            if len(ids) == 1:
                tied[ids[0]] = ci
    return tied, len(concepts)


def build(out: Path, cfg: BuildConfig, log=print) -> dict:
    """Write the whole world into `out` (replacing what is there); return the manifest."""
    import torch

    from .lang_adapters import REDUCTION_FACTOR, train_language_adapter
    from .pretrain import EncoderSize, pretrain_encoder
    from .tokenizer import train_tokenizer

    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    out = Path(out)
    for sub in ("model", "adapters", "data"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}

    counts = {}
    for task in TASKS:
        counts[task] = write_task(task, out / "data" / task, cfg.seed, cfg.task_sizes.get(task))
    timings["data_s"] = round(time.time() - t0, 1)
    log(f"task data written ({timings['data_s']}s)")

    text = corpus(cfg.seed, cfg.docs_per_language, cfg.sentences_per_doc)
    all_docs = [d for c in LANGUAGES for d in text[c]]
    tokenizer = train_tokenizer(all_docs, cfg.vocab_size, cfg.max_positions)
    tied, n_concepts = tied_token_map(tokenizer, cfg.seed)
    log(f"tokenizer: vocab {len(tokenizer)}, {len(tied)} tied tokens over {n_concepts} concepts")

    def encode(docs):
        return tokenizer(docs, truncation=True, max_length=cfg.max_positions)["input_ids"]

    encoded = {c: encode(text[c]) for c in LANGUAGES}
    size = EncoderSize(cfg.layers, cfg.hidden, cfg.heads, cfg.intermediate, cfg.max_positions)
    t1 = time.time()
    mixed = [e for c in LANGUAGES for e in encoded[c]]
    model, mlm_loss = pretrain_encoder(mixed, tied, n_concepts, tokenizer, size, cfg.alpha, cfg.mlm_steps,
                                       cfg.mlm_lr, cfg.batch_size, cfg.seed, log=log)
    timings["pretrain_s"] = round(time.time() - t1, 1)
    model_dir = out / "model"
    model.save_pretrained(str(model_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(model_dir))
    n_params = sum(p.numel() for p in model.roberta.parameters())
    del model

    t2 = time.time()
    adapter_losses = {}
    for i, code in enumerate(LANGUAGES):
        adapter_losses[code] = round(train_language_adapter(
            model_dir, code, encoded[code], tokenizer, cfg.adapter_steps, cfg.adapter_lr, cfg.batch_size,
            cfg.seed * 100 + i, out / "adapters" / code, log=log), 4)
    timings["adapters_s"] = round(time.time() - t2, 1)
    timings["total_s"] = round(time.time() - t0, 1)

    import adapters
    import tokenizers
    import transformers

    manifest = {
        "seed": cfg.seed,
        "knobs": {"alpha": cfg.alpha},
        "config": asdict(cfg),
        "languages": [{"code": c, "name": GRAMMAR[c].name, "script": GRAMMAR[c].script,
                       "order": GRAMMAR[c].order} for c in LANGUAGES],
        "encoder": {"parameters": n_params, "layers": cfg.layers, "hidden": cfg.hidden, "heads": cfg.heads,
                    "vocab": len(tokenizer), "tied_tokens": len(tied), "concepts": n_concepts,
                    "mlm_loss": round(mlm_loss, 4)},
        "language_adapters": {"config": "seq_bn_inv", "reduction_factor": REDUCTION_FACTOR,
                              "mlm_loss": adapter_losses},
        "data": counts,
        "timings": timings,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "adapters": adapters.__version__, "tokenizers": tokenizers.__version__,
                     "python": platform.python_version()},
        "files": checksums(out),
    }
    manifest["bytes"] = sum((out / f).stat().st_size for f in manifest["files"])
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    log(f"world built in {timings['total_s']}s -> {out}")
    return manifest
