"""Launchers run a sweep's cells somewhere; ``local`` is built in, Ray and Slurm are plugins.

A launcher gets the cells still to run as ``Job``s and reports each one's state through
``report(cell_id, state, error, job=...)`` with state ``pending``, ``running``, ``done`` or ``failed``
(error: one line) and ``job`` the id of what it submitted (a pid, a Ray task, a Slurm job), which
``sweep.json`` keeps. It never decides what runs: the sweep skips finished cells and marks cells to
resume beforehand. A driver started again while cells of an earlier driver are still queued or running
hands those to ``wait`` (they carry ``Job.job_id``) instead of submitting them again.

No cell outlives its driver: the local launcher's cell processes get SIGTERM when the driver dies
(``PR_SET_PDEATHSIG``, Linux), stop at a step boundary with a checkpoint, and each holds its run
folder's lock, so a second writer is refused. On SIGINT/SIGTERM the driver passes the signal on to
its running cells (each in its own process group, so a terminal's Ctrl-C reaches them once) and waits
for them to checkpoint.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .api import Plugin
from .hookspecs import hookimpl

if TYPE_CHECKING:  # grid imports config and yaml: not on `unfreeze plugins`' path
    from .grid import Resources

Report = Callable[..., None]
"""``report(cell_id, state, error=None, job=None)``."""

GRACE_S = 120.0
"""How long a driver that was stopped waits for its cells to checkpoint and stop."""
WAIT_ENV, WAIT_S = "UNFREEZE_WAIT_S", 24 * 3600.0
"""The longest a driver waits for cells of an earlier driver (``Launcher.wait_s``; the env var for tests)."""
SAY_ENV, SAY_S = "UNFREEZE_WAIT_REPORT_S", 60.0
"""How often ``wait`` says what it waits for."""


def _seconds(env: str, default: float) -> float:
    from .limits import MAX_SECONDS

    try:
        value = float(os.environ.get(env, default))
    except ValueError:
        return default
    return value if 0 < value <= MAX_SECONDS else default


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


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
    job_id: str | None = None
    """The id an earlier driver's launcher reported for this cell (``wait`` waits for it)."""

    def __post_init__(self):
        self.log.parent.mkdir(parents=True, exist_ok=True)  # the contract: a launcher gets a log folder that exists

    def command(self, threads: int | None = None) -> list[str]:
        from .cell import command

        return command(self.run_dir, self.resources.processes, threads)


class Launcher(Plugin):
    """Runs jobs and reports their states; ``Options`` come from the grid's ``launcher:`` block and ``-l k=v``."""

    poll_s = 1.0

    def launch(self, jobs: list[Job], report: Report) -> None:
        raise NotImplementedError

    def active(self, job: Job) -> bool:
        """Whether ``job.job_id``, submitted by an earlier driver, is still queued or running. By default: a live
        process of this host holds the cell's run folder lock (a cell process, or a Ray worker running it)."""
        from .rundir import holder

        return holder(job.run_dir) is not None

    def check(self) -> None:
        """Refuse (UnfreezeError, one line) before anything runs when this launcher cannot run here."""

    def wait_s(self) -> float:
        """The longest ``wait`` waits for an earlier driver's cells (``UNFREEZE_WAIT_S``, default a day)."""
        return _seconds(WAIT_ENV, WAIT_S)

    def wait(self, jobs: list[Job], report: Report, say: Callable[[str], None] | None = None) -> None:
        """Wait for cells an earlier driver submitted (``job.job_id``) until they end; each is done if its run
        finished, else failed (a rerun of the sweep resumes it). Every ``UNFREEZE_WAIT_REPORT_S`` seconds (a
        minute) ``say`` gets one line of what it waits for; after ``wait_s()`` it gives up: the cells still
        held are failed with one line (their jobs are left running)."""
        from .errors import UnfreezeError
        from .rundir import RunDir

        say = say or _stderr
        pending = list(jobs)
        for job in pending:
            report(job.id, "running", None, job=job.job_id)
        start = time.monotonic()
        bound, every = self.wait_s(), _seconds(SAY_ENV, SAY_S)
        said = start
        while pending:
            for job in list(pending):
                try:
                    if self.active(job):
                        continue
                except UnfreezeError as exc:  # a lock that is not a lock file: this cell cannot run until it is gone
                    pending.remove(job)
                    report(job.id, "failed", str(exc), job=job.job_id)
                    continue
                pending.remove(job)
                if RunDir(job.run_dir).finished():
                    report(job.id, "done", None, job=job.job_id)
                else:
                    report(job.id, "failed", f"job {job.job_id} of an earlier driver ended without results; "
                                             f"rerun the sweep to resume it", job=job.job_id)
            if not pending:
                break
            now = time.monotonic()
            if now - start >= bound:
                for job in pending:
                    report(job.id, "failed", f"still held by {self._holder(job)} after {now - start:.0f} s of waiting "
                                             f"(the bound is {bound:g} s, {WAIT_ENV}); if that process is gone, "
                                             f"delete {Path(job.run_dir) / '.unfreeze.lock'} and rerun the sweep",
                           job=job.job_id)
                return
            if now - said >= every:
                said = now
                say(f"waiting for {len(pending)} cell(s) of an earlier driver ({now - start:.0f} s of at most "
                    f"{bound:g} s): " + "; ".join(f"{j.id} held by {self._holder(j)}" for j in pending[:3])
                    + (" ..." if len(pending) > 3 else ""))
            time.sleep(max(0.01, min(self.poll_s, every, bound - (now - start))))

    def _holder(self, job: Job) -> str:
        from .errors import UnfreezeError
        from .rundir import describe, holder

        try:
            record = holder(job.run_dir)
        except UnfreezeError as exc:
            return str(exc)
        return (f"job {job.job_id}" if job.job_id else "a process") + (f" ({describe(record)})" if record else "")


