"""Ray launcher: each sweep cell is a Ray task that declares the cell's ``num_cpus`` and ``num_gpus``.

``ray.init()`` starts a local cluster; ``-l address=HOST:PORT`` (``unfreeze sweep --address``) joins one
started with ``ray start``, so the same sweep scales from a laptop to a cluster. If Ray is already
initialised in this process (a notebook, a test), that cluster is used and left running.

A Ray task dies with the driver that owns it; a restarted driver waits for a cell whose run folder is
still locked by a live process on this host (a worker that is still stopping), then resumes it.
A cell with ``processes > 1`` runs its processes through ``torchrun`` inside its task.
"""

from __future__ import annotations

from dataclasses import dataclass

from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.launchers import Launcher

__version__ = "0.1.0"


def run_job(job, threads: int) -> str | None:
    """Inside a Ray worker: the cell in this worker (one process) or through torchrun; None or an error line."""
    import subprocess

    from unfreeze_core.launchers import last_error, run_in_process

    if job.resources.processes == 1:  # run_cell sets torch's threads from ``threads``
        return run_in_process(job, threads=threads)
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "a") as out:
        code = subprocess.call(job.command(threads), stdout=out, stderr=subprocess.STDOUT)
    return None if code == 0 else last_error(job.log, code)


class RayLauncher(Launcher):
    @dataclass
    class Options:
        address: str | None = None
        """A running cluster (``ray start --head`` prints it); default: start a local one."""
        num_cpus: int | None = None
        """CPUs of a local cluster started here (default: all)."""
        num_gpus: int | None = None
        """GPUs of a local cluster started here (default: all)."""
        poll_s: float = 1.0

        def __post_init__(self):
            from unfreeze_core.limits import MAX_PROCESSES, MAX_SECONDS

            if not 0 < self.poll_s <= MAX_SECONDS:
                raise ValueError(f"poll_s must be in (0, {MAX_SECONDS:g}] seconds, got {self.poll_s}")
            for name in ("num_cpus", "num_gpus"):
                value = getattr(self, name)
                if value is not None and not 0 <= value <= MAX_PROCESSES:
                    raise ValueError(f"{name} is {value}, outside 0..{MAX_PROCESSES}")

    def launch(self, jobs, report):
        import ray

        started = not ray.is_initialized()
        if started:
            ray.init(address=self.options.address, num_cpus=self.options.num_cpus, num_gpus=self.options.num_gpus,
                     include_dashboard=False, log_to_driver=False)
        try:
            self._run(ray, jobs, report)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray, jobs, report):
        remote = ray.remote(run_job)
        capacity = ray.cluster_resources()
        pending, running = list(jobs), {}
        while pending or running:
            while pending and self._fits(pending[0], capacity, running.values()):
                job = pending.pop(0)
                ref = remote.options(num_cpus=job.resources.cpus, num_gpus=job.resources.gpus,
                                     max_retries=0).remote(job, job.resources.cpus)
                running[ref] = job
                report(job.id, "running", None, job=ref.hex())
            if not running:  # a cell that fits nowhere
                job = pending.pop(0)
                report(job.id, "failed", f"the cell asks for {job.resources.cpus} CPUs and {job.resources.gpus} GPUs; "
                                         f"the cluster has {capacity.get('CPU', 0):g} and {capacity.get('GPU', 0):g}")
                continue
            done, _ = ray.wait(list(running), num_returns=1, timeout=self.options.poll_s)
            for ref in done:
                job = running.pop(ref)
                try:
                    error = ray.get(ref)
                except Exception as exc:  # the worker died, or the task raised
                    error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                report(job.id, "failed" if error else "done", error)

    @staticmethod
    def _fits(job, capacity, running) -> bool:
        """Submit only what the cluster can start now, so 'running' in the live view means running."""
        used_cpus = sum(j.resources.cpus for j in running)
        used_gpus = sum(j.resources.gpus for j in running)
        return (used_cpus + job.resources.cpus <= capacity.get("CPU", 0)
                and used_gpus + job.resources.gpus <= capacity.get("GPU", 0))


@hookimpl
def register_launchers(register):
    register("ray", RayLauncher)
