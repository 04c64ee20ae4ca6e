"""One sweep cell: a seed's run directory, started fresh or resumed from its checkpoint.

The sweep writes the cell's resolved ``config.yaml`` into the run directory first; the cell is then
run from that file alone, in this process or in a new one::

    python -m unfreeze_core.cell RUN_DIR [--threads N]
    torchrun --nproc_per_node 4 -m unfreeze_core.cell RUN_DIR      # a cell with several processes

so every launcher (local, Ray, Slurm) runs the same thing. The run directory ends up exactly as
``unfreeze run`` writes it. A cell whose directory holds a checkpoint continues from it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import UnfreezeError, first_line
from .rundir import RunDir


def write_config(run_dir: Path, settings: dict) -> None:
    """The cell's claim on its run directory: its resolved configuration, written under the folder's lock
    (a cell process of an earlier driver that still writes it is refused, not overwritten)."""
    folder = RunDir(run_dir).create(exist_ok=True)
    with folder.lock():
        folder.write_config(settings)


def command(run_dir: Path, processes: int = 1, threads: int | None = None) -> list[str]:
    """The command that runs the cell in a new process (through torchrun for several processes)."""
    args = [str(run_dir), *(["--threads", str(threads)] if threads else [])]
    if processes > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                "-m", "unfreeze_core.cell", *args]
    return [sys.executable, "-m", "unfreeze_core.cell", *args]


def run_cell(run_dir: str | Path, threads: int | None = None, console=None) -> dict | None:
    """Train and evaluate the cell in ``run_dir`` in this process; its results (main process) or None."""
    from rich.console import Console

    from . import checkpoint, signals
    from .components import build
    from .grid import build_config
    from .plugins import get_plugins
    from .preflight import preflight
    from .process import close, make_accelerator, quiet_libraries, set_threads
    from .runner import interrupted, run_seed
    from .saved_state import check

    folder = RunDir(run_dir)
    if not folder.configured():
        raise UnfreezeError(f"{folder} holds no {folder.config.name}: not a sweep cell")
    from contextlib import nullcontext

    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun, the main process holds the folder
    with signals.handled():
        try:
            with folder.lock() if main else nullcontext():  # from the first read: a second writer is refused
                quiet_libraries()
                config, _ = build_config(folder.config, {"threads": threads}, [])
                set_threads(config)
                parts = build(config, get_plugins())
                config = parts.config  # resolved once: what the run is
                state = checkpoint.load(folder.path) if folder.resumable() else None
                if state is not None:
                    check(state, config.as_dict(), folder.path)
                preflight(config, parts, folder=folder.path)
                accelerator = make_accelerator(config, folder.path)
                result = run_seed(config, parts, accelerator, config.seeds[0], folder.path, console or Console(),
                                  resume=state or False, claimed=True)
                close(accelerator)
                return result
        except signals.Stop as stop:
            raise interrupted(stop.signum, folder.path) from None


def main(argv: list[str] | None = None) -> int:
    import argparse
    import traceback

    parser = argparse.ArgumentParser(prog="python -m unfreeze_core.cell", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    from . import signals

    signals.install()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(f"cell {args.run_dir}: pid {os.getpid()}, cores {cores}, threads {args.threads or os.environ.get('OMP_NUM_THREADS')}",
          flush=True)
    try:
        run_cell(args.run_dir, args.threads)
    except UnfreezeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"Error: interrupted by {signals.name(getattr(exc, 'signum', 2))}", file=sys.stderr)
        return signals.exit_code(exc)
    except Exception as exc:  # the traceback goes to the cell's log; the last line is what the sweep records
        traceback.print_exc()
        from .plugins import blame

        print(f"Error: {blame(exc) or type(exc).__name__ + ': ' + first_line(exc, '')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from unfreeze_core import signals as _signals

    _signals.exit_process(main())
