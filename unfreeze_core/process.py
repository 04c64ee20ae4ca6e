"""What a run's process sets up and tears down around its seeds: library log levels, torch's threads, the
``Accelerator`` (precision, trackers, gradient accumulation, gloo on CPU) and the end of the process group."""

from __future__ import annotations

import logging

from .config import RunConfig
from .trackers import accelerator_kwargs


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


def cpu_processes() -> bool:
    """Several processes (torchrun) and no GPU: accelerate must be told to use gloo on CPU, or every process
    would train alone."""
    import os

    import torch

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def accumulation(steps: int):
    """accelerate's gradient accumulation over ``steps`` micro-batches, counted by micro-batch only: an
    optimizer step of unfreeze spans epoch boundaries (``--epochs`` counts micro-batches, see
    ``training.total_steps``), so the end of the loader must not force a sync (``sync_with_dataloader``)."""
    from accelerate.utils import GradientAccumulationPlugin

    return GradientAccumulationPlugin(num_steps=steps, sync_with_dataloader=False, adjust_scheduler=False)


def make_accelerator(config: RunConfig, project_dir):
    """The run's Accelerator: its precision, its trackers (``--report-to``), ``--grad-accum`` and gloo on CPU
    under torchrun."""
    from accelerate import Accelerator

    return Accelerator(mixed_precision=config.mixed_precision, cpu=cpu_processes(),
                       gradient_accumulation_plugin=accumulation(config.grad_accum),
                       **accelerator_kwargs(config.report_to, project_dir))


def close(accelerator) -> None:
    """Under several processes, end the process group together: gloo's threads left running at exit can
    abort a process ("terminate called without an active exception") after a run that succeeded."""
    if accelerator.num_processes > 1:
        accelerator.wait_for_everyone()
        accelerator.state.destroy_process_group()
