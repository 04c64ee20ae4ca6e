"""`unfreeze world build` and `unfreeze world info`."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def world():
    """The embedded offline multilingual world (languages, encoder, adapters, tasks)."""


@world.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the whole world.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder [default: the package's artifacts folder].")
@click.option("--alpha", type=float, default=None,
              help="Difficulty knob: weight of the language-specific embedding part (0 = fully shared).")
@click.option("--consequences", type=float, default=None,
              help="Share of pretraining documents that end with a consequence pair: an event, negated half the "
                   "time, then the state its polarity implies (0 = the shipped world).")
@click.option("--summary", type=float, default=None,
              help="Weight of the pretraining loss that predicts, from the first token's top-layer state, the "
                   "document's language-free summary (0 = the v2 world).")
@click.option("--given-new", type=float, default=None,
              help="Weight of the pretraining loss that tags every content word as in the first sentence or the "
                   "rest, and as given (the other side has it) or new (0 = the v2 world).")
@click.option("--pairs", type=float, default=None,
              help="Share of pretraining documents the encoder reads as a pair, the first sentence and the rest "
                   "with the separator between them, as a sentence-pair task's input (0 = the v2 world).")
@click.option("--align-first", type=float, default=None,
              help="Weight of the pretraining loss that pulls each language's mean first-token state towards "
                   "the others', at every layer (0 = the v2 world).")
@click.option("--small", is_flag=True, help="A reduced world (2 layers, few steps) for tests.")
@click.option("--layers", type=int, default=None, help="Encoder layers.")
@click.option("--steps", type=int, default=None, help="MLM pretraining steps.")
@click.option("--adapter-steps", type=int, default=None, help="MLM steps per language adapter.")
@click.option("--threads", type=int, default=None, help="Torch CPU threads.")
@click.option("--only", type=click.Choice(["adapters", "data"]), default=None,
              help="Rebuild one step of an existing world: 'adapters' retrains the language adapters on the "
                   "encoder and tokenizer already in the folder (same seed and settings); 'data' rewrites the task "
                   "data; either keeps every other file and updates the manifest.")
def build(seed, out, alpha, consequences, summary, given_new, pairs, align_first, small, layers, steps, adapter_steps, threads, only):
    """Regenerate every artefact of the world from a seed (minutes on 2 CPU cores)."""
    from unfreeze_core.world import artifacts_dir
    from unfreeze_core.world.build import BuildConfig, build as run_build

    cfg = BuildConfig.small(seed) if small else BuildConfig(seed=seed)
    if consequences is not None and not 0 <= consequences <= 1:
        from unfreeze_core.errors import UnfreezeError

        raise UnfreezeError(f"--consequences is a share of documents, from 0 to 1 (got {consequences})")
    for name, value in (("alpha", alpha), ("consequences", consequences), ("summary", summary), ("given_new", given_new), ("pairs", pairs),
                        ("align_first", align_first), ("layers", layers), ("mlm_steps", steps),
                        ("adapter_steps", adapter_steps), ("threads", threads)):
        if value is not None:
            setattr(cfg, name, value)
    m = run_build(out or artifacts_dir(), cfg, log=click.echo, only=only)
    click.echo(f"{len(m['files'])} files, {m['bytes'] / 1e6:.1f} MB, {m['timings']['total_s']} s")


@world.command()
@click.option("--dir", "root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="World folder [default: the shipped one].")
def info(root):
    """Languages, sizes and one sample sentence per language."""
    from unfreeze_core.errors import UnfreezeError, first_line

    try:
        show_info(root)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # a missing or corrupt artefact
        raise UnfreezeError(f"the world in {root or 'the package'} is incomplete or corrupt ({type(exc).__name__}: "
                            f"{first_line(exc, '')}); rebuild it with `unfreeze world build`"
                            ) from None


def show_info(root):
    import json

    from rich.console import Console
    from rich.table import Table

    from unfreeze_core.world import LANGUAGES, TASKS, data_dir, language_info, manifest

    console = Console()
    m = manifest(root)
    enc = m["encoder"]
    t = Table(title=f"world (seed {m['seed']}, alpha {m['knobs']['alpha']})")
    t.add_column("what")
    t.add_column("value")
    t.add_row("encoder", f"{enc['layers']} layers x {enc['hidden']} hidden, {enc['parameters']:,} parameters")
    t.add_row("vocabulary", f"{enc['vocab']:,} tokens ({enc['tied_tokens']} tied to {enc['concepts']} concepts)")
    la = m["language_adapters"]
    t.add_row("language adapters", f"{la['config']}, reduction factor {la['reduction_factor']}")
    t.add_row("artefacts", f"{len(m['files'])} files, {m['bytes'] / 1e6:.1f} MB")
    for task in TASKS:
        counts = m["data"][task]
        t.add_row(f"data: {task}", f"train {counts['en/train']}, validation {counts['en/validation']}, "
                                   f"test {counts['en/test']} x {len(LANGUAGES)} languages")
    console.print(t)

    langs = Table(title="languages (NLI test item 0, premise)")
    for col in ("code", "name", "script", "order", "sample"):
        langs.add_column(col)
    for li in language_info():
        with open(data_dir("nli", root) / li["code"] / "test.jsonl", encoding="utf-8") as f:
            sample = json.loads(f.readline())["premise"]
        langs.add_row(li["code"], li["name"], li["script"], li["order"], sample)
    console.print(langs)


if __name__ == "__main__":
    world()
