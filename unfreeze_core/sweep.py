"""A sweep: a grid file's cells, what is left to run, a launcher to run it, a live view.

Each cell is one seed's run directory at ``<output_dir>/<grid name>/<axis=value>/.../seed<N>``, exactly as
``unfreeze run`` writes it, so a re-run finds it: a cell with ``results.json`` for the same resolved
configuration is skipped, one with a checkpoint resumed, one holding another configuration refused.
``sweep.json`` in the sweep folder records the sweep's state (running, finished, failed, interrupted) and
every cell's state, start and end times, the id of its job and a failed cell's one-line error;
``table.md``, ``table.csv`` and ``table.tex`` hold the sweep's table (the ``unfreeze report`` shape), written by
``unfreeze sweep`` through ``unfreeze_report.tables.write_tables``.

The sweep folder stays below ``--output-dir`` (a grid name that leaves it is refused) and is driven by one
process at a time (its lock, ``rundir.Lock``). A driver started again finds the cells whose jobs are still
queued or running (their ids in ``sweep.json``) and waits for them instead of submitting them again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import read_yaml
from .errors import UnfreezeError
from .grid import Cell, Grid, cells, identity, load_grid
from .rundir import SWEEP, SWEEP_LOGS, RunDir, write_text_atomic

STATES = ("done", "running", "failed", "pending", "interrupted")


@dataclass
class Plan:
    grid: Grid
    folder: Path
    cells: list[Cell]
    start: dict[str, str] = field(default_factory=dict)
    """cell id -> skip (finished), resume (checkpoint), fresh, or conflict (another configuration)."""
    conflicts: dict[str, str] = field(default_factory=dict)


def _difference(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new), key=str)
    for key in keys:
        if old.get(key) != new.get(key):
            return f"{key}: {old.get(key)!r} there, {new.get(key)!r} in the grid"
    return "?"


def cell_start(cell: Cell) -> tuple[str, str | None]:
    """How the cell starts: skip, resume, fresh or conflict (with the differing setting)."""
    folder = RunDir(cell.run_dir)
    config_file = folder.config
    if not config_file.is_file():
        return "fresh", None
    try:
        old = identity(read_yaml(config_file))
    except UnfreezeError as exc:
        return "conflict", str(exc)
    new = identity(cell.settings)
    if old != new:
        return "conflict", (f"{cell.run_dir} holds a run of another configuration ({_difference(old, new)}); "
                            "move it away or rename the sweep")
    if folder.finished():
        return "skip", None
    if folder.resumable():
        return "resume", None
    return "fresh", None


def sweep_folder(output_dir: Path, name: str) -> Path:
    """``output_dir/name``, refused when the name leaves ``output_dir`` (absolute, ``..``, a link that points out)."""
    parts = Path(str(name)).parts
    if not parts or Path(str(name)).is_absolute() or any(p in ("..", ".") for p in parts):
        raise UnfreezeError(f"the grid's name {name!r} must be a folder name below --output-dir {output_dir} "
                            f"(no absolute path, no '..')")
    folder = output_dir / name
    if not folder.resolve().is_relative_to(output_dir.resolve()):
        raise UnfreezeError(f"the grid's name {name!r} leads out of --output-dir {output_dir} "
                            f"(to {folder.resolve()})")
    return folder


def plan(grid_path: str | Path, output_dir: str | Path = "runs", overrides: dict | None = None) -> Plan:
    grid = load_grid(grid_path)
    output_dir = Path(output_dir).absolute()  # workers of a cluster start elsewhere
    sweep_folder(output_dir, grid.name)
    found = cells(grid, output_dir, overrides)
    result = Plan(grid, Path(output_dir) / grid.name, found)
    for cell in found:
        start, why = cell_start(cell)
        result.start[cell.id] = start
        if why:
            result.conflicts[cell.id] = why
    return result


def describe(result: Plan) -> list[dict]:
    """Every cell with every resolved setting (``--dry-run``)."""
    return [{"cell": c.id, "run_dir": str(c.run_dir), "start": result.start[c.id], **c.point, "settings": c.settings}
            for c in result.cells]


class Tracker:
    """The sweep's and its cells' states, written to ``sweep.json`` on every change, shown live when a console
    is given."""

    def __init__(self, result: Plan, console=None):
        self.plan, self.console = result, console
        self.state = {c.id: ("done" if result.start[c.id] == "skip" else "pending") for c in result.cells}
        self.errors: dict[str, str] = dict(result.conflicts)
        self.times: dict[str, dict] = {}
        self.jobs: dict[str, str] = {}
        self.sweep_state, self.sweep_times = "running", {"start": time.time(), "end": None}
        for cell_id in result.conflicts:
            self.state[cell_id] = "failed"
        self.live = None

    def report(self, cell_id: str, state: str, error: str | None = None, job: str | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"unknown cell state {state!r}")
        self.state[cell_id] = state
        times = self.times.setdefault(cell_id, {"start": None, "end": None})
        if state == "running":
            times["start"], times["end"] = time.time(), None
        elif state in ("done", "failed", "interrupted"):
            times["end"] = time.time()
        if job is not None:
            self.jobs[cell_id] = job
        if error:
            self.errors[cell_id] = error
        self.save()
        if self.live:
            self.live.update(self.view())

    def end(self, state: str) -> None:
        """The sweep's final state: finished, failed or interrupted."""
        self.sweep_state, self.sweep_times["end"] = state, time.time()
        self.save()

    @property
    def started(self) -> dict[str, float]:
        return {c: t["start"] for c, t in self.times.items() if t.get("start")}

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for v in self.state.values() if v == s) for s in STATES}

    def save(self) -> None:
        self.plan.folder.mkdir(parents=True, exist_ok=True)
        record = {"grid": str(self.plan.grid.path), "state": self.sweep_state, **self.sweep_times,
                  "counts": self.counts(),
                  "cells": [{"cell": c.id, "state": self.state[c.id], "error": self.errors.get(c.id),
                             "run_dir": str(c.run_dir), "job": self.jobs.get(c.id),
                             **self.times.get(c.id, {"start": None, "end": None})} for c in self.plan.cells]}
        write_text_atomic(self.plan.folder / SWEEP, json.dumps(record, indent=1) + "\n")

    def view(self):
        from rich.console import Group
        from rich.table import Table

        counts = self.counts()
        head = (f"[bold]{self.plan.grid.name}[/]: [green]{counts['done']} done[/], [cyan]{counts['running']} running"
                f"[/], [red]{counts['failed']} failed[/], {counts['pending']} pending of {len(self.state)}")
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("cell")
        table.add_column("state")
        table.add_column("")
        style = {"done": "green", "running": "cyan", "failed": "red", "pending": "dim"}
        shown = [c for c in self.plan.cells if self.state[c.id] in ("running", "failed")][:20]
        for cell in shown:
            state = self.state[cell.id]
            note = self.errors.get(cell.id, "")
            if state == "running":
                note = f"{time.time() - (self.started.get(cell.id) or time.time()):.0f} s"
            table.add_row(cell.id, f"[{style[state]}]{state}[/]", note)
        return Group(head, table)

    def __enter__(self):
        self.save()
        if self.console is not None:
            from rich.live import Live

            self.live = Live(self.view(), console=self.console, refresh_per_second=2, transient=False)
            self.live.start()
        return self

    def __exit__(self, kind, *exc):
        if kind is not None and self.sweep_state == "running":
            self.end("failed")
        if self.live:
            self.live.update(self.view())
            self.live.stop()
            self.live = None


