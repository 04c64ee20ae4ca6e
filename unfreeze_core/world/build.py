"""Build every artefact of the world from a seed: task data, tokenizer, encoder, language adapters,
and a manifest with sizes, knobs and sha256 checksums."""

from __future__ import annotations

import json
import platform
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..digest import sha256
from ..errors import UnfreezeError, first_line
from .generator import (FUNCTION, GRAMMAR, LANGUAGES, NAMES, PUNCT, SUMMARY_SIZE, Language, content_concepts,
                        corpus_document, summary_target)
from .tasks import DEFAULT_SIZES, TASK_VERSIONS, TASKS, write_task

MANIFEST = "manifest.json"


@dataclass
class BuildConfig:
    seed: int = 0
    alpha: float = 0.5  # the difficulty knob (see pretrain.py and docs/world.md)
    consequences: float = 0.0  # share of pretraining documents with a consequence pair (generator.py)
    summary: float = 0.75  # weight of the first token's document-summary loss (pretrain.py); v3
    given_new: float = 0.25  # weight of every content word's given/new tagging loss (pretrain.py); v3
    pairs: float = 0.5  # share of pretraining documents encoded as a pair: first sentence </s></s> the rest; v3
    align_first: float = 0.0  # weight of the first token's cross-language mean alignment (pretrain.py)
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


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def corpus(seed: int, n_docs: int, n_sent: int = 4, consequences: float = 0.0,
           summaries: dict[str, list[list[int]]] | None = None) -> dict[str, list[str]]:
    """Monolingual pretraining text: independently sampled documents per language (no parallel text).
    ``summaries``, when given, receives each document's `summary_target` per language (the same text)."""
    out = {}
    for code in LANGUAGES:
        lang = Language(code, seed)
        rng = random.Random(f"corpus-{seed}-{code}")
        records: list[list] = [[] for _ in range(n_docs)] if summaries is not None else [None] * n_docs
        out[code] = [corpus_document(rng, lang, n_sent, consequences, record) for record in records]
        if summaries is not None:
            summaries[code] = [summary_target(record) for record in records]
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


def split_first(doc: str) -> tuple[str, str]:
    """A document's first sentence and the rest ("" when it has one sentence)."""
    ends = [i for i in (doc.find(" . "), doc.find(" ? ")) if i >= 0]
    return (doc[:min(ends) + 2], doc[min(ends) + 3:]) if ends else (doc, "")


