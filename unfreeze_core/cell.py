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

import yaml

from .checkpoint import FILE as CHECKPOINT
from .errors import UnfreezeError, first_line


def write_config(run_dir: Path, settings: dict) -> None:
    """The cell's claim on its run directory: the config.yaml that run_seed would write."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))


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

    from .components import build
    from .grid import build_config
    from .plugins import get_plugins
    from .runner import close, make_accelerator, preflight, quiet_libraries, run_seed, set_threads

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UnfreezeError(f"{run_dir} holds no config.yaml: not a sweep cell")
    quiet_libraries()
    config, _ = build_config(run_dir / "config.yaml", {"threads": threads}, [])
    set_threads(config)
    parts = build(config, get_plugins())
    config = parts.config
    preflight(config, parts, folder=run_dir)
    accelerator = make_accelerator(config, run_dir)
    resume = (run_dir / CHECKPOINT).is_file()
    result = run_seed(config, parts, accelerator, config.seeds[0], run_dir, console or Console(), resume=resume,
                      claimed=True)
    close(accelerator)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse
    import traceback

    parser = argparse.ArgumentParser(prog="python -m unfreeze_core.cell", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(f"cell {args.run_dir}: pid {os.getpid()}, cores {cores}, threads {args.threads or os.environ.get('OMP_NUM_THREADS')}",
          flush=True)
    try:
        run_cell(args.run_dir, args.threads)
    except UnfreezeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the traceback goes to the cell's log; the last line is what the sweep records
        traceback.print_exc()
        from .plugins import blame

        print(f"Error: {blame(exc) or type(exc).__name__ + ': ' + first_line(exc, '')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
