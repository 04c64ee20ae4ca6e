"""Run a configuration for every seed: run directories, provenance, progress, tables."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from pathlib import Path

from .components import build, run_name
from .config import RunConfig, config_yaml
from .errors import UnfreezeError, plugin_error
from .grid import build_config
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


def cpu_processes() -> bool:
    """Several processes (torchrun) and no GPU: accelerate must be told to use gloo on CPU, or every process
    would train alone."""
    import os

    import torch

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def make_accelerator(config: RunConfig, project_dir):
    """The run's Accelerator: its precision, its trackers (``--report-to``) and gloo on CPU under torchrun."""
    from accelerate import Accelerator

    return Accelerator(mixed_precision=config.mixed_precision, cpu=cpu_processes(),
                       **accelerator_kwargs(config.report_to, project_dir))


def check_output_dir(path) -> None:
    """The output folder is a writable folder, or can be made in one; nothing is left behind by the check."""
    import os
    import tempfile

    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UnfreezeError(f"--output-dir {path}: {probe} is not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".unfreeze-probe-", dir=probe))
    except OSError as exc:
        raise UnfreezeError(f"--output-dir {path}: cannot write in {probe} ({exc.strerror or exc})") from None
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UnfreezeError(f"--output-dir {path}: {probe} is not writable")


def preflight(config: RunConfig, parts, folder=None) -> None:
    """Everything that can refuse a run, checked before a model is built or a folder is made: the output
    folder (``folder``, default --output-dir), the model's config, the selector's options and the budget
    against k·L, and every data split."""
    from .models import model_config
    from .schedule import Schedule
    from .training import total_steps

    config.validate()  # again: a RunConfig made in code has not been through build_config
    check_output_dir(folder or config.output_dir)
    model = model_config(config.model)
    try:
        num_units = parts.backend.num_units(model)
    except (ValueError, UnfreezeError) as exc:
        raise plugin_error(parts.provenance, "adapter", exc) from None
    try:
        languages = parts.task.languages()
        rows = parts.task.check_data(languages, validation=bool(config.eval_every))
    except ValueError as exc:
        raise plugin_error(parts.provenance, "task", exc) from None
    if not num_units:
        return
    try:
        schedule = Schedule(parts.selector, num_units, config.k)  # runs Selector.check(num_units)
    except (ValueError, UnfreezeError) as exc:
        raise plugin_error(parts.provenance, "selector", exc) from None
    if config.steps is None and config.epochs is not None and rows is None:
        return  # the budget in steps is known once the training features are made (checked again then)
    per_step = max(1, config.batch_size // config.grad_accum)  # one process's micro-batch; total_steps divides by accum
    schedule.check_budget(total_steps(config, -(-(rows or 0) // per_step)))


def run_all(config: RunConfig, option_pairs: list[tuple] = (), console=None) -> list[dict]:
    """Every seed of ``config`` in a new group folder; a table per seed and one over seeds."""
    from rich.console import Console

    from .tables import print_rows

    quiet_libraries()
    set_threads(config)
    console = console or Console()
    plugins = get_plugins()
    parts = build(config, plugins, option_pairs)
    config = parts.config  # resolved: what config.yaml records
    accelerator = make_accelerator(config, config.output_dir)
    preflight(config, parts)  # on every process: each refuses alike, none waits for a rank that stopped
    made_output = not Path(config.output_dir).exists()
    group = new_group_dir(config.output_dir, run_name(config, parts)) if accelerator.is_main_process else None
    if accelerator.num_processes > 1:  # every rank writes into the main rank's folder
        from accelerate.utils import broadcast_object_list

        group = broadcast_object_list([group])[0]
    try:
        results = [run_seed(config, parts, accelerator, seed, group / f"seed{seed}", console)
                   for seed in config.seeds]
    finally:
        if accelerator.is_main_process:
            remove_if_empty(group)
            if made_output:
                remove_if_empty(Path(config.output_dir))
    results = [r for r in results if r is not None]
    if len(results) > 1:
        print_rows(aggregate(results), console)
    close(accelerator)
    return results


def close(accelerator) -> None:
    """Under several processes, end the process group together: gloo's threads left running at exit can
    abort a process ("terminate called without an active exception") after a run that succeeded."""
    if accelerator.num_processes > 1:
        accelerator.wait_for_everyone()
        accelerator.state.destroy_process_group()


def remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def resume(run_dir, console=None, threads: int | None = None) -> dict | None:
    """Continue the seed run in ``run_dir`` from its checkpoint, with the configuration it was started with;
    refused (one line) when there is no usable checkpoint or config.yaml no longer matches it."""
    from rich.console import Console

    from . import checkpoint

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UnfreezeError(f"{run_dir} is not a seed's run directory (no config.yaml)")
    config, _ = build_config(run_dir / "config.yaml", {}, [])
    state = checkpoint.load(run_dir)
    if state is None:
        raise UnfreezeError(f"no checkpoint to resume in {run_dir}")
    check_same_config(config, state, run_dir)
    if threads is not None:
        config = config.replace(threads=threads)
    quiet_libraries()
    set_threads(config)
    parts = build(config, get_plugins())
    config = parts.config
    preflight(config, parts, folder=run_dir)
    accelerator = make_accelerator(config, run_dir)
    result = run_seed(config, parts, accelerator, config.seeds[0], run_dir, console or Console(), resume=True)
    close(accelerator)
    return result


RESUME_MAY_CHANGE = ("threads",)
"""Settings a resume may change (``--threads``); every other one must match the checkpoint's."""


def check_same_config(config: RunConfig, state: dict, run_dir: Path) -> None:
    """Refuse to splice two trajectories: config.yaml must be the configuration the checkpoint was made with."""
    saved = state.get("config")
    if saved is None:
        return  # a checkpoint of an earlier version: it recorded no configuration
    now = json.loads(json.dumps(config.as_dict(), default=str))
    for key in sorted(set(saved) | set(now)):
        if key in RESUME_MAY_CHANGE:
            continue
        if saved.get(key) != now.get(key):
            raise UnfreezeError(f"{run_dir / 'config.yaml'} changed since the checkpoint: {key} was "
                                f"{saved.get(key)!r}, now {now.get(key)!r}; restore it to resume, or start a new run")


class Interrupted(UnfreezeError):
    """SIGINT (exit code 130) or SIGTERM (143) during a run: the last checkpoint is kept."""


STARTED = ("log.jsonl", "checkpoint.safetensors", "checkpoint.pt")


def remove_unstarted(run_dir: Path) -> None:
    """A seed folder whose run was refused or died before training (only config.yaml and plugins.json):
    remove it, so no half-made run directory is left behind."""
    if not run_dir.is_dir() or any((run_dir / name).exists() for name in STARTED):
        return
    for name in ("config.yaml", "plugins.json"):
        (run_dir / name).unlink(missing_ok=True)
    remove_if_empty(run_dir)


@contextmanager
def interruptible(run_dir: Path, trainer=None):
    """SIGINT and SIGTERM end the run with one line saying how to resume it (exit 130 / 143). In the training
    loop the trainer stops at the next step boundary and checkpoints there; elsewhere (building, evaluating),
    or at a second signal, the run stops at once and the last checkpoint is kept."""
    import signal
    import threading

    def stop(signum, frame):
        if trainer is not None and trainer.in_loop and trainer.stop_signal is None:
            trainer.stop_signal = signum
            return
        raise KeyboardInterrupt(signum)

    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        yield
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        name, code = ("SIGTERM", 143) if signum == signal.SIGTERM else ("SIGINT", 130)
        from . import checkpoint

        state = None
        try:
            state = checkpoint.load(run_dir)
        except UnfreezeError:
            pass
        if state is not None:
            message = (f"interrupted by {name}; the checkpoint of step {state['step']} is kept: "
                       f"resume with `unfreeze run --resume {run_dir}`")
        else:
            message = f"interrupted by {name} before the first checkpoint; nothing to resume in {run_dir}"
        error = Interrupted(message)
        error.exit_code = code
        raise error from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_seed(config, parts, accelerator, seed: int, run_dir: Path, console, resume: bool = False,
             claimed: bool = False) -> dict | None:
    """Train and evaluate one seed with a progress bar; the result on the main process, else None.
    ``claimed``: ``run_dir`` already exists as this seed's own (a sweep cell); otherwise it must be new."""
    from .tables import print_seed
    from .training import Trainer, batch_split

    plugins = get_plugins()
    split = batch_split(config, accelerator.num_processes)
    if accelerator.is_main_process and not resume:
        run_dir.mkdir(parents=True, exist_ok=claimed)
        (run_dir / "config.yaml").write_text(config_yaml(config, seed, split))
        (run_dir / "plugins.json").write_text(json.dumps(parts.provenance, indent=1) + "\n")
    try:  # a run refused by a plugin, or whose tracker cannot start, leaves nothing behind
        plugins.hook.on_run_start(run_dir=str(run_dir), config=config)
        trackers = Trackers(accelerator, config, seed, run_dir) if config.report_to else None
    except BaseException:
        if accelerator.is_main_process and not resume:
            remove_unstarted(run_dir)
        raise
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
            if not progress.live.is_started:  # shown from the first step: a run refused while building prints one line
                progress.start()
            progress.update(bar, completed=step, total=steps, loss=f"{loss:.3f}", units=f"{len(trainable)}",
                            last=last_text)

    try:
        trainer = Trainer(config, parts, accelerator, seed, run_dir, plugins.hook, update)
        with interruptible(run_dir, trainer):
            result = trainer.run(resume=resume)
    except BaseException:
        if accelerator.is_main_process and not resume:
            remove_unstarted(run_dir)
        raise
    finally:
        if progress:
            progress.stop()
        if trackers:
            plugins.unregister("unfreeze-trackers")
            trackers.finish()
        accelerator.free_memory()  # the next seed must not find this seed's model, optimizer and loader held
    if accelerator.is_main_process:
        print_seed(result, console)
        console.print(f"run directory: {run_dir}")
    return result