def this_process() -> str:
    """A job id for a cell run in this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


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
    from .signals import Interrupted
    from .plugins import blame

    job.log.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "a") as out:
        try:
            run_cell(job.run_dir, threads, console=Console(file=out, width=120))
        except Interrupted as exc:  # the driver was stopped: the sweep stops too
            out.write(f"Error: {exc}\n")
            raise
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
            from .limits import MAX_PROCESSES

            if not 0 < self.parallel <= MAX_PROCESSES:
                raise ValueError(f"parallel must be a number of processes in 1..{MAX_PROCESSES}, got {self.parallel}")

    def launch(self, jobs, report):
        if self.options.parallel == 1 and all(j.resources.processes == 1 for j in jobs):
            for job in jobs:
                report(job.id, "running", None, job=this_process())
                error = run_in_process(job, threads=None)
                report(job.id, "failed" if error else "done", error)
            return
        self._parallel(jobs, report)

    def active(self, job: Job) -> bool:
        """A cell process of an earlier driver (``host:pid``) is alive, or its run folder is still locked."""
        from .rundir import process_alive

        from .rundir import _looks_like_unfreeze

        host, _, pid = (job.job_id or "").rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and len(pid) < 9 and process_alive(int(pid)) \
                and _looks_like_unfreeze(int(pid)) is not False:  # a pid reused by another program is not the cell
            return True
        return super().active(job)

    def _parallel(self, jobs, report):
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
        slots = min(self.options.parallel, len(jobs)) or 1
        share = [cores[i::slots] or cores for i in range(slots)]
        free, running, pending = list(range(slots)), {}, list(jobs)
        try:
            while pending or running:
                while pending and free:
                    slot, job = free.pop(0), pending.pop(0)
                    proc = self._start(job, share[slot])
                    running[slot] = (job, proc)
                    report(job.id, "running", None, job=f"{socket.gethostname()}:{proc.pid}")
                time.sleep(0.2)
                for slot, (job, proc) in list(running.items()):
                    if proc.poll() is None:
                        continue
                    del running[slot]
                    free.append(slot)
                    ok = proc.returncode == 0
                    report(job.id, "done" if ok else "failed", None if ok else last_error(job.log, proc.returncode))
        except KeyboardInterrupt as stop:  # the driver was stopped: its cells checkpoint and stop too
            stop_cells([proc for _, proc in running.values()], getattr(stop, "signum", signal.SIGINT))
            raise

    @staticmethod
    def _start(job: Job, cores: list[int]) -> subprocess.Popen:
        """The cell in a new process pinned to ``cores`` with as many intra-op threads as cores."""
        threads = max(1, len(cores) // job.resources.processes)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        job.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(job.log, "a")

        def child():
            os.setpgid(0, 0)  # its own process group: a terminal's Ctrl-C reaches it once, through the driver
            die_with_parent()
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, cores)

        return subprocess.Popen(job.command(threads), stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=child, cwd=os.getcwd())


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In a child before exec: the kernel sends it ``signum`` when its parent dies (Linux ``PR_SET_PDEATHSIG``;
    elsewhere nothing), so a killed driver leaves no cell running."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, int(signum), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def stop_cells(procs: list, signum: int, grace_s: float = GRACE_S) -> None:
    """Pass ``signum`` on to running cell processes and wait for them to checkpoint and stop."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signum)
            except OSError:
                proc.send_signal(signum)
    deadline = time.time() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@hookimpl
def register_launchers(register):
    register("local", Local)
