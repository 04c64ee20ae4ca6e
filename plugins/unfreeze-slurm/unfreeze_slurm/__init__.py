"""Slurm launcher: each sweep cell a Slurm job through submitit, checkpointed and requeued on preemption.

The grid's ``launcher:`` block (or ``-l key=value``) gives ``partition``, ``time`` (minutes or
``[D-]HH:MM:SS``), ``account``, ``mem_gb``, ``signal_delay_s`` and ``max_requeues``; CPUs, GPUs and
processes come from the grid's ``resources``. ``cluster: local`` runs the same jobs through submitit's
local executor (real subprocesses, same code path): how the tests run it.

Preemption: Slurm sends the job SIGUSR2 (``--signal``, submitit's default) before it kills or requeues
it. submitit's handler calls ``CellJob.checkpoint``: the cell process gets SIGTERM and is given
``grace_s`` seconds; the cell keeps the last checkpoint in its run directory (written every
``checkpoint_every`` steps), and the requeued job runs the cell again, which resumes from it.

A driver started again (after Ctrl-C, kill -9 or a lost login) finds each cell's Slurm job id in
``sweep.json``; a job still pending or running is waited for, not submitted a second time.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import submitit
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.launchers import Launcher

__version__ = "0.1.0"


def minutes(value) -> int:
    """Slurm's time: minutes as a number, or ``[D-]HH:MM[:SS]`` / ``MM:SS`` strings."""
    if isinstance(value, (int, float)) or str(value).strip().isdigit():
        return max(1, int(value))
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d+)(?::(\d+))?", str(value).strip())
    if not match:
        raise ValueError(f"time must be minutes or [D-]HH:MM:SS, got {value!r}")
    days, a, b, c = (int(x) if x else 0 for x in match.groups())
    hours, mins, secs = (a, b, c) if match.group(4) is not None else (0, a, b)
    return max(1, days * 1440 + hours * 60 + mins + (1 if secs else 0))


class CellJob(submitit.helpers.Checkpointable):
    """What one Slurm job runs: the cell in a child process; on preemption, stop it and requeue."""

    def __init__(self, job, threads: int, grace_s: float = 60.0):
        self.job, self.threads, self.grace_s = job, threads, grace_s
        self.child = None

    def __call__(self):
        from unfreeze_core.launchers import last_error
        from unfreeze_core.rundir import CHECKPOINT as FILE

        job = self.job
        job.log.parent.mkdir(parents=True, exist_ok=True)
        resuming = (job.run_dir / FILE).is_file()
        with open(job.log, "a") as out:
            out.write(f"{'resuming from ' + FILE if resuming else 'starting'} in {job.run_dir}\n")
            out.flush()
            self.child = subprocess.Popen(job.command(self.threads), stdout=out, stderr=subprocess.STDOUT)
            # Wait in a helper thread: the preemption handler runs in this (main) thread and must be able to
            # wait for the child itself, which a Popen.wait() interrupted in the same thread would block.
            waiter = threading.Thread(target=self.child.wait, daemon=True)
            waiter.start()
            while waiter.is_alive():
                waiter.join(0.5)
            code = self.child.returncode
        if code != 0:
            raise RuntimeError(last_error(job.log, code))
        return str(job.run_dir)

    def checkpoint(self, *args, **kwargs):
        """Preempted or timed out: stop the cell (its checkpoint stays on disk) and requeue a fresh CellJob."""
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=60)
        with open(self.job.log, "a") as out:
            out.write("preempted: requeued, will resume from its last checkpoint\n")
        return submitit.helpers.DelayedSubmission(CellJob(self.job, self.threads, self.grace_s))


