"""Run a configuration for every seed: run directories, provenance, progress, tables."""

from __future__ import annotations

import json
import logging

import yaml

from .components import build
from .config import RunConfig
from .plugins import get_plugins
from .results import aggregate, new_group_dir


def make_progress(console):
    """A rich progress bar showing step, loss, trainable units and the last unfreeze."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]}"), TextColumn("units {task.fields[units]}"),
                        TextColumn("last unfreeze {task.fields[last]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, transient=False)
    return progress


def quiet_libraries() -> None:
    """Keep the libraries' info chatter and progress bars out of the run's own progress display."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    logging.getLogger("adapters").setLevel(logging.ERROR)


def run_all(config: RunConfig, option_pairs: list[tuple] = (), console=None) -> list[dict]:
    from accelerate import Accelerator
    from rich.console import Console

    from .tables import print_rows, print_seed
    from .training import Trainer

    quiet_libraries()
    console = console or Console(stderr=False)
    plugins = get_plugins()
    parts = build(config, plugins, option_pairs)
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    group = new_group_dir(config.output_dir, f"{config.task}-{config.adapter}-{config.selector}")
    if accelerator.num_processes > 1:  # every rank writes into the main rank's folder
        from accelerate.utils import broadcast_object_list

        group = broadcast_object_list([group])[0]
    results = []
    for seed in config.seeds:
        run_dir = group / f"seed{seed}"
        if accelerator.is_main_process:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.yaml").write_text(yaml.safe_dump({**config.as_dict(), "seeds": [seed]}, sort_keys=False))
            (run_dir / "plugins.json").write_text(json.dumps(parts.provenance, indent=1) + "\n")
        plugins.hook.on_run_start(run_dir=str(run_dir), config=config)
        progress = make_progress(console) if accelerator.is_main_process else None
        update = None
        if progress:
            bar = progress.add_task(f"seed {seed}", total=None, loss="-", units="-", last="-")

            def update(step, steps, loss, trainable, last, _bar=bar):
                last_text = f"{last[1]} @ {last[0]}" if last else "-"
                progress.update(_bar, completed=step, total=steps, loss=f"{loss:.3f}",
                                units=f"{len(trainable)}", last=last_text)

            progress.start()
        try:
            result = Trainer(config, parts, accelerator, seed, run_dir, plugins.hook, update).run()
        finally:
            if progress:
                progress.stop()
        if accelerator.is_main_process:
            print_seed(result, console)
            results.append(result)
            console.print(f"run directory: {run_dir}")
    if accelerator.is_main_process and len(results) > 1:
        print_rows(aggregate(results), console)
    return results