def content_token_ids(tokenizer, tied: dict[int, int]) -> set[int]:
    """Token ids of the content words: single-token forms of the lexical (not function) concepts, and
    names kept whole."""
    content = {t for t, c in tied.items() if c >= len(FUNCTION)}  # function concepts come first
    for name in NAMES:
        ids = tokenizer(name, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:
            content.add(ids[0])
    return content


# recorded in the manifest's knobs when not 0
OPTIONAL_KNOBS = ("consequences", "summary", "given_new", "pairs", "align_first")

ADAPTER_WARMUP_FRACTION = 0.05  # warm-up over 1/20 of the adapter steps, then cosine decay
ADAPTER_KNOBS = ("adapter_steps", "adapter_lr")  # what `--only adapters` may change


def adapter_config(cfg: BuildConfig, index: int):
    """The core trainer's settings for the `index`-th language's adapter."""
    from ..lang_adapters import LangAdapterConfig

    return LangAdapterConfig(steps=cfg.adapter_steps, lr=cfg.adapter_lr, batch_size=cfg.batch_size,
                             max_length=cfg.max_positions, seed=cfg.seed * 100 + index,
                             lr_schedule="warmup_cosine", warmup_fraction=ADAPTER_WARMUP_FRACTION)


def train_adapters(out: Path, cfg: BuildConfig, text: dict[str, list[str]], log=print) -> dict[str, float]:
    """MAD-X step 1 for every language with `unfreeze_core.lang_adapters.train_language_adapter`, on the
    encoder and tokenizer saved in `out/model`; write `out/adapters/<lang>/`; return the final MLM losses."""
    import adapters
    from transformers import XLMRobertaForMaskedLM, XLMRobertaTokenizerFast

    from ..lang_adapters import train_language_adapter

    model_dir = out / "model"
    tokenizer = XLMRobertaTokenizerFast.from_pretrained(str(model_dir))
    losses = {}
    for i, code in enumerate(LANGUAGES):
        t = time.time()
        encoded = tokenizer(text[code], truncation=True, max_length=cfg.max_positions)["input_ids"]
        model = XLMRobertaForMaskedLM.from_pretrained(str(model_dir))
        model.config.name_or_path = "world"  # adapter_config.json's model_name: not the build folder's path
        adapters.init(model)
        loss = train_language_adapter(model, tokenizer, encoded, code, out / "adapters" / code,
                                      adapter_config(cfg, i), log=lambda _: None)
        losses[code] = round(loss, 4)
        log(f"  adapter {code}: {cfg.adapter_steps} steps, loss {loss:.3f} ({time.time() - t:.0f}s)")
        del model
    return losses


def build(out: Path, cfg: BuildConfig, log=print, only: str | None = None) -> dict:
    """Write the whole world into `out` (replacing what is there); return the manifest.

    `only="adapters"` retrains just the language adapters on the encoder and tokenizer already in
    `out` (built with the same configuration, apart from `ADAPTER_KNOBS`); `only="data"` rewrites
    just the task data (the pretraining text does not depend on it). Either updates the manifest."""
    if only in REBUILD_STEPS:
        return rebuild(Path(out), cfg, only, log)
    if only is not None:
        raise UnfreezeError(f"unknown build step {only!r}; known: {', '.join(REBUILD_STEPS)}")
    import torch

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

    counts = write_data(out, cfg)
    timings["data_s"] = round(time.time() - t0, 1)
    log(f"task data written ({timings['data_s']}s)")

    summaries: dict[str, list[list[int]]] | None = {} if cfg.summary else None
    text = corpus(cfg.seed, cfg.docs_per_language, cfg.sentences_per_doc, cfg.consequences, summaries)
    all_docs = [d for c in LANGUAGES for d in text[c]]
    tokenizer = train_tokenizer(all_docs, cfg.vocab_size, cfg.max_positions)
    tied, n_concepts = tied_token_map(tokenizer, cfg.seed)
    log(f"tokenizer: vocab {len(tokenizer)}, {len(tied)} tied tokens over {n_concepts} concepts")

    def encode(docs, code):
        """Token ids of each document; a share ``pairs`` of them (drawn per language) read as a pair."""
        if cfg.pairs:
            rng = random.Random(f"pairs-{cfg.seed}-{code}")
            docs = [split_first(d) if rng.random() < cfg.pairs else (d, "") for d in docs]
            return [tokenizer(*(p if p[1] else p[:1]), truncation=True, max_length=cfg.max_positions)["input_ids"]
                    for p in docs]
        return tokenizer(docs, truncation=True, max_length=cfg.max_positions)["input_ids"]

    encoded = {c: encode(text[c], c) for c in LANGUAGES}
    size = EncoderSize(cfg.layers, cfg.hidden, cfg.heads, cfg.intermediate, cfg.max_positions)
    t1 = time.time()
    mixed = [e for c in LANGUAGES for e in encoded[c]]
    tags = None
    if cfg.given_new:
        from .pretrain import given_new_tags

        content = content_token_ids(tokenizer, tied)
        stops = {tokenizer.convert_tokens_to_ids(f"\u2581{p}") for p in PUNCT}
        tags = [given_new_tags(e, content, stops) for e in mixed]
    model, mlm_loss = pretrain_encoder(
        mixed, tied, n_concepts, tokenizer, size, cfg.alpha, cfg.mlm_steps, cfg.mlm_lr, cfg.batch_size, cfg.seed,
        log=log, summaries=[t for c in LANGUAGES for t in summaries[c]] if summaries else None, summary_size=SUMMARY_SIZE,
        summary=cfg.summary, languages=[i for i, c in enumerate(LANGUAGES) for _ in encoded[c]],
        align_first=cfg.align_first, tags=tags, given_new=cfg.given_new)
    timings["pretrain_s"] = round(time.time() - t1, 1)
    model_dir = out / "model"
    model.save_pretrained(str(model_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(model_dir))
    n_params = sum(p.numel() for p in model.roberta.parameters())
    del model

    t2 = time.time()
    adapter_losses = train_adapters(out, cfg, text, log=log)
    timings["adapters_s"] = round(time.time() - t2, 1)
    timings["total_s"] = round(time.time() - t0, 1)

    manifest = {
        "seed": cfg.seed,
        "knobs": {"alpha": cfg.alpha, **{k: getattr(cfg, k) for k in OPTIONAL_KNOBS if getattr(cfg, k)}},
        "config": asdict(cfg),
        "languages": [{"code": c, "name": GRAMMAR[c].name, "script": GRAMMAR[c].script,
                       "order": GRAMMAR[c].order} for c in LANGUAGES],
        "encoder": {"parameters": n_params, "layers": cfg.layers, "hidden": cfg.hidden, "heads": cfg.heads,
                    "vocab": len(tokenizer), "tied_tokens": len(tied), "concepts": n_concepts,
                    "mlm_loss": round(mlm_loss, 4)},
        "language_adapters": adapters_entry(adapter_losses),
        "data": counts,
        "task_versions": dict(TASK_VERSIONS),
        "timings": timings,
    }
    write_manifest(out, manifest)
    log(f"world built in {timings['total_s']}s -> {out}")
    return manifest


def adapters_entry(losses: dict[str, float]) -> dict:
    from ..lang_adapters import REDUCTION_FACTOR

    return {"config": "seq_bn_inv", "reduction_factor": REDUCTION_FACTOR,
            "trainer": "unfreeze_core.lang_adapters.train_language_adapter",
            "lr_schedule": "warmup_cosine", "warmup_fraction": ADAPTER_WARMUP_FRACTION, "mlm_loss": losses}


def write_manifest(out: Path, manifest: dict) -> dict:
    """Add library versions, file checksums and the total size; write `out/manifest.json`."""
    import adapters
    import tokenizers
    import torch
    import transformers

    manifest["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                            "adapters": adapters.__version__, "tokenizers": tokenizers.__version__,
                            "python": platform.python_version()}
    manifest["files"] = checksums(out)
    manifest["bytes"] = sum((out / f).stat().st_size for f in manifest["files"])
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def write_data(out: Path, cfg: BuildConfig) -> dict:
    return {task: write_task(task, out / "data" / task, cfg.seed, cfg.task_sizes.get(task)) for task in TASKS}


REBUILD_STEPS = ("adapters", "data")


def rebuild(out: Path, cfg: BuildConfig, step: str, log=print) -> dict:
    """Redo one step of the world in `out` ("adapters": the language adapters; "data": the task
    data); keep every other file byte for byte and update the manifest."""
    import torch

    path = out / MANIFEST
    if not path.is_file() or not (out / "model").is_dir():
        raise UnfreezeError(f"no built world in {out} (manifest.json and model/ are needed): "
                                "build it whole first")
    from . import manifest as read_manifest

    try:
        manifest = read_manifest(out)
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        manifest = first_line(exc)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        detail = manifest if isinstance(manifest, str) else "no 'config' mapping"
        raise UnfreezeError(f"the manifest of the world in {out} is corrupt ({detail}): build it whole first")
    wanted = asdict(cfg)
    for key, value in asdict(BuildConfig()).items():  # a knob added later: its default for worlds built before
        manifest["config"].setdefault(key, value)
    free = ADAPTER_KNOBS if step == "adapters" else ("task_sizes",)
    differ = sorted(k for k in set(wanted) | set(manifest["config"])
                    if k not in free and wanted.get(k) != manifest["config"].get(k))
    if differ:
        raise UnfreezeError(f"the world in {out} was built with other settings ({', '.join(differ)}): "
                         f"rebuilding only its {step} would not reproduce a whole build")
    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    if (out / step).exists():
        shutil.rmtree(out / step)
    if step == "adapters":
        text = corpus(cfg.seed, cfg.docs_per_language, cfg.sentences_per_doc, cfg.consequences)
        manifest["language_adapters"] = adapters_entry(train_adapters(out, cfg, text, log=log))
    else:
        manifest["data"] = write_data(out, cfg)
        manifest["task_versions"] = dict(TASK_VERSIONS)
    seconds = round(time.time() - t0, 1)
    timings = dict(manifest.get("timings", {}))
    key = f"{step}_s"
    if "total_s" in timings:
        timings["total_s"] = round(timings["total_s"] - timings.get(key, 0) + seconds, 1)
    timings[key] = seconds
    manifest.update(config=wanted, timings=timings)
    for k in ("versions", "files", "bytes"):
        manifest.pop(k, None)
    write_manifest(out, manifest)
    log(f"{step} rebuilt in {seconds}s -> {out / step}")
    return manifest