def make_launcher(name: str, options: dict):
    from .options import parse_options
    from .plugins import get_plugins

    cls = get_plugins().registries()["launchers"].get(name)
    return cls(parse_options(cls.Options, options, f"launcher {name!r}"))


def launcher_settings(grid: Grid, name: str | None, options: dict) -> tuple[str, dict]:
    """The launcher's name and options: the grid's ``launcher:`` block, then the command line."""
    block = dict(grid.launcher)
    chosen = name or block.pop("name", "local")
    if block.pop("name", chosen) != chosen:
        block = {}  # options written for another launcher do not apply
    return chosen, {**block, **options}


def previous_jobs(folder: Path) -> dict[str, str]:
    """Cell id -> job id of the cells an earlier driver left pending or running (``sweep.json``); a missing or
    unreadable file gives none."""
    try:
        record = json.loads((folder / SWEEP).read_text(encoding="utf-8"))
        return {c["cell"]: c["job"] for c in record["cells"]
                if c.get("state") in ("pending", "running", "interrupted") and isinstance(c.get("job"), str)}
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def run(result: Plan, launcher, console=None) -> Tracker:
    """Run every cell not finished (resuming those with a checkpoint), holding the sweep folder's lock;
    cells an earlier driver's jobs still run are waited for. Returns the final states. On SIGINT/SIGTERM the
    running cells checkpoint and stop, and sweep.json says so (``signals.Interrupted``)."""
    from . import signals
    from .launchers import Job

    launcher.check()  # a launcher that cannot run here refuses before anything is written
    result.folder.mkdir(parents=True, exist_ok=True)
    with RunDir(result.folder).lock("sweep folder"), signals.handled():
        earlier = previous_jobs(result.folder)
        jobs, waits, broken = [], [], {}
        for cell in result.cells:
            start = result.start[cell.id]
            if start in ("skip", "conflict"):
                continue
            job = Job(cell.id, cell.run_dir, result.grid.resources, result.folder / SWEEP_LOGS / f"{cell.id}.log",
                      resume=start == "resume", sweep_dir=result.folder, job_id=earlier.get(cell.id))
            try:
                active = launcher.active(job)  # its earlier job, or another process holding its run folder
            except UnfreezeError as exc:  # its lock is not a lock file (a FIFO, a link): one line, the cell failed
                broken[job.id] = str(exc)
                continue
            if active:
                waits.append(job)
                continue
            job.job_id = None
            jobs.append(job)
        with Tracker(result, console) as tracker:
            try:
                for cell_id, error in broken.items():
                    tracker.report(cell_id, "failed", error)
                for job in jobs:
                    if result.start[job.id] == "fresh":
                        _claim(job, result, tracker)
                jobs = [j for j in jobs if tracker.state[j.id] == "pending"]
                if waits:
                    launcher.wait(waits, tracker.report, say=_say(console))
                if jobs:
                    launcher.launch(jobs, tracker.report)
            except (signals.Stop, signals.Interrupted) as stop:
                code = signals.CODES[stop.signum] if isinstance(stop, signals.Stop) else stop.exit_code
                for cell_id, state in tracker.state.items():
                    if state == "running":
                        tracker.report(cell_id, "interrupted",
                                       str(stop) if isinstance(stop, signals.Interrupted) else None)
                tracker.end("interrupted")
                raise _interrupted(tracker, code, {j.id for j in waits}) from None
            for job in jobs + waits:  # a launcher that lost a job: not finished means failed
                if tracker.state[job.id] in ("pending", "running"):
                    tracker.report(job.id, "failed", tracker.errors.get(job.id) or "the launcher did not finish it")
            tracker.end("finished" if all(s == "done" for s in tracker.state.values()) else "failed")
    return tracker


