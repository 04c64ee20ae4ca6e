"""Launchers run a sweep's cells somewhere; ``local`` is built in, Ray and Slurm are plugins.

A launcher gets the cells still to run as ``Job``s and reports each one's state through
``report(job_id, state, error)`` with state ``running``, ``done`` or ``failed`` (error: one line).
It never decides what runs: the sweep skips finished cells and marks cells to resume beforehand.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .api import Plugin
from .hookspecs import hookimpl

if TYPE_CHECKING:  # grid imports config and yaml: not on `unfreeze plugins`' path
    from .grid import Resources

Report = Callable[[str, str, "str | None"], None]


@dataclass
class Job:
    """One cell to run: its run directory (config.yaml already written) and what it needs."""

    id: str
    run_dir: Path
    resources: Resources
    log: Path
    """Where the cell's output goes (below the sweep folder, not in the run directory)."""
    resume: bool = False
    sweep_dir: Path | None = None
    """The sweep folder (a launcher may keep its own files there)."""

    def __post_init__(self):
        self.log.parent.mkdir(parents=True, exist_ok=True)  # the contract: a launcher gets a log folder that exists

    def command(self, threads: int | None = None) -> list[str]:
        from .cell import command

        return command(self.run_dir, self.resources.processes, threads)


class Launcher(Plugin):
    """Runs jobs and reports their states; ``Options`` come from the grid's ``launcher:`` block and ``-l k=v``."""

    def launch(self, jobs: list[Job], report: Report) -> None:
        raise NotImplementedError


def last_error(log: Path, returncode: int) -> str:
    """The one line a failed cell process left last in its log (``Error: ...``), or its exit status."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    errors = [line for line in lines if line.startswith("Error:")]
    if errors:
        return errors[-1].removeprefix("Error:").strip()
    return lines[-1] if lines else f"exited with status {returncode}"


def run_in_process(job: Job, threads: int | None = None) -> str | None:
    """Run the cell here, its output into its log; None on success, else the one-line error."""
    import traceback

    from rich.console import Console

    from .cell import run_cell
    from .errors import UnfreezeError, first_line
    from .plugins import blame

    job.log.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "a") as out:
        try:
            run_cell(job.run_dir, threads, console=Console(file=out, width=120))
        except UnfreezeError as exc:
            out.write(f"Error: {exc}\n")
            return str(exc)
        except Exception as exc:  # one cell's crash must not stop the sweep
            traceback.print_exc(file=out)
            return blame(exc) or f"{type(exc).__name__}: {first_line(exc, '')}"  # the failing plugin, when one
    return None


class Local(Launcher):
    """Cells one after another in this process, or ``parallel`` processes each pinned to its share of cores."""

    @dataclass
    class Options:
        parallel: int = 1
        """Cells run at once (each a process of its own); 1 runs them one by one in this process."""

        def __post_init__(self):
            if self.parallel <= 0:
                raise ValueError("parallel must be a positive number of processes")

    def launch(self, jobs, report):
        if self.options.parallel == 1 and all(j.resources.processes == 1 for j in jobs):
            for job in jobs:
                report(job.id, "running", None)
                error = run_in_process(job, threads=None)
                report(job.id, "failed" if error else "done", error)
            return
        self._parallel(jobs, report)

    def _parallel(self, jobs, report):
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
        slots = min(self.options.parallel, len(jobs)) or 1
        share = [cores[i::slots] or cores for i in range(slots)]
        free, running, pending = list(range(slots)), {}, list(jobs)
        while pending or running:
            while pending and free:
                slot, job = free.pop(0), pending.pop(0)
                running[slot] = (job, self._start(job, share[slot]))
                report(job.id, "running", None)
            time.sleep(0.2)
            for slot, (job, proc) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[slot]
                free.append(slot)
                ok = proc.returncode == 0
                report(job.id, "done" if ok else "failed", None if ok else last_error(job.log, proc.returncode))

    @staticmethod
    def _start(job: Job, cores: list[int]) -> subprocess.Popen:
        """The cell in a new process pinned to ``cores`` with as many intra-op threads as cores."""
        threads = max(1, len(cores) // job.resources.processes)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        job.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(job.log, "a")

        def pin():
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, cores)

        return subprocess.Popen(job.command(threads), stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=pin, cwd=os.getcwd())


@hookimpl
def register_launchers(register):
    register("local", Local)


