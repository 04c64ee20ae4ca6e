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

    if steps < 1 or batch_size < 1 or max_length < 8:
        raise click.BadParameter("--steps and --batch-size must be >= 1, --max-length >= 8")
    config = LangAdapterConfig(steps=steps, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed,
                               use_safetensors=True)
    target = train_from_text(model, lang, text, out, config, log=click.echo)
    click.echo(f"saved language adapter {lang!r} to {target}  (use: -o lang_adapters={out})")
