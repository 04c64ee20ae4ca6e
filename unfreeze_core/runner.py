"""The seed loop: a configuration run for every seed (``run_all``), a seed's run continued (``resume``), and
one seed's run in its own locked run folder (``run_seed``), with its listeners (progress view, trackers, and
the results view: the seed tables, ``results_view``). The engine prints no table itself and imports nothing
of ``unfreeze_report``.

The loop itself is ``training.Trainer``; the process set-up ``process.py``; the checks that can refuse a
run ``preflight.py``; the run folder ``rundir.py``; signals ``signals.py``.
"""

from __future__ import annotations

from pathlib import Path

from . import signals
from .components import build, run_name
from .config import RunConfig, config_yaml
from .errors import UnfreezeError
from .grid import build_config
from .plugins import get_plugins
from .preflight import preflight
from .process import close, make_accelerator, quiet_libraries, set_threads  # noqa: F401  (close, quiet_libraries: used by bench/ and tests)
from .results import existing_group, new_group_dir
from .rundir import PLUGINS, RunDir
from .trackers import Trackers


def run_all(config: RunConfig, option_pairs: list[tuple] = (), console=None) -> list[dict]:
    """Every seed of ``config`` in a new group folder; a table per seed and one over seeds."""
    from rich.console import Console

    console = console or Console()
    with signals.handled():
        try:
            return _run_all(config, option_pairs, console)
        except signals.Stop as stop:  # before a seed's folder was made (building, preflight)
            raise interrupted(stop.signum, None) from None


def _run_all(config: RunConfig, option_pairs, console) -> list[dict]:
    quiet_libraries()
    set_threads(config)
    plugins = get_plugins()
    parts = build(config, plugins, option_pairs)
    config = parts.config  # resolved: what config.yaml records
    accelerator = make_accelerator(config, config.output_dir)
    preflight(config, parts)  # on every process: each refuses alike, none waits for a rank that stopped
    made_output = not Path(config.output_dir).exists()
    group = _group(config, parts) if accelerator.is_main_process else None
    if accelerator.num_processes > 1:  # every rank writes into the main rank's folder
        from accelerate.utils import broadcast_object_list

        group = broadcast_object_list([group])[0]
    view = _results_view(plugins, console) if accelerator.is_main_process else None
    try:
        results = [run_seed(config, parts, accelerator, seed, group / f"seed{seed}", console)
                   for seed in config.seeds]
    finally:
        if accelerator.is_main_process:
            _remove_if_empty(group)
            if made_output:
                _remove_if_empty(Path(config.output_dir))
        _end_listener(plugins, RESULTS_VIEW, view)
    results = [r for r in results if r is not None]
    close(accelerator)
    return results


RESULTS_VIEW = "unfreeze-results"
"""The name the results view (the seed tables, ``results_view`` hook) is registered under, for a run's seeds."""


def _results_view(plugins, console):
    """The first ``results_view`` registered as a listener of every seed's ``on_run_end`` (None: no view)."""
    view = plugins.hook.results_view(console=console)
    if view is not None:
        plugins.register(view, name=RESULTS_VIEW)
    return view


def _end_listener(plugins, name: str, listener) -> None:
    if listener is None:
        return
    plugins.unregister(name=name)
    end = getattr(listener, "finish", None) or getattr(listener, "close", None)
    if end:
        end()


def _group(config: RunConfig, parts) -> Path:
    """The group folder of this run's seeds: an earlier run's of the same identity that holds none of these
    seeds (``--seed 2`` after ``--seed 1`` goes beside seed1), else a new one (``name``, ``name-2`` ...)."""
    from .identity import fingerprint, run_identity

    name = run_name(config, parts)
    earlier = existing_group(config.output_dir, name, fingerprint(run_identity(config, parts)), config.seeds)
    return earlier if earlier is not None else new_group_dir(config.output_dir, name)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def resume(run_dir, console=None, threads: int | None = None) -> dict | None:
    """Continue the seed run in ``run_dir`` from its checkpoint, with the configuration it was started with.
    Refused (one line, nothing changed) when another process writes the folder, when there is no usable
    checkpoint, or when the checkpoint or config.yaml is not what this run wrote."""
    from rich.console import Console

    from . import checkpoint
    from .saved_state import check

    import os
    from contextlib import nullcontext

    folder = RunDir(run_dir)
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun the main process is the one writer; the others
    with signals.handled():                      # follow it (they read the folder, never write or lock it)
        if not folder.configured():
            raise UnfreezeError(f"{folder} is not a seed's run directory (no {folder.config.name})")
        with folder.lock() if main else nullcontext():
            config, _ = build_config(folder.config, {}, [])
            state = checkpoint.load(folder.path)
            if state is None:
                raise UnfreezeError(f"no checkpoint to resume in {folder}")
            if threads is not None:
                config = config.replace(threads=threads)
            quiet_libraries()
            set_threads(config)
            parts = build(config, get_plugins())
            config = parts.config  # resolved once: what the checkpoint recorded
            check(state, config.as_dict(), folder.path)
            preflight(config, parts, folder=folder.path)
            accelerator = make_accelerator(config, folder.path)
            result = run_seed(config, parts, accelerator, config.seeds[0], folder.path, console or Console(),
                              resume=state)
            close(accelerator)
            return result


