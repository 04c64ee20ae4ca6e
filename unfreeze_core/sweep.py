"""A sweep: a grid file's cells, what is left to run, a launcher to run it, a live view.

Each cell is one seed's run directory at ``<output_dir>/<grid name>/<axis=value>/.../seed<N>``, exactly as
``unfreeze run`` writes it, so a re-run finds it: a cell with ``results.json`` for the same resolved
configuration is skipped, one with a checkpoint resumed, one holding another configuration refused.
``sweep.json`` in the sweep folder records every cell's state and a failed cell's one-line error;
``table.md``, ``table.csv`` and ``table.tex`` hold the sweep's table (the ``unfreeze report`` shape), written by
``unfreeze sweep`` through ``unfreeze_report.tables.write_tables``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import FILE as CHECKPOINT
from .config import read_yaml
from .errors import UnfreezeError
from .grid import Cell, Grid, cells, identity, load_grid

STATES = ("done", "running", "failed", "pending")


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
    config_file = cell.run_dir / "config.yaml"
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
    if (cell.run_dir / "results.json").is_file():
        return "skip", None
    if (cell.run_dir / CHECKPOINT).is_file():
        return "resume", None
    return "fresh", None


def plan(grid_path: str | Path, output_dir: str | Path = "runs", overrides: dict | None = None) -> Plan:
    grid = load_grid(grid_path)
    output_dir = Path(output_dir).absolute()  # workers of a cluster start elsewhere
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
    """Cell states, written to ``sweep.json`` on every change, shown live when a console is given."""

    def __init__(self, result: Plan, console=None):
        self.plan, self.console = result, console
        self.state = {c.id: ("done" if result.start[c.id] == "skip" else "pending") for c in result.cells}
        self.errors: dict[str, str] = dict(result.conflicts)
        self.started: dict[str, float] = {}
        for cell_id in result.conflicts:
            self.state[cell_id] = "failed"
        self.live = None

    def report(self, cell_id: str, state: str, error: str | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"unknown cell state {state!r}")
        self.state[cell_id] = state
        if state == "running":
            self.started[cell_id] = time.time()
        if error:
            self.errors[cell_id] = error
        self.save()
        if self.live:
            self.live.update(self.view())

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for v in self.state.values() if v == s) for s in STATES}

    def save(self) -> None:
        self.plan.folder.mkdir(parents=True, exist_ok=True)
        record = {"grid": str(self.plan.grid.path), "counts": self.counts(),
                  "cells": [{"cell": c.id, "state": self.state[c.id], "error": self.errors.get(c.id),
                             "run_dir": str(c.run_dir)} for c in self.plan.cells]}
        tmp = self.plan.folder / "sweep.json.tmp"
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(self.plan.folder / "sweep.json")

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
                note = f"{time.time() - self.started.get(cell.id, time.time()):.0f} s"
            table.add_row(cell.id, f"[{style[state]}]{state}[/]", note)
        return Group(head, table)

    def __enter__(self):
        self.save()
        if self.console is not None:
            from rich.live import Live

            self.live = Live(self.view(), console=self.console, refresh_per_second=2, transient=False)
            self.live.start()
        return self

    def __exit__(self, *exc):
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


def run(result: Plan, launcher, console=None) -> Tracker:
    """Run every cell not finished (resuming those with a checkpoint); returns the final states."""
    from .cell import write_config
    from .launchers import Job

    jobs = []
    for cell in result.cells:
        start = result.start[cell.id]
        if start in ("skip", "conflict"):
            continue
        if start == "fresh":
            write_config(cell.run_dir, cell.settings)
        jobs.append(Job(cell.id, cell.run_dir, result.grid.resources, result.folder / "logs" / f"{cell.id}.log",
                        resume=start == "resume", sweep_dir=result.folder))
    with Tracker(result, console) as tracker:
        if jobs:
            launcher.launch(jobs, tracker.report)
        for job in jobs:  # a launcher that lost a job: not finished means failed
            if tracker.state[job.id] in ("pending", "running"):
                tracker.report(job.id, "failed", tracker.errors.get(job.id) or "the launcher did not finish it")
    return tracker


def summary_error(tracker: Tracker) -> str | None:
    """None when every cell finished, else one line naming the failed cells."""
    failed = [c for c, s in tracker.state.items() if s != "done"]
    if not failed:
        return None
    first = failed[0]
    return (f"{len(failed)} of {len(tracker.state)} cells did not finish (first: {first}: "
            f"{tracker.errors.get(first, tracker.state[first])}); see {tracker.plan.folder / 'sweep.json'}")