def _say(console):
    """Where ``Launcher.wait`` says what it waits for: above the live view, else stderr."""
    if console is None:
        return None
    return lambda line: console.print(line, highlight=False, soft_wrap=True)


def _claim(job, result: Plan, tracker: Tracker) -> None:
    """Write a fresh cell's config.yaml under its lock; a cell another process writes is failed, not touched."""
    from .cell import write_config

    settings = next(c.settings for c in result.cells if c.id == job.id)
    try:
        write_config(job.run_dir, settings)
    except UnfreezeError as exc:
        tracker.report(job.id, "failed", str(exc))


def _interrupted(tracker: Tracker, code: int, waited: set = frozenset()):
    """The sweep's one line: the cells it ran that stopped (with a checkpoint or not), and those of an earlier
    driver it was waiting for (left as they are)."""
    from . import signals

    name = "SIGTERM" if code == 143 else "SIGINT"
    stopped = [c for c, s in tracker.state.items() if s == "interrupted" and c not in waited]
    left = [c for c, s in tracker.state.items() if s == "interrupted" and c in waited]
    folders = {c.id: RunDir(c.run_dir) for c in tracker.plan.cells}
    kept = sum(1 for c in stopped if folders[c].resumable())
    error = signals.Interrupted(
        f"interrupted by {name}: {len(stopped)} running cell(s) stopped, {kept} with a checkpoint to resume from, "
        + (f"{len(left)} of an earlier driver no longer waited for, " if left else "") +
        f"{tracker.counts()['done']} of {len(tracker.state)} done; run the same `unfreeze sweep` again to resume "
        f"(states in {tracker.plan.folder / SWEEP})")
    error.exit_code = code
    return error


def summary_error(tracker: Tracker) -> str | None:
    """None when every cell finished, else one line naming the failed cells."""
    failed = [c for c, s in tracker.state.items() if s != "done"]
    if not failed:
        return None
    first = failed[0]
    return (f"{len(failed)} of {len(tracker.state)} cells did not finish (first: {first}: "
            f"{tracker.errors.get(first, tracker.state[first])}); see {tracker.plan.folder / SWEEP}")
