"""Run a configuration for every seed: run directories, provenance, progress, tables."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import yaml

from .components import build
from .config import RunConfig, build_config
from .errors import UnfreezeError
from .plugins import get_plugins
from .results import aggregate, new_group_dir
from .trackers import Trackers, accelerator_kwargs


def make_progress(console):
    """A rich progress bar showing step, loss, trainable units and the last unfreeze."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]}"), TextColumn("trainable {task.fields[units]}"),
                        TextColumn("last {task.fields[last]}"), TimeElapsedColumn(), TimeRemainingColumn(),
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


def set_threads(config: RunConfig) -> None:
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)


def run_all(config: RunConfig, option_pairs: list[tuple] = (), console=None) -> list[dict]:
    """Every seed of ``config`` in a new group folder; a table per seed and one over seeds."""
    from accelerate import Accelerator
    from rich.console import Console

    from .tables import print_rows

    quiet_libraries()
    set_threads(config)
    console = console or Console()
    plugins = get_plugins()
    parts = build(config, plugins, option_pairs)
    accelerator = Accelerator(mixed_precision=config.mixed_precision,
                              **accelerator_kwargs(config.report_to, config.output_dir))
    group = new_group_dir(config.output_dir, f"{config.task}-{config.adapter}-{config.selector}")
    if accelerator.num_processes > 1:  # every rank writes into the main rank's folder
        from accelerate.utils import broadcast_object_list

        group = broadcast_object_list([group])[0]
    results = [run_seed(config, parts, accelerator, seed, group / f"seed{seed}", console) for seed in config.seeds]
    results = [r for r in results if r is not None]
    if len(results) > 1:
        print_rows(aggregate(results), console)
    return results


def resume(run_dir, console=None) -> dict | None:
    """Continue the seed run in ``run_dir`` from its checkpoint, with the configuration it was started with."""
    from accelerate import Accelerator
    from rich.console import Console

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UnfreezeError(f"{run_dir} is not a seed's run directory (no config.yaml)")
    quiet_libraries()
    config, _ = build_config(run_dir / "config.yaml", {}, [])
    set_threads(config)
    parts = build(config, get_plugins())
    accelerator = Accelerator(mixed_precision=config.mixed_precision,
                              **accelerator_kwargs(config.report_to, run_dir.parent.parent))
    return run_seed(config, parts, accelerator, config.seeds[0], run_dir, console or Console(), resume=True)


def run_seed(config, parts, accelerator, seed: int, run_dir: Path, console, resume: bool = False) -> dict | None:
    """Train and evaluate one seed with a progress bar; the result on the main process, else None."""
    from .tables import print_seed
    from .training import Trainer

    plugins = get_plugins()
    if accelerator.is_main_process and not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump({**config.as_dict(), "seeds": [seed]}, sort_keys=False))
        (run_dir / "plugins.json").write_text(json.dumps(parts.provenance, indent=1) + "\n")
    plugins.hook.on_run_start(run_dir=str(run_dir), config=config)
    trackers = Trackers(accelerator, config, seed, run_dir) if config.report_to else None
    if trackers:
        plugins.register(trackers, name="unfreeze-trackers")
    progress = make_progress(console) if accelerator.is_main_process else None
    update = None
    if progress:
        bar = progress.add_task(f"seed {seed}", total=None, loss="-", units="-", last="-")

        def update(step, steps, loss, trainable, last):
            if not last:
                last_text = "-"
            else:
                step_at, units = last
                last_text = (",".join(map(str, units)) if len(units) <= 3 else f"{len(units)} units") + f" @{step_at}"
            progress.update(bar, completed=step, total=steps, loss=f"{loss:.3f}", units=f"{len(trainable)}",
                            last=last_text)

        progress.start()
    try:
        result = Trainer(config, parts, accelerator, seed, run_dir, plugins.hook, update).run(resume=resume)
    finally:
        if progress:
            progress.stop()
        if trackers:
            plugins.unregister(trackers)
            trackers.finish()
    if accelerator.is_main_process:
        print_seed(result, console)
        console.print(f"run directory: {run_dir}")
    return result
