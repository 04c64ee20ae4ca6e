"""``unfreeze lang-adapter train``: MAD-X step 1, a language adapter trained with MLM on a frozen model."""

from __future__ import annotations

import click


@click.group("lang-adapter")
def lang_adapter():
    """Language adapters (seq_bn_inv, reduction factor 2) for the madx and mdeberta backends."""


@lang_adapter.command()
@click.option("--model", default="xlm-roberta-base", show_default=True,
              help="Base model: a hub id, a local folder, world, minilm, tiny, tiny-bert or tiny-deberta.")
@click.option("--lang", required=True, help="Language code; the adapter is saved as OUT/<lang>/.")
@click.option("--text", "text", required=True, type=click.Path(), help="UTF-8 text file, one sentence or paragraph a line.")
@click.option("--steps", default=1000, show_default=True, type=int)
@click.option("--lr", default=1e-4, show_default=True, type=float)
@click.option("--batch-size", default=16, show_default=True, type=int)
@click.option("--max-length", default=256, show_default=True, type=int)
@click.option("--out", default="lang_adapters", show_default=True, type=click.Path(),
              help="Folder of language adapters: pass it to the backend as -o lang_adapters=OUT.")
@click.option("--seed", default=0, show_default=True, type=int)
def train(model, lang, text, steps, lr, batch_size, max_length, out, seed):
    """Train the language adapter LANG on TEXT with masked-LM, the base model frozen."""
    from unfreeze_core.lang_adapters import LangAdapterConfig, train_from_text

    check_settings(lang, steps, lr, batch_size, max_length, seed)
    config = LangAdapterConfig(steps=steps, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed,
                               use_safetensors=True)
    target = train_from_text(model, lang, text, out, config, log=click.echo)
    click.echo(f"saved language adapter {lang!r} to {target}  (use: -o lang_adapters={out})")


def check_settings(lang: str, steps: int, lr: float, batch_size: int, max_length: int, seed: int) -> None:
    """What ``run`` refuses, refused here too, in one line before a model is loaded."""
    import math
    import re

    from unfreeze_core.config import MAX_SEED
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.limits import MAX_COUNT, at_most

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", lang) or lang.strip(".") != lang or ".." in lang:
        raise UnfreezeError(f"--lang {lang!r} must be a language code (letters, digits, '-', '_', up to 64; no path): "
                            f"the adapter is saved as OUT/<lang>/")
    if not math.isfinite(lr):
        raise UnfreezeError(f"--lr must be a finite number, got {lr}")
    if lr <= 0:
        raise UnfreezeError(f"--lr must be positive, got {lr}")
    if steps < 1 or batch_size < 1 or max_length < 8:
        raise UnfreezeError("--steps and --batch-size must be >= 1, --max-length >= 8")
    for flag, value in (("--steps", steps), ("--batch-size", batch_size), ("--max-length", max_length)):
        at_most(flag, value, MAX_COUNT)
    if not 0 <= seed <= MAX_SEED:
        raise UnfreezeError(f"seed {seed} is outside 0..2**32-1 (the range numpy and torch accept)")
