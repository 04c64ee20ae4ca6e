"""``unfreeze run``: train and evaluate one configuration for one or more seeds."""

from __future__ import annotations

import click

from unfreeze_core.errors import UnfreezeError


@click.command()
@click.option("--task", help="Task name (default: nli, the embedded world's NLI).")
@click.option("--model", help="world | minilm (a real BERT, the real extra) | tiny | a local folder | a hub id (default: world).")
@click.option("--adapter", help="Adapter backend (default: madx).")
@click.option("--selector", help="Unfreezing selector (default: standard).")
@click.option("--k", type=int, help="Unfreezing interval in steps (default: 50).")
@click.option("--steps", type=int, help="Training budget in optimizer steps (default: 600).")
@click.option("--epochs", type=float, help="Training budget in epochs (instead of --steps).")
@click.option("--lr", type=float, help="Peak learning rate (default: 1e-3).")
@click.option("--lr-schedule", type=click.Choice(["linear", "constant"]), help="Default: linear, no warm-up.")
@click.option("--batch-size", type=int, help="Batch of one optimizer step, split over processes and --grad-accum (default: 32).")
@click.option("--grad-accum", type=int, help="Gradient accumulation steps (default: 1).")
@click.option("--mixed-precision", type=click.Choice(["no", "fp16", "bf16"]))
@click.option("--seed", "seed", type=int, help="One seed.")
@click.option("--seeds", "seeds", type=int, multiple=True, help="Several seeds: --seeds 1 --seeds 2, or --seeds 1 2 3.")
@click.option("--fisher", help="Fisher estimator for tracking and FUN (default: exact).")
@click.option("--fisher-every", type=int, help="Log tr(F) per unit every N steps (0: off).")
@click.option("--fisher-batches", type=int, help="Batches per tr(F) estimate when tracking (default: 40).")
@click.option("--data-dir", help="Local folder with <lang>/<split>.jsonl in the hub schema.")
@click.option("--languages", help="Comma-separated evaluation languages.")
@click.option("-o", "options", multiple=True, metavar="KEY=VALUE", help="Plugin option, e.g. -o units=0,1 or -o selector.units=0,1.")
@click.option("--config", "config_file", type=click.Path(), help="YAML file of settings; flags override it.")
@click.option("--output-dir", help="Where run directories go (default: runs/).")
@click.option("--eval-every", type=int, help="Score the train language's validation split every N steps (0: off).")
@click.option("--threads", type=int, help="CPU threads for torch (default: torch's choice).")
@click.option("--checkpoint-every", type=int, help="Save a resumable checkpoint every N steps (default: 100; 0: off).")
@click.option("--report-to", "report_to", multiple=True, metavar="TRACKER",
              help="Experiment tracker (tensorboard, wandb, mlflow, trackio); several allowed: --report-to a --report-to b or a,b.")
@click.option("--resume", "resume_dir", type=click.Path(),
              help="Continue the seed run in this folder from its checkpoint (with its own "
                   "config.yaml; only --threads may be given too).")
@click.argument("more_seeds", nargs=-1, type=int, required=False)
def run(config_file, options, seed, seeds, more_seeds, data_dir, languages, resume_dir, **flags):
    """Train a task adapter with scheduled unfreezing and evaluate it zero-shot per language."""
    from unfreeze_core.grid import build_config
    from unfreeze_core.runner import resume, run_all
    from unfreeze_core.saved_state import RESUME_MAY_CHANGE

    if resume_dir:
        given = [name for name, value in (("--config", config_file), ("-o", options), ("--seed", seed),
                                          ("--seeds", seeds or more_seeds), ("--data-dir", data_dir),
                                          ("--languages", languages)) if value not in (None, ())]  # 0 is a value
        given += ["--" + name.replace("_", "-") for name, value in flags.items()
                  if value not in (None, ()) and name not in RESUME_MAY_CHANGE]  # () : a multiple option not given
        if given:
            raise UnfreezeError(f"{given[0]} cannot be given with --resume: a run continues with the configuration "
                                f"it was started with (only {', '.join('--' + f for f in RESUME_MAY_CHANGE)} may change)")
        resume(resume_dir, threads=flags.get("threads"))
        return
    all_seeds = [*([seed] if seed is not None else []), *seeds, *more_seeds]
    if more_seeds and not seeds:
        raise click.UsageError("unexpected arguments: " + " ".join(map(str, more_seeds)))
    flags["seeds"] = all_seeds or None
    flags["report_to"] = [n.strip() for names in flags.get("report_to") or () for n in names.split(",") if n.strip()] or None
    options = list(options)
    if data_dir:
        options.append(f"task.data_dir={data_dir}")
    if languages:
        options.append(f"task.languages={languages}")
    config, pairs = build_config(config_file, flags, options)
    run_all(config, pairs)
