"""`unfreeze world build` and `unfreeze world info`."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def world():
    """The embedded offline multilingual world (languages, encoder, adapters, tasks)."""


# The build's knobs (BuildConfig fields): a share of documents (0 to 1) or a weight (>= 0); 0 = off
KNOBS = {
    "alpha": ("weight", "Difficulty knob: weight of the language-specific embedding part (0 = fully shared)."),
    "consequences": ("share", "Share of pretraining documents that end with a consequence pair: an event, negated "
                              "half the time, then the state its polarity implies."),
    "summary": ("weight", "Weight of the pretraining loss that predicts, from the first token's top-layer state, the "
                          "document's language-free summary."),
    "given_new": ("weight", "Weight of the pretraining loss that tags every content word as in the first sentence or "
                            "the rest, and as given (the other side has it) or new."),
    "pairs": ("share", "Share of pretraining documents the encoder reads as a pair, the first sentence and the rest "
                       "with the separator between them, as a sentence-pair task's input."),
    "align_first": ("weight", "Weight of the pretraining loss that pulls each language's mean first-token state "
                              "towards the others', at every layer."),
}


def knob_options(command):
    for name, (_, text) in reversed(KNOBS.items()):
        command = click.option(f"--{name.replace('_', '-')}", name, type=float, default=None, help=text)(command)
    return command


def checked_knob(name: str, value: float) -> float:
    """``value`` when it is a finite share from 0 to 1 or a finite weight >= 0, as the knob is; else one line."""
    import math

    from unfreeze_core.errors import UnfreezeError

    share = KNOBS[name][0] == "share"
    if not math.isfinite(value) or value < 0 or share and value > 1:
        what = "a share of documents, from 0 to 1" if share else "a weight, a finite number >= 0"
        raise UnfreezeError(f"--{name.replace('_', '-')} is {what} (got {value})")
    return value


@world.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the whole world.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder [default: the package's artifacts folder].")
@knob_options
@click.option("--small", is_flag=True, help="A reduced world (2 layers, few steps) for tests.")
@click.option("--layers", type=click.IntRange(min=1), default=None, help="Encoder layers.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="MLM pretraining steps.")
@click.option("--adapter-steps", type=click.IntRange(min=1), default=None, help="MLM steps per language adapter.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Torch CPU threads.")
@click.option("--only", type=click.Choice(["adapters", "data"]), default=None,
              help="Rebuild one step of an existing world: 'adapters' retrains the language adapters on the "
                   "encoder and tokenizer already in the folder (same seed and settings); 'data' rewrites the task "
                   "data; either keeps every other file and updates the manifest.")
def build(seed, out, small, layers, steps, adapter_steps, threads, only, **knobs):
    """Regenerate every artefact of the world from a seed (minutes on 2 CPU cores). The shipped world (v3) has
    alpha 0.5, summary 0.75, given-new 0.25 and pairs 0.5; the other knobs are 0 (off)."""
    from unfreeze_core.world import artifacts_dir
    from unfreeze_core.world.build import BuildConfig, build as run_build

    cfg = BuildConfig.small(seed) if small else BuildConfig(seed=seed)
    settings = {name: checked_knob(name, value) for name, value in knobs.items() if value is not None}
    settings.update((name, value) for name, value in (("layers", layers), ("mlm_steps", steps),
                                                      ("adapter_steps", adapter_steps), ("threads", threads))
                    if value is not None)
    for name, value in settings.items():
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