def run_seed(config, parts, accelerator, seed: int, run_dir: Path, console, resume: bool | dict = False,
             claimed: bool = False) -> dict | None:
    """Train and evaluate one seed in ``run_dir``, holding its lock; the result on the main process, else None.
    ``claimed``: ``run_dir`` already exists as this seed's own (a sweep cell); otherwise it must be new.
    ``resume``: continue from its checkpoint (True, or the checkpoint's state already read and checked).
    A signal ends it with ``signals.Interrupted``: the one line of the state it left."""
    from .training import Trainer, batch_split

    plugins = get_plugins()
    folder, main = RunDir(run_dir), accelerator.is_main_process
    lock = None
    with signals.handled():
        try:
            if main:
                if not resume:
                    folder.create(exist_ok=claimed)
                lock = folder.lock().acquire()
                if not resume:
                    folder.write_config(config_yaml(config, seed, batch_split(config, accelerator.num_processes)))
                    folder.write_json(PLUGINS, parts.provenance)
            result = _train(config, parts, accelerator, seed, folder, console, plugins, resume, Trainer)
        except signals.Stop as stop:
            if main and not resume:
                folder.remove_unstarted(lock)
            elif lock:
                lock.release()
            raise interrupted(stop.signum, folder.path if main and folder.path.is_dir() else None) from None
        except BaseException:
            if main and not resume:
                folder.remove_unstarted(lock)
            elif lock:
                lock.release()
            raise
        if lock:
            lock.release()
    if main:
        console.print(f"run directory: {run_dir}")
    return result


def _train(config, parts, accelerator, seed, folder: RunDir, console, plugins, resume, Trainer):
    """The seed's listeners (progress view, trackers) around the Trainer."""
    plugins.hook.on_run_start(run_dir=str(folder), config=config)
    listeners = []
    if config.report_to:
        listeners.append(("unfreeze-trackers", Trackers(accelerator, config, seed, folder.path)))
    view = plugins.hook.progress_view(console=console, seed=seed) if accelerator.is_main_process else None
    if view is not None:
        listeners.append(("unfreeze-progress", view))
    if accelerator.is_main_process and plugins.manager.get_plugin(RESULTS_VIEW) is None:  # one seed alone (resume, a cell)
        tables = plugins.hook.results_view(console=console)
        if tables is not None:
            listeners.append((RESULTS_VIEW, tables))
    for name, listener in listeners:
        plugins.register(listener, name=name)
    try:
        return Trainer(config, parts, accelerator, seed, folder.path, plugins.hook).run(resume=resume)
    finally:
        for name, listener in reversed(listeners):
            _end_listener(plugins, name, listener)
        accelerator.free_memory()  # the next seed must not find this seed's model, optimizer and loader held


def interrupted(signum: int, run_dir: str | Path | None, unstarted: str = "nothing was written") -> signals.Interrupted:
    """The one line of a stopped run, from what ``run_dir`` holds now (None: no run folder was made)."""
    from . import checkpoint

    label = signals.name(signum)
    folder = RunDir(run_dir) if run_dir is not None else None
    if folder is None or not folder.path.is_dir():
        message = f"interrupted by {label} before the run started; {unstarted}"
    elif folder.finished():
        message = f"interrupted by {label} after the run finished; its results are in {folder}"
    else:
        try:
            state = checkpoint.load(folder.path)
            step = state["step"] if state is not None else None
        except UnfreezeError as exc:
            step, message = None, f"interrupted by {label}; the checkpoint in {folder} cannot be resumed ({exc})"
        else:
            if step is not None:
                message = (f"interrupted by {label}; the checkpoint of step {step} is kept: "
                           f"resume with `unfreeze run --resume {folder}`")
            else:
                message = f"interrupted by {label} before the first checkpoint; nothing to resume in {folder}"
    error = signals.Interrupted(message)
    error.exit_code = signals.CODES[signum]
    return error