class SlurmLauncher(Launcher):
    @dataclass
    class Options:
        partition: str | None = None
        time: str = "24:00:00"
        account: str | None = None
        mem_gb: int | None = None
        signal_delay_s: int = 120
        """Seconds before the time limit that Slurm sends SIGUSR2 (time to stop and requeue)."""
        max_requeues: int = 3
        """How often a cell may be requeued after a timeout (preemptions do not count)."""
        grace_s: float = 60.0
        """Seconds the cell process gets to stop after SIGTERM."""
        cluster: str | None = None
        """None: Slurm; ``local``: submitit's local executor (tests, a workstation)."""
        folder: str | None = None
        """submitit's job folder (default: the sweep folder's ``slurm/``)."""
        poll_s: float = 5.0

        def __post_init__(self):
            from unfreeze_core.limits import MAX_COUNT, MAX_SECONDS

            if minutes(self.time) > 366 * 1440:
                raise ValueError(f"time is {self.time}, above the largest value unfreeze can honour (366 days)")
            for name in ("grace_s", "poll_s"):
                if not 0 < getattr(self, name) <= MAX_SECONDS:
                    raise ValueError(f"{name} must be in (0, {MAX_SECONDS:g}] seconds, got {getattr(self, name)}")
            for name in ("signal_delay_s", "max_requeues", "mem_gb"):
                value = getattr(self, name)
                if value is not None and not 0 <= value <= MAX_COUNT:
                    raise ValueError(f"{name} is {value}, outside 0..{MAX_COUNT}")
            if self.cluster not in (None, "local", "slurm", "debug"):
                raise ValueError(f"cluster must be slurm or local, got {self.cluster!r}")

    def check(self):
        """No Slurm here (no ``sbatch``, or ``sinfo`` cannot reach a controller) and the grid does not say
        ``cluster: local``: one line, before anything runs (submitit would silently run the cells locally)."""
        import shutil

        from unfreeze_core.errors import UnfreezeError

        if self.options.cluster in ("local", "debug"):
            return
        advice = ("run the sweep where Slurm is reachable, or set `cluster: local` in the grid's launcher block "
                  "(or -l cluster=local) to run the cells through submitit's local executor")
        if shutil.which("sbatch") is None:
            raise UnfreezeError(f"--launcher slurm: no Slurm here (sbatch is not on PATH); {advice}")
        try:
            probe = subprocess.run(["sinfo", "--noheader", "--format=%P"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UnfreezeError(f"--launcher slurm: Slurm is not reachable (sinfo: {exc}); {advice}") from None
        if probe.returncode != 0:
            why = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
            raise UnfreezeError(f"--launcher slurm: Slurm is not reachable (sinfo: {why}); {advice}")

    def wait_s(self) -> float:
        """A cell of an earlier driver may run its time limit once per requeue: wait that long, and an hour."""
        import os

        from unfreeze_core.launchers import WAIT_ENV

        if os.environ.get(WAIT_ENV):
            return super().wait_s()
        return minutes(self.options.time) * 60.0 * (self.options.max_requeues + 1) + 3600.0

    def executor(self, folder, resources):
        o = self.options
        ex = submitit.AutoExecutor(folder=folder, cluster=o.cluster, slurm_max_num_timeout=o.max_requeues)
        params = dict(timeout_min=minutes(o.time), cpus_per_task=resources.cpus, tasks_per_node=1, nodes=1,
                      gpus_per_node=resources.gpus or None, mem_gb=o.mem_gb, name="unfreeze-cell",
                      slurm_partition=o.partition, slurm_account=o.account, slurm_signal_delay_s=o.signal_delay_s)
        if ex.cluster == "local":
            params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
        ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
        return ex

    def folder(self, job) -> str:
        return self.options.folder or str((job.sweep_dir or job.run_dir.parent) / "slurm")

    def active(self, job) -> bool:
        """The Slurm job an earlier driver submitted (its id in sweep.json) is still pending or running; with
        ``cluster: local`` the id is the job's process."""
        from unfreeze_core.rundir import process_alive

        if not job.job_id:
            return super().active(job)
        if self.options.cluster == "local":
            return (job.job_id.isdigit() and len(job.job_id) < 9 and process_alive(int(job.job_id))) \
                or super().active(job)
        state = (submitit.SlurmJob(self.folder(job), job.job_id).state or "UNKNOWN").split()[0]
        if state in ENDED:  # Slurm knows the job is over: its lock (left by a killed cell) does not keep it alive
            return False
        return state in ACTIVE or super().active(job)

    def launch(self, jobs, report):
        if not jobs:
            return
        folder = self.folder(jobs[0])
        self.submitted = {}
        for job in jobs:
            ex = self.executor(folder, job.resources)
            self.submitted[job.id] = ex.submit(CellJob(job, job.resources.cpus, self.options.grace_s))
            report(job.id, "pending", None, job=str(self.submitted[job.id].job_id))
        states = {}
        while self.submitted:
            for cell_id, sub in list(self.submitted.items()):
                if sub.done():
                    del self.submitted[cell_id]
                    error = sub.exception()
                    report(cell_id, "failed" if error else "done", _one_line(error) if error else None)
                elif sub.state in ("RUNNING", "COMPLETING") and states.get(cell_id) != "running":
                    states[cell_id] = "running"
                    report(cell_id, "running", None)
            time.sleep(self.options.poll_s)


ACTIVE = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING", "REQUEUE_HOLD",
          "REQUEUE_FED", "UNKNOWN")
"""Slurm job states of a job that may still run the cell (UNKNOWN: not in sacct yet)."""
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
         "REVOKED", "SPECIAL_EXIT")
"""Slurm job states of a job that ended: whatever its run folder's lock says, it no longer writes there."""


def _one_line(error) -> str:
    """submitit wraps the job's exception and traceback: keep the cell's own error line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    mine = [line for line in lines if line.startswith("RuntimeError:")]
    return (mine[-1].removeprefix("RuntimeError:").strip() if mine else lines[-1]) if lines else type(error).__name__


@hookimpl
def register_launchers(register):
    register("slurm", SlurmLauncher)
