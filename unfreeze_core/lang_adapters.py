"""MAD-X step 1: train a ``seq_bn_inv`` language adapter (reduction factor 2) with masked-LM on text of
one language, the pretrained encoder and its MLM head frozen; save it where the madx backend's
``lang_adapters=DIR`` option finds it (``DIR/<lang>/``, written by ``save_adapter``).

AdapterHub has no language adapters for mDeBERTa and lacks some for mBERT; this trains them.
``train_language_adapter`` takes an already loaded MLM model, so any caller (the CLI, the embedded
world with its own encoder and pre-encoded text: ``world/build.py``) can use it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import UnfreezeError

REDUCTION_FACTOR = 2
LR_SCHEDULES = ("constant", "warmup_cosine")


@dataclass
class LangAdapterConfig:
    steps: int = 1000
    lr: float = 1e-4
    batch_size: int = 16
    max_length: int = 256
    seed: int = 0
    mlm_probability: float = 0.15
    max_grad_norm: float = 1.0
    reduction_factor: int = REDUCTION_FACTOR
    lr_schedule: str = "constant"
    """constant | warmup_cosine (linear warm-up over ``warmup_fraction`` of the steps, then cosine to 0)."""
    warmup_fraction: float = 0.05
    use_safetensors: bool = False
    """Save ``adapter.safetensors`` instead of ``pytorch_adapter.bin``; loading it then needs
    ``load_adapter(..., use_safetensors=True)`` (adapters 1.3 reads only the .bin by default)."""

    def __post_init__(self):
        if self.lr_schedule not in LR_SCHEDULES:
            raise UnfreezeError(f"unknown lr_schedule {self.lr_schedule!r}; known: {', '.join(LR_SCHEDULES)}")
        if not 0 <= self.warmup_fraction < 1:
            raise UnfreezeError("warmup_fraction must be in [0, 1)")

    def warmup_steps(self) -> int:
        return max(1, int(self.steps * self.warmup_fraction))


def warmup_cosine(step: int, warm: int, total: int) -> float:
    """LR multiplier: linear warm-up over ``warm`` steps, then cosine decay to 0 at ``total``."""
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


def read_text(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file (one sentence or paragraph per line)."""
    path = Path(path)
    if not path.is_file():
        raise UnfreezeError(f"text file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnfreezeError(f"{path} is not UTF-8 text (byte {exc.start}); convert it, e.g. iconv -t UTF-8") from None
    except OSError as exc:
        raise UnfreezeError(f"cannot read text file {path}: {exc.strerror or exc}") from None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise UnfreezeError(f"{path}: no text (the file is empty)")
    return lines


def encode(lines: Sequence[str], tokenizer, max_length: int) -> list[list[int]]:
    return tokenizer(list(lines), truncation=True, max_length=max_length)["input_ids"]


def trainable_names(model, lang: str) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad and f".{lang}." in f".{n}."]


def train_language_adapter(model, tokenizer, encoded: Sequence[Sequence[int]], lang: str, out_dir: str | Path,
                           config: LangAdapterConfig | None = None, log: Callable[[str], None] = print) -> float:
    """Add adapter ``lang`` to ``model`` (an ``adapters``-initialised ...ForMaskedLM), train it alone with MLM
    on ``encoded`` token-id sequences, save it to ``out_dir``; return the smoothed final loss."""
    import torch
    from adapters import SeqBnInvConfig
    from transformers import DataCollatorForLanguageModeling

    config = config or LangAdapterConfig()
    if not encoded:
        raise UnfreezeError("no text to train the language adapter on")
    if tokenizer.mask_token_id is None:
        raise UnfreezeError("the tokenizer has no mask token: masked-LM training needs one")
    torch.manual_seed(config.seed)
    model.add_adapter(lang, config=SeqBnInvConfig(reduction_factor=config.reduction_factor))
    model.train_adapter(lang)  # freezes the encoder; a static MLM head may stay trainable:
    keep = set(trainable_names(model, lang))
    for name, p in model.named_parameters():
        p.requires_grad_(name in keep)
    model.set_active_adapters(lang)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    scheduler = None
    if config.lr_schedule == "warmup_cosine":
        warm, total = config.warmup_steps(), config.steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, warm, total))
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mlm_probability, return_tensors="pt")
    generator = torch.Generator().manual_seed(config.seed)
    rng = random.Random(config.seed)
    order: list[int] = []
    device = next(model.parameters()).device
    model.train()
    smoothed = None
    for step in range(config.steps):
        if len(order) < config.batch_size:
            more = list(range(len(encoded)))
            rng.shuffle(more)
            order += more
        picked, order = order[:config.batch_size], order[config.batch_size:]
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))  # masking is reproducible
        batch = collate([{"input_ids": list(encoded[i])} for i in picked])
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        smoothed = loss.item() if smoothed is None else 0.95 * smoothed + 0.05 * loss.item()
        if (step + 1) % max(1, config.steps // 10) == 0 or step + 1 == config.steps:
            log(f"step {step + 1}/{config.steps}  loss {smoothed:.4f}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_adapter(str(out_dir), lang, with_head=False, use_safetensors=config.use_safetensors)
    return float(smoothed)


def train_from_text(model_name: str, lang: str, text: str | Path, out: str | Path,
                    config: LangAdapterConfig | None = None, log: Callable[[str], None] = print) -> Path:
    """Load ``model_name`` with its MLM head, train adapter ``lang`` on ``text``; save to ``out/<lang>/``."""
    from .models import load_mlm_model

    config = config or LangAdapterConfig()
    lines = read_text(text)
    model, tokenizer = load_mlm_model(model_name)
    target = Path(out) / lang
    train_language_adapter(model, tokenizer, encode(lines, tokenizer, config.max_length), lang, target, config, log)
    return target
